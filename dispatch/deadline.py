"""A blocking call bounded by a deadline, for the synchronous hop driver.

The async driver bounds a model call with `asyncio.wait_for`, which cancels it.
A blocking call cannot be cancelled, so `call_with_deadline` runs it on a
worker thread and stops *waiting* at the deadline: the caller gets a
`TimeoutError` and carries on (retry, failover), while the abandoned call runs
to its end on its own thread. What it returns or raises then lands in a `_Job`
nobody reads any more; it never reaches the hop's flow, ledger or records,
which only the caller's thread touches.

The workers are daemon threads, reused while idle. A thread still busy with
an abandoned call is simply not idle, so later calls get another one and a
hung provider never holds up the next call. Being daemons, they never hold up
the interpreter's exit either (a `ThreadPoolExecutor` joins its threads at
exit, so one hung call would hang the process). The hand-off is a lock per
call rather than a `concurrent.futures.Future`: every sync hop pays it, and it
measured 25 µs a call against 100 µs with `Future` and `wait` (median of
3,000 no-op calls, 2 shared cores). A whole sync `Dispatcher.call` on a fake
model measured 0.20-0.26 ms slower than calling inline (the two thread
wake-ups): nothing beside a provider's round trip. The async path pays none.

The call runs in a copy of the caller's `contextvars` context: the chat span
made current around it (provider spans nest in it) and LangChain's run config
are seen on the worker, and nothing the call sets leaks back.
"""

from __future__ import annotations

import contextvars
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ("call_with_deadline",)

T = TypeVar("T")


class _Job(Generic[T]):
    """One call, the caller's context to run it in, and its outcome; `done` is
    held until the outcome is set."""

    __slots__ = ("context", "done", "error", "fn", "value")

    def __init__(self, fn: Callable[[], T]) -> None:
        self.fn = fn
        self.context = contextvars.copy_context()
        self.done = threading.Lock()
        self.done.acquire()
        self.value: T | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.value = self.context.run(self.fn)
        except BaseException as exc:  # the caller's to judge, even late
            self.error = exc
        finally:
            self.done.release()


class _Workers:
    """Daemon threads that run jobs; an idle one waits for its next job for
    `idle_s`, and at most `max_idle` wait at once (the rest end)."""

    def __init__(self, *, max_idle: int = 8, idle_s: float = 60.0) -> None:
        self.max_idle = max_idle
        self.idle_s = idle_s
        self._reset()

    def _reset(self) -> None:
        """No workers: at start, and in a forked child (whose copy of the list
        names threads that do not exist there)."""
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue[_Job[Any]]] = []

    def submit(self, job: _Job[Any]) -> None:
        """Hand `job` to an idle worker, or to a new one."""
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
        if inbox is None:
            inbox = queue.SimpleQueue()
            threading.Thread(
                target=self._serve, args=(inbox,), name="dispatch-call", daemon=True
            ).start()
        inbox.put(job)

    def _serve(self, inbox: queue.SimpleQueue[_Job[Any]]) -> None:
        while True:
            try:
                job = inbox.get(timeout=self.idle_s)
            except queue.Empty:
                with self._lock:
                    if any(q is inbox for q in self._idle):  # still idle: retire
                        self._idle.remove(inbox)
                        return
                continue  # handed a job just now: it is on its way
            job.run()
            del job  # hold no reply while idle
            with self._lock:
                if len(self._idle) >= self.max_idle:
                    return
                self._idle.append(inbox)


_WORKERS = _Workers()
os.register_at_fork(after_in_child=_WORKERS._reset)


def call_with_deadline(fn: Callable[[], T], timeout_s: float | None) -> T:
    """`fn()`, or `TimeoutError` once `timeout_s` seconds have passed.

    Args:
        fn: The blocking call (a provider request).
        timeout_s: The deadline; None runs `fn` on the caller's thread, unbounded.

    Raises:
        TimeoutError: `fn` had not returned by the deadline. It is abandoned,
            not stopped: it runs on, and what it returns is dropped.
        BaseException: whatever `fn` raised before the deadline.
    """
    if timeout_s is None:
        return fn()
    job = _Job(fn)
    try:
        _WORKERS.submit(job)
    except RuntimeError:  # no thread to be had (interpreter shutting down)
        job.run()
    wait_s = min(timeout_s, threading.TIMEOUT_MAX) if timeout_s > 0 else 0.0
    if not job.done.acquire(timeout=wait_s):  # Ctrl-C still interrupts it
        raise TimeoutError(f"no reply within timeout_s={timeout_s:g}")
    if job.error is not None:
        error, job.error = job.error, None  # no cycle through the traceback
        raise error
    return job.value  # type: ignore[return-value]  # set: no error was raised
