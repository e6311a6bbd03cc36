"""The coding specialist and its tool: run Python in a sandboxed subprocess."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile

from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, Field

from dispatch import Specialist
from dispatch.agents._tools import safe_tool

__all__ = ("coding_specialist", "run_python")

MAX_CODE_CHARS = 20_000
MAX_OUTPUT_CHARS = 4_000


class _PythonArgs(BaseModel):
    code: str = Field(
        description="A complete Python program; print what you need to see."
    )


def _limits(cpu_seconds: int, memory_bytes: int) -> None:  # runs in the child
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def execute_python(code: str, *, timeout: float = 5.0, memory_mb: int = 512) -> str:
    """Run `code` with ``python -I`` in an empty temp dir, time/CPU/memory/file limits.

    Returns stdout, and stderr and the exit status when the program fails.

    Raises:
        ToolException: empty or oversized code, or the time limit was hit.
    """
    if not code.strip():
        raise ToolException("run_python: `code` is empty; pass a Python program")
    if len(code) > MAX_CODE_CHARS:
        raise ToolException(
            f"run_python: code is {len(code)} characters, the limit is {MAX_CODE_CHARS}"
        )
    with tempfile.TemporaryDirectory(prefix="dispatch-py-") as workdir:
        try:
            proc = subprocess.run(
                [sys.executable, "-I", "-c", code],
                cwd=workdir,
                env={
                    "PATH": os.environ.get("PATH", ""),
                    "PYTHONDONTWRITEBYTECODE": "1",
                },
                capture_output=True,
                text=True,
                timeout=timeout,
                preexec_fn=lambda: _limits(int(timeout) + 1, memory_mb << 20),
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ToolException(f"run_python: timed out after {timeout:g} s") from None
    out = proc.stdout[-MAX_OUTPUT_CHARS:]
    if proc.returncode != 0:
        err = proc.stderr[-MAX_OUTPUT_CHARS:]
        return f"exit status {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    return out or "(no output)"


def run_python(*, timeout: float = 5.0, memory_mb: int = 512) -> BaseTool:
    """The `run_python` tool with the given limits."""
    return safe_tool(
        lambda code: execute_python(code, timeout=timeout, memory_mb=memory_mb),
        name="run_python",
        description=(
            "Run a Python program in a sandbox (no network use intended, "
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
