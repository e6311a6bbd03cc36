"""Run untrusted (model-written) Python in a real sandbox.

`run_python` is the one entry point. On Linux it isolates with unprivileged
namespaces (user, mount, pid, network, IPC, UTS, cgroup), chosen by measurement
over bubblewrap (not installed without root), seccomp (no process or file
isolation on its own) and a WebAssembly Python (no runtime on the machine, and no
native packages); see the README's "The code sandbox". The program sees a
read-only system and Python, a private size-capped ``/tmp`` that vanishes with it,
no network, no host process and nothing of the agent's environment or kernel
keyrings (a new session keyring, and the key syscalls denied); wall time,
CPU, memory, processes, open files and output are capped, and the whole sandbox
dies on timeout or with the agent. Where the namespaces cannot be built it raises
`SandboxUnavailable` and runs nothing, unless the caller asked for ``unsafe=True``
(limits only, no isolation).
"""

from __future__ import annotations

from dispatch.sandbox._supervise import run_sandboxed
from dispatch.sandbox.limits import SandboxLimits, SandboxResult, SandboxUnavailable

__all__ = ("SandboxLimits", "SandboxResult", "SandboxUnavailable", "run_python")


def run_python(
    code: str, limits: SandboxLimits | None = None, *, unsafe: bool = False
) -> SandboxResult:
    """Run `code` with ``python -I`` in the sandbox and report how it ended.

    Args:
        code: The program's source.
        limits: Its bounds; the `SandboxLimits` defaults when None.
        unsafe: Skip the isolation and keep only the limits. For machines without
            user namespaces, on the user's explicit say-so: the code can then read
            and write the user's files and kernel keyrings, use the network and see
            other processes.

    Raises:
        SandboxUnavailable: the isolation could not be built; nothing was run.
    """
    return run_sandboxed(
        code, limits or SandboxLimits(), mode="unsafe" if unsafe else "isolated"
    )
