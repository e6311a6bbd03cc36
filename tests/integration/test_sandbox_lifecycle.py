"""The sandbox's bounds over time and death: timeouts, floods, the agent dying,
refusal where no sandbox can be built, and the explicit unsafe opt-out."""

from __future__ import annotations

import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from _sandbox_helpers import marker, processes_with, sandboxed, wait_until
from langchain_core.tools import ToolException

from dispatch.agents.coding import UNSAFE_ENV, execute_python
from dispatch.sandbox import SandboxLimits, SandboxUnavailable, run_python


def test_a_sleeping_program_is_killed_at_the_timeout_with_everything_it_started() -> (
    None
):
    tag = marker()
    start = time.monotonic()
    result = sandboxed(
        f"import os, time  # {tag}\nos.fork()\ntime.sleep(60)\n", timeout_s=1.0
    )
    assert 1.0 <= time.monotonic() - start < 3.0
    assert result.timed_out
    assert result.signal == signal.SIGKILL
    assert processes_with(tag) == []


def test_a_cpu_loop_is_stopped() -> None:
    result = sandboxed("while True:\n    pass\n", timeout_s=1.0)
    assert result.timed_out or result.signal == signal.SIGXCPU
    assert result.seconds < 3.0


def test_a_stdout_flood_is_cut_at_the_cap_in_bounded_time_and_memory() -> None:
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = sandboxed(
        "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n",
        timeout_s=30.0,
        output_bytes=1 << 20,
    )
    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert result.output_truncated
    assert len(result.stdout) + len(result.stderr) == 1 << 20
    assert result.seconds < 5.0  # stopped at the cap, not at the 30 s timeout
    assert (peak_after - peak_before) * 1024 < 64 << 20


def test_the_sandbox_dies_with_the_agent(tmp_path: object) -> None:
    tag = marker()
    agent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from dispatch.sandbox import SandboxLimits, run_python\n"
            f"run_python('import time  # {tag}\\ntime.sleep(60)', SandboxLimits(timeout_s=60))\n",
        ]
    )
    try:
        # Up: supervisor-side stages plus the program itself (pid 1 inside).
        assert wait_until(lambda: len(processes_with(tag)) >= 3, 20), processes_with(
            tag
        )
        agent.kill()
        agent.wait()
        assert wait_until(lambda: processes_with(tag) == [], 5), processes_with(tag)
    finally:
        agent.kill()
        agent.wait()


def test_the_coding_tool_reports_a_timeout_and_a_flood_clearly() -> None:
    with pytest.raises(ToolException, match="timed out after 1 s"):
        execute_python("import time; time.sleep(30)", timeout=1)
    out = execute_python("while True: print('spam' * 1000)", timeout=30)
    assert out.startswith("killed by SIGKILL\n[output over the limit")
    assert len(out) < 8_200  # bounded for the model's context too


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare")
def test_without_user_namespaces_the_tool_refuses_instead_of_running_unsandboxed() -> (
    None
):
    # A user namespace whose limit of nested user namespaces is 0: the machine
    # "has no sandbox", for real. (Needs user namespaces itself, else we skip.)
    program = textwrap.dedent(
        """
        import os
        from dispatch.agents.coding import execute_python
        os.environ.pop("DISPATCH_UNSAFE_SANDBOX", None)
        try:
            execute_python("print('RAN')")
        except Exception as exc:
            print(type(exc).__name__, exc)
        """
    )
    setup = 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" -c "$1"'
    proc = subprocess.run(
        [
            "unshare",
            "--user",
            "--map-root-user",
            "sh",
            "-c",
            setup,
            sys.executable,
            program,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "unshare failed" in proc.stderr or "Permission denied" in proc.stderr:
        pytest.skip(f"cannot build the no-namespace environment: {proc.stderr.strip()}")
    assert "RAN" not in proc.stdout
    assert "ToolException run_python: refusing to run the code" in proc.stdout
    assert "ENOSPC" in proc.stdout
    assert f"{UNSAFE_ENV}=1" in proc.stdout


def test_the_unsafe_opt_out_runs_with_limits_but_says_it_is_not_isolated() -> None:
    result = run_python("import os; print(os.getcwd())", unsafe=True)
    assert result.exit_code == 0
    assert not result.isolated
    assert result.stdout.strip().split("/")[-1].startswith("dispatch-py-")
    timed = run_python(
        "import time; time.sleep(30)", SandboxLimits(timeout_s=0.5), unsafe=True
    )
    assert timed.timed_out


def test_the_unsafe_opt_out_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(UNSAFE_ENV, "1")
    out = execute_python(
        "import os; print(os.path.exists('/proc/1/environ'), os.getpid() > 1)"
    )
    assert out.strip() == "True True"  # the host's pid namespace: not isolated


def test_limits_are_validated_with_the_field_named() -> None:
    with pytest.raises(ValueError, match="SandboxLimits.timeout_s"):
        SandboxLimits(timeout_s=float("nan"))
    with pytest.raises(ValueError, match="SandboxLimits.memory_bytes"):
        SandboxLimits(memory_bytes=0)
    with pytest.raises(ValueError, match="SandboxLimits.processes"):
        SandboxLimits(processes=2)
    assert SandboxLimits(timeout_s=2.5).cpu_seconds == 3
    assert issubclass(SandboxUnavailable, Exception)
