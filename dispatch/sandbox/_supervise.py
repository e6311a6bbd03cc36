"""The sandbox's parent side: start it, read its output within bounds, end it cleanly.

The agent process never runs untrusted code itself and never forks Python code: it
starts `_boot.py` as a fresh interpreter (no ``preexec_fn``, safe in a threaded
agent), in its own session, with an empty environment, and reads three pipes:
stdout, stderr and a status pipe on which the child side reports setup failures,
the host pid of the sandbox's init, and how the program ended. Reading stops at the
output cap or the deadline; then the sandbox's init is killed, which makes the
kernel kill every process in its pid namespace, and the call returns only after the
child side has confirmed the namespace is empty (or, failing that, after killing the
whole process group).
"""

from __future__ import annotations

import marshal
import os
import select
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dispatch.sandbox._layout import python_layout
from dispatch.sandbox.limits import SandboxLimits, SandboxResult, SandboxUnavailable

__all__ = ("run_sandboxed",)

BOOT = Path(__file__).with_name("_boot.py")
"""The child side, run as a script (not imported) in a fresh interpreter."""
HOST_ID_WHEN_ROOT = 2_147_000_000
"""The host uid/gid the sandbox runs as when the agent is root: an id no account
owns, so the code owns no host file and the kernel enforces `RLIMIT_NPROC`."""
_GRACE_S = 5.0
"""How long the teardown may take after the kill before the group is killed."""
_CHUNK = 65_536
_PROGRAM_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp/work",
    "TMPDIR": "/tmp/work",
    "LANG": "C.UTF-8",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
"""The program's whole environment: nothing of the agent's (no API keys)."""


@dataclass
class _Reading:
    """What has come out of the sandbox so far (mutable, local to one call)."""

    out: bytearray = field(default_factory=bytearray)
    """The program's stdout; with `err`, at most `SandboxLimits.output_bytes`."""
    err: bytearray = field(default_factory=bytearray)
    """The program's stderr (and the child side's own tracebacks)."""
    status: bytearray = field(default_factory=bytearray)
    """Status pipe lines (``error ...``, ``pid N``, ``exit N``, ``signal N``,
    ``unsafe``); capped at 4 KiB so a broken child cannot flood memory."""
    truncated: bool = False
    """The output cap was hit; reading stopped and the sandbox was killed."""
    timed_out: bool = False
    """The wall-clock deadline passed; reading stopped and the sandbox was killed."""

    def lines(self) -> list[tuple[str, str]]:
        """The status pipe as ``(kind, rest)`` pairs, in the order written."""
        parsed = []
        for line in self.status.decode(errors="replace").splitlines():
            kind, _, rest = line.partition(" ")
            parsed.append((kind, rest))
        return parsed

    def value(self, kind: str) -> str | None:
        """The last status line of `kind` (e.g. the final ``exit``); None if none."""
        found = [rest for k, rest in self.lines() if k == kind]
        return found[-1] if found else None


def run_sandboxed(
    code: str, limits: SandboxLimits, *, mode: Literal["isolated", "unsafe"]
) -> SandboxResult:
    """Run `code` with ``python -I`` under `limits`; see `dispatch.sandbox`.

    The temporary directory is the unsafe mode's working directory and every
    child's cwd; it is removed, with whatever the program left there, only
    after `_end` has killed and reaped the whole process group. In isolated
    mode the exit code and signal come from the status pipe (stage 2 saw the
    program end), not from `Popen`, whose child is stage 1.

    Raises:
        SandboxUnavailable: the child side reported a setup failure (the
            message says which step and, for ``unshare``, why); the program
            did not run.
    """
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dispatch-py-") as workdir:
        status_r, status_w = os.pipe()
        cfg = _config(limits, mode=mode, status_fd=status_w, workdir=workdir)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", str(BOOT), marshal.dumps(cfg).hex(), code],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(status_w,),
                start_new_session=True,
                env={},
                cwd=workdir,
            )
        finally:
            os.close(status_w)
        try:
            reading = _read(proc, status_r, limits)
        finally:
            returncode = _end(proc, status_r)
    if mode == "unsafe":  # no stage 2 to report: the program was our own child
        reading.status += _status_of(returncode).encode()
    error = reading.value("error")
    if error is not None:
        raise SandboxUnavailable(error)
    exit_code, sig = reading.value("exit"), reading.value("signal")
    return SandboxResult(
        stdout=reading.out.decode(errors="replace"),
        stderr=reading.err.decode(errors="replace"),
        exit_code=int(exit_code) if exit_code is not None else None,
        signal=int(sig) if sig is not None else None,
        timed_out=reading.timed_out,
        output_truncated=reading.truncated,
        isolated=mode == "isolated",
        seconds=time.monotonic() - start,
    )


