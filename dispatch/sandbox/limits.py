"""The sandbox's bounds, its result, and the refusal when it cannot be built."""

from __future__ import annotations

import math
from dataclasses import dataclass

from dispatch.errors import DispatchError

__all__ = ("SandboxLimits", "SandboxResult", "SandboxUnavailable")


class SandboxUnavailable(DispatchError):
    """No isolation mechanism works here, so the code was not run at all.

    Raised instead of falling back to an unsandboxed run: model-written code must
    never silently get the agent's files, keys and network. The message says what
    failed (e.g. ``unshare(...) failed (EPERM ...)``).
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxLimits:
    """How much one run may use. Every bound is enforced, none is advisory."""

    timeout_s: float = 5.0
    """Wall time of the whole call, start-up included; then every process is killed."""
    memory_bytes: int = 512 << 20
    """Address space per process (``RLIMIT_AS``): a bigger allocation fails."""
    output_bytes: int = 1 << 20
    """Bytes of stdout plus stderr read from the program; past that it is stopped,
    so the agent never buffers more than this."""
    processes: int = 16
    """Processes and threads of the sandbox (``RLIMIT_NPROC``, counted inside its
    own user namespace), its init and supervisor included. Memory is capped per
    process, so the sandbox's total is at most ``processes * memory_bytes``."""
    open_files: int = 256
    """Open file descriptors per process (``RLIMIT_NOFILE``)."""
    file_bytes: int = 16 << 20
    """Largest file the program may write (``RLIMIT_FSIZE``)."""
    tmp_bytes: int = 64 << 20
    """Size of the private ``/tmp`` (a tmpfs that disappears with the sandbox)."""

    def __post_init__(self) -> None:
        """Refuse bounds that are not enforceable limits.

        Raises:
            ValueError: a timeout outside (0, 3600] s, a non-positive or
                non-integer bound (`bool` included), or fewer than 4
                processes (the stages and the interpreter need them to start).
        """
        if not (math.isfinite(self.timeout_s) and 0 < self.timeout_s <= 3600):
            raise ValueError(
                f"SandboxLimits.timeout_s: expected 0 < seconds <= 3600, got {self.timeout_s!r}"
            )
        for name in (
            "memory_bytes",
            "output_bytes",
            "processes",
            "open_files",
            "file_bytes",
            "tmp_bytes",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"SandboxLimits.{name}: expected a positive integer, got {value!r}"
                )
        if self.processes < 4:
            raise ValueError(
                f"SandboxLimits.processes: at least 4 are needed to start, got {self.processes}"
            )

    @property
    def cpu_seconds(self) -> int:
        """CPU time per process (``RLIMIT_CPU``): the wall time, rounded up."""
        return max(1, math.ceil(self.timeout_s))


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxResult:
    """How a run ended and what it printed (both streams capped)."""

    stdout: str
    """What the program wrote to stdout (at most `SandboxLimits.output_bytes`)."""
    stderr: str
    """What it wrote to stderr (same cap, shared with stdout)."""
    exit_code: int | None
    """Its exit status, or None when it was ended by a signal."""
    signal: int | None
    """The signal that ended it (SIGKILL after a timeout, SIGXCPU for CPU), or None."""
    timed_out: bool
    """The wall-time limit was reached and everything was killed."""
    output_truncated: bool
    """It wrote more than the output cap and was stopped there."""
    isolated: bool
    """False only for an explicitly requested unsafe run (limits, no isolation)."""
    seconds: float
    """Wall time of the call, teardown included."""
