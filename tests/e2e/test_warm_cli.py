"""The pre-imported CLI the e2e tests fork from (`tests/_warm_cli.py`) behaves like
`subprocess`: its own process per command, several at once, the caller's pipes,
signals, exit statuses and time limits."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from _warm_cli import PIPE, shared

WAITER = """\
import os, sys
print(os.getpid(), flush=True)
sys.exit(int(sys.stdin.readline()))
"""

SLEEPER = "import time\ntime.sleep(60)\n"

ECHO = "import os, sys\nprint(os.getpid(), *sys.argv[1:])\n"

COUNTER = """\
import os, stat, sys
print(stat.S_ISFIFO(os.fstat(0).st_mode), len(sys.stdin.buffer.read()))
"""


@pytest.fixture
def scripts(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for name, text in (
        ("waiter", WAITER),
        ("sleeper", SLEEPER),
        ("echo", ECHO),
        ("counter", COUNTER),
    ):
        paths[name] = tmp_path / f"{name}.py"
        paths[name].write_text(text)
    return paths


def test_two_commands_run_at_once_each_in_its_own_process(
    scripts: dict[str, Path],
) -> None:
    with shared().start(script=scripts["waiter"], stdin=PIPE, stdout=PIPE) as waiting:
        assert waiting.stdin is not None and waiting.stdout is not None
        assert int(waiting.stdout.readline()) == waiting.pid != os.getpid()
        assert waiting.poll() is None
        # while the first one waits on its stdin, a second command runs to its end
        echo = shared().run("a", "b", script=scripts["echo"])
        pid, *argv = echo.stdout.split()
        assert (echo.returncode, argv) == (0, ["a", "b"])
        assert int(pid) not in (waiting.pid, os.getpid())
        waiting.stdin.write("3\n")
        waiting.stdin.flush()
        assert waiting.wait(timeout=30) == 3
    assert waiting.returncode == 3


def test_input_arrives_through_an_os_pipe_however_large(
    scripts: dict[str, Path],
) -> None:
    data = b"x" * 300_000  # several times a pipe's buffer
    proc = shared().run(script=scripts["counter"], input=data)
    assert (proc.returncode, proc.stdout.split()) == (0, ["True", "300000"])


def test_a_signal_reaches_the_running_command_and_its_status_says_so(
    scripts: dict[str, Path],
) -> None:
    sleeping = shared().start(script=scripts["sleeper"])
    with pytest.raises(subprocess.TimeoutExpired):
        sleeping.wait(timeout=0.2)
    sleeping.send_signal(signal.SIGKILL)
    assert sleeping.wait(timeout=30) == -signal.SIGKILL
    sleeping.send_signal(signal.SIGKILL)  # after the end: nothing to signal


def test_a_command_over_its_time_limit_is_killed_and_the_server_goes_on(
    scripts: dict[str, Path],
) -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        shared().run(script=scripts["sleeper"], timeout=0.5)
    assert shared().run("still", script=scripts["echo"]).returncode == 0


def test_interpreter_settings_are_refused_not_ignored(
    scripts: dict[str, Path],
) -> None:
    env = dict(os.environ, PYTHONHASHSEED="123")
    with pytest.raises(ValueError, match="run a cold subprocess"):
        shared().run(script=scripts["echo"], env=env)
