"""Per-call cost of the code sandbox against the plain subprocess it replaced.

The baseline is the old `run_python`: ``python -I -c`` in a temp dir with rlimits
set in ``preexec_fn`` and ``capture_output``. The sandbox adds a bootstrap
interpreter, two forks, seven namespaces, a new root of read-only binds, a fresh
``/proc`` and the supervisor's bounded reads. Calls alternate between the two so
machine noise hits both; medians and their ratio are printed.
Run: ``python -m bench.sandbox`` (``--calls 40``, ``--code 'import numpy'``).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from dispatch.sandbox import SandboxLimits, run_python

DEFAULT_CODE = "print(sum(range(10)))"


def _old_limits() -> None:  # runs in the child, as the old tool did
    resource.setrlimit(resource.RLIMIT_CPU, (6, 6))
    resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))


def plain_subprocess(code: str) -> str:
    """The old tool's mechanism, unchanged."""
    with tempfile.TemporaryDirectory(prefix="dispatch-py-") as workdir:
        proc = subprocess.run(
            [sys.executable, "-I", "-c", code],
            cwd=workdir,
            env={"PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=5,
            preexec_fn=_old_limits,
            check=False,
        )
    return proc.stdout


def sandboxed(code: str) -> str:
    """The new tool's mechanism."""
    return run_python(code, SandboxLimits()).stdout


def main(argv: list[str] | None = None) -> None:
    """Time both mechanisms and print the ratio of medians."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--code", default=DEFAULT_CODE)
    args = parser.parse_args(argv)
    if plain_subprocess(args.code) != sandboxed(args.code):
        raise SystemExit("the two mechanisms printed different output")
    plain: list[float] = []
    boxed: list[float] = []
    for _ in range(args.calls):
        for run, times in ((plain_subprocess, plain), (sandboxed, boxed)):
            start = time.perf_counter()
            run(args.code)
            times.append(time.perf_counter() - start)
    p, s = statistics.median(plain), statistics.median(boxed)
    print(f"sandbox per call ({args.calls} calls each, code {args.code!r})")
    print(f"  plain subprocess (old)  {p * 1000:8.1f} ms median")
    print(f"  namespace sandbox (new) {s * 1000:8.1f} ms median")
    print(
        f"  ratio new/old           {s / p:8.2f}x  (+{(s - p) * 1000:.1f} ms per call)"
    )


if __name__ == "__main__":
    main()
