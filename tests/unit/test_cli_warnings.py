"""The command line shows dispatch's own warnings as one ``warning:`` line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dispatch.cli import render

OWN_FILE = render.__file__


def test_a_dispatch_warning_is_one_redacted_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    render.show_warning(
        UserWarning("cache at https://u:hunter2@h/x is read-only"),
        UserWarning,
        OWN_FILE,
        12,
    )
    err = capsys.readouterr().err
    assert err.startswith("warning: cache at https://")
    assert "hunter2" not in err
    assert err.count("\n") == 1 and "UserWarning" not in err


def test_a_library_warning_keeps_pythons_form(
    capsys: pytest.CaptureFixture[str],
) -> None:
    render.show_warning(UserWarning("old API"), UserWarning, "/lib/other.py", 7)
    err = capsys.readouterr().err
    assert "/lib/other.py:7: UserWarning: old API" in err


def test_the_console_entry_point_installs_it() -> None:
    script = (
        "import sys, warnings\n"
        "from dispatch.cli import app\n"
        "sys.argv = ['dispatch', '--help']\n"
        "try:\n"
        "    app.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "from dispatch.cli.app import _show_warning as show_warning\n"
        "assert warnings.showwarning is show_warning\n"
        "warnings.warn_explicit('artefact is partial', UserWarning,"
        f" {OWN_FILE!r}, 3)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == "warning: artefact is partial"


def test_python_m_dispatch_uses_the_same_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dispatch", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: dispatch" in done.stdout