def _config(
    limits: SandboxLimits, *, mode: str, status_fd: int, workdir: str
) -> dict[str, object]:
    """The child side's configuration: plain values only, for `marshal`.

    `_boot.py` may import nothing but the standard library's fastest modules,
    so the configuration travels as marshalled builtins in argv, not JSON.
    """
    root = os.geteuid() == 0
    return {
        "mode": mode,
        "status_fd": status_fd,
        "supervisor_pid": os.getpid(),
        "privileged": root,
        "host_uid": HOST_ID_WHEN_ROOT if root else os.geteuid(),
        "host_gid": HOST_ID_WHEN_ROOT if root else os.getegid(),
        "python": sys.executable,
        "layout": python_layout() if mode == "isolated" else [],
        "workdir": workdir,
        "env": _PROGRAM_ENV
        if mode == "isolated"
        else {**_PROGRAM_ENV, "HOME": workdir, "TMPDIR": workdir},
        "limits": {
            "cpu_seconds": limits.cpu_seconds,
            "memory_bytes": limits.memory_bytes,
            "file_bytes": limits.file_bytes,
            "processes": limits.processes,
            "open_files": limits.open_files,
            "tmp_bytes": limits.tmp_bytes,
        },
    }


def _read(
    proc: subprocess.Popen[bytes], status_fd: int, limits: SandboxLimits
) -> _Reading:
    """Read stdout/stderr/status until all close, the deadline, or the output cap."""
    assert proc.stdout is not None and proc.stderr is not None
    reading = _Reading()
    sinks = {
        proc.stdout.fileno(): reading.out,
        proc.stderr.fileno(): reading.err,
        status_fd: reading.status,
    }
    deadline = time.monotonic() + limits.timeout_s
    with selectors.DefaultSelector() as selector:
        for fd in sinks:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                reading.timed_out = True
                break
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, _CHUNK)
                if not chunk:
                    selector.unregister(key.fd)
                elif key.fd == status_fd:
                    reading.status += chunk[: 4096 - len(reading.status)]
                else:
                    room = limits.output_bytes - len(reading.out) - len(reading.err)
                    sinks[key.fd] += chunk[:room]
                    reading.truncated = len(chunk) > room
            if reading.truncated:
                break
    if reading.timed_out or reading.truncated:
        _kill_init(reading, status_fd)
    return reading


def _kill_init(reading: _Reading, status_fd: int) -> None:
    """Kill the sandbox's init (its pid namespace dies with it) and wait for the
    child side to confirm, so no process of the program is left when we return."""
    pid = reading.value("pid")
    if pid is None:
        return  # not started yet: the group kill ends the stages, the rest follows
    try:
        os.kill(int(pid), signal.SIGKILL)  # still unreaped: stage 2 waits for it
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + _GRACE_S
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([status_fd], [], [], left)
        if not ready:
            break
        chunk = os.read(status_fd, _CHUNK)
        if not chunk:
            break
        reading.status += chunk[: 4096 - len(reading.status)]


def _status_of(returncode: int) -> str:
    """A `Popen` return code as the status line stage 2 would have written."""
    return f"signal {-returncode}\n" if returncode < 0 else f"exit {returncode}\n"


def _end(proc: subprocess.Popen[bytes], status_fd: int) -> int:
    """Kill whatever is left of the process group, reap, close the pipes."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # proc is unreaped: its pgid is ours
    except ProcessLookupError:
        pass
    returncode = proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    os.close(status_fd)
    return returncode
