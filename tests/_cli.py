"""Running the ``dispatch`` command in-process (typer's runner), for the e2e tests."""

from __future__ import annotations

from typer.testing import CliRunner

from dispatch.cli.app import app

runner = CliRunner()


def cli(*args: str) -> tuple[int, str, str]:
    """``dispatch ARGS``: exit code, stdout, stderr. An exception the command
    did not turn into an exit (a traceback a user would see) is raised."""
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def flat(text: str) -> str:
    """`text` with its whitespace runs made single spaces (rich wraps long lines)."""
    return " ".join(text.split())


def assert_one_error_line(code: int, err: str, *needles: str) -> None:
    """Exit 2 with one ``error:`` line, no traceback, holding every needle."""
    assert code == 2, err
    assert err.startswith("error:"), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err, (needle, err)
