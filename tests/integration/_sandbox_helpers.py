"""Shared by the sandbox tests: skip where no sandbox can be built, count survivors."""

from __future__ import annotations

import os
import time
import uuid
from functools import cache

import pytest

from dispatch.sandbox import (
    SandboxLimits,
    SandboxResult,
    SandboxUnavailable,
    run_python,
)


@cache
def _unavailable_reason() -> str | None:
    try:
        run_python("pass")
    except SandboxUnavailable as exc:
        return str(exc)
    return None


def sandboxed(code: str, **limits: float) -> SandboxResult:
    """Run `code` in the sandbox, skipping the test where none can be built."""
    reason = _unavailable_reason()
    if reason is not None:
        pytest.skip(f"no sandbox on this machine: {reason}")
    return run_python(code, SandboxLimits(**limits))  # type: ignore[arg-type]


def marker() -> str:
    """A unique string to put in a program's source, so its processes can be found
    from the host (the code is on every sandbox process's command line)."""
    return f"attack_{uuid.uuid4().hex}"


def processes_with(text: str) -> list[int]:
    """Host pids whose command line contains `text` (the test process excluded)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(int(entry))
        except OSError:
            continue  # exited while we looked
    return found


def wait_until(predicate: object, timeout: float) -> bool:
    """Poll `predicate` (a callable) until it is true or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return bool(predicate())  # type: ignore[operator]
