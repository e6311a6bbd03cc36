"""`overlap`: the prompt-only work of a decision runs beside the encoder call."""

from __future__ import annotations

import threading

import pytest

from dispatch.routing.overlap import overlap


def test_side_work_runs_while_the_main_call_is_still_running() -> None:
    started = threading.Event()

    def main() -> bool:
        # only true if `side` runs at the same time, on another thread
        return started.wait(timeout=5)

    def side() -> str:
        started.set()
        return threading.current_thread().name

    done, side_thread = overlap(main, side)
    assert done is True
    assert side_thread != threading.current_thread().name


def test_results_come_back_in_order() -> None:
    assert overlap(lambda: "encoded", lambda: 42) == ("encoded", 42)


def test_an_error_in_the_main_call_is_raised_after_the_side_work_ends() -> None:
    finished = threading.Event()

    def main() -> None:
        raise RuntimeError("encoder down")

    with pytest.raises(RuntimeError, match="encoder down"):
        overlap(main, finished.set)
    assert finished.is_set()
    assert overlap(lambda: 1, lambda: 2) == (1, 2)  # the side thread is free again


def test_an_error_in_the_side_work_is_raised() -> None:
    def side() -> None:
        raise ValueError("bad n-gram")

    with pytest.raises(ValueError, match="bad n-gram"):
        overlap(lambda: 1, side)
    assert overlap(lambda: 1, lambda: 2) == (1, 2)


def test_a_busy_side_thread_means_the_side_work_runs_inline() -> None:
    """Two decisions at once (graph branches): the second does not queue
    behind the first's side work, it does its own on its own thread."""
    caller = threading.current_thread().name

    def main() -> str:
        _, inner_side = overlap(lambda: None, lambda: threading.current_thread().name)
        return inner_side

    inner_side, _ = overlap(main, lambda: None)
    assert inner_side == caller


def test_after_the_worker_is_shut_down_the_side_work_runs_inline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At interpreter exit the executor refuses new work; a last decision
    still gets its features, computed on the calling thread."""
    from dispatch.routing import overlap as module

    side = module._SideThread()
    monkeypatch.setattr(module, "_SIDE", side)
    assert overlap(lambda: 1, lambda: 2) == (1, 2)  # starts the worker
    assert side._pool is not None
    side._pool.shutdown()
    caller = threading.current_thread().name
    assert overlap(lambda: 1, lambda: threading.current_thread().name) == (1, caller)
    assert overlap(lambda: 1, lambda: 2) == (1, 2)  # and the next one too
