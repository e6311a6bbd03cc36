"""The checkpoint store on disk: private modes, and one run per thread at a time."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dispatch.cli.store import ThreadBusy, lock_path, prepare_store, thread_lock


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_store_is_private_to_its_owner(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask would leave both world-readable
    try:
        store = tmp_path / "state" / "graph-dispatch" / "checkpoints.sqlite"
        prepare_store(store)
    finally:
        os.umask(old)
    assert mode(store) == 0o600
    assert mode(store.parent) == 0o700


def test_an_existing_store_keeps_its_mode_and_content(tmp_path: Path) -> None:
    store = tmp_path / "checkpoints.sqlite"
    store.write_bytes(b"kept")
    store.chmod(0o640)
    prepare_store(store)
    assert (mode(store), store.read_bytes()) == (0o640, b"kept")


def test_a_second_run_on_the_same_thread_is_refused_naming_thread_and_holder(
    tmp_path: Path,
) -> None:
    store = tmp_path / "checkpoints.sqlite"
    with thread_lock(store, "conv-1") as held:
        assert mode(held) == 0o600
        with pytest.raises(ThreadBusy) as busy, thread_lock(store, "conv-1"):
            pass
        assert busy.value.thread == "conv-1"
        assert busy.value.holder == os.getpid()
        assert "'conv-1'" in str(busy.value) and str(os.getpid()) in str(busy.value)
        with thread_lock(store, "conv-2"):  # other threads run meanwhile
            pass
    with thread_lock(store, "conv-1"):  # released on exit
        pass
    assert not held.exists()


def test_the_lock_is_released_when_the_run_raises(tmp_path: Path) -> None:
    store = tmp_path / "checkpoints.sqlite"
    with pytest.raises(RuntimeError), thread_lock(store, "t"):
        raise RuntimeError("crash")
    with thread_lock(store, "t"):
        pass


def test_any_thread_id_makes_a_lock_file_beside_the_store(tmp_path: Path) -> None:
    store = tmp_path / "cp.sqlite"
    odd = lock_path(store, "../../etc/passwd \u00e9")
    assert odd.parent == tmp_path and odd.name.startswith("cp.sqlite.")
    assert lock_path(store, "a") != lock_path(store, "b")
