"""The coding specialist and its tool: run Python in the sandbox (`dispatch.sandbox`)."""

from __future__ import annotations

import os
import signal

from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, Field

from dispatch import Specialist
from dispatch.agents._tools import safe_tool
from dispatch.sandbox import (
    SandboxLimits,
    SandboxResult,
    SandboxUnavailable,
)
from dispatch.sandbox import (
    run_python as run_in_sandbox,
)

__all__ = ("UNSAFE_ENV", "coding_specialist", "execute_python", "run_python")

MAX_CODE_CHARS = 20_000
MAX_OUTPUT_CHARS = 4_000
"""Characters of stdout, and of stderr, shown to the model (the tail: tracebacks end there)."""
UNSAFE_ENV = "DISPATCH_UNSAFE_SANDBOX"
"""Set to ``1`` to run model code with limits but WITHOUT isolation where no sandbox
can be built. The code can then read your files and keys and use the network."""
_HINTS = {
    signal.SIGXCPU: "the CPU time limit was reached",
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault (possibly the memory limit)",
}


class _PythonArgs(BaseModel):
    code: str = Field(
        description="A complete Python program; print what you need to see."
    )


def execute_python(
    code: str,
    *,
    timeout: float = 5.0,
    memory_mb: int = 512,
    unsafe: bool | None = None,
) -> str:
    """Run `code` in the sandbox: no network, no host files or processes, a private
    ``/tmp``, and `timeout` seconds / `memory_mb` MB / capped processes and output.

    Returns stdout, and stderr and the exit status when the program fails.

    Args:
        code: The program.
        timeout: Wall-time limit in seconds.
        memory_mb: Address-space limit per process.
        unsafe: Run without isolation (limits only) if True; None reads
            ``DISPATCH_UNSAFE_SANDBOX=1`` from the environment. Only for machines
            where no sandbox can be built, on the user's explicit say-so.

    Raises:
        ToolException: empty or oversized code, the time limit was hit, or no
            sandbox can be built here (the code is then not run at all).
    """
    if not code.strip():
        raise ToolException("run_python: `code` is empty; pass a Python program")
    if len(code) > MAX_CODE_CHARS:
        raise ToolException(
            f"run_python: code is {len(code)} characters, the limit is {MAX_CODE_CHARS}"
        )
    if "\x00" in code:
        raise ToolException("run_python: code contains a NUL character")
    if unsafe is None:
        unsafe = os.environ.get(UNSAFE_ENV) == "1"
    limits = SandboxLimits(timeout_s=timeout, memory_bytes=memory_mb << 20)
    try:
        result = run_in_sandbox(code, limits, unsafe=unsafe)
    except SandboxUnavailable as exc:
        raise ToolException(
            f"run_python: refusing to run the code: no sandbox can be built on this "
            f"machine ({exc}). Set {UNSAFE_ENV}=1 to run it with resource limits "
            "only (unsafe: it could read your files and API keys and use the network)."
        ) from None
    if result.timed_out:
        raise ToolException(f"run_python: timed out after {timeout:g} s")
    return _describe(result)


def _describe(result: SandboxResult) -> str:
    out = result.stdout[-MAX_OUTPUT_CHARS:]
    note = ""
    if result.output_truncated:
        note = "\n[output over the limit: the program was stopped; print less]"
    if result.exit_code == 0 and not result.output_truncated:
        return out or "(no output)"
    if result.signal is not None:
        name = signal.Signals(result.signal).name
        hint = _HINTS.get(signal.Signals(result.signal), "")
        status = f"killed by {name}" + (
            f" ({hint})" if hint and hint != "killed" else ""
        )
    elif result.exit_code is not None:
        status = f"exit status {result.exit_code}"
    else:
        status = "ended without a status"
    err = result.stderr[-MAX_OUTPUT_CHARS:]
    return f"{status}{note}\nstdout:\n{out}\nstderr:\n{err}"


def run_python(*, timeout: float = 5.0, memory_mb: int = 512) -> BaseTool:
    """The `run_python` tool with the given limits."""
    return safe_tool(
        lambda code: execute_python(code, timeout=timeout, memory_mb=memory_mb),
        name="run_python",
        description=(
            "Run a Python program in a sandbox (no network, no files but /tmp, "
            f"{timeout:g} s, {memory_mb} MB) and return what it printed."
        ),
        args_schema=_PythonArgs,
    )


def coding_specialist() -> Specialist:
    """Writes and checks code; can run Python."""
    return Specialist(
        name="coding",
        capability="coding",
        prompt=(
            "You are a careful software engineer. Write correct, minimal code. "
            "When a snippet can be checked by running it, run it with run_python "
            "and report what it printed."
        ),
        tools=(run_python(),),
    )
