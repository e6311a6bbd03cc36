"""`fail`, the CLI's one error exit: the message is redacted before it reaches
the terminal or the ``--json`` object, because an exception's text can quote
the input it refused (a key in the wrong field, a URL with a password)."""

from __future__ import annotations

import json

import pytest
import typer

from dispatch.cli.render import fail
from dispatch.faults import REDACTED

KEY = "sk-ant-api03-" + "Qm4Zr8Tx2Vb6" * 3
URL = "postgresql://svc:S3cretPassw0rd@db.internal:5432/dispatch"


@pytest.mark.parametrize("json_", [False, True])
def test_a_secret_in_the_exception_text_never_reaches_stdout_or_stderr(
    capsys: pytest.CaptureFixture[str], json_: bool
) -> None:
    exc = ValueError(f"cannot reach {URL} with key {KEY}")
    with pytest.raises(typer.Exit) as info:
        fail(exc, json_=json_)
    assert info.value.exit_code == 2
    out, err = capsys.readouterr()
    for secret in (KEY, "S3cretPassw0rd"):
        assert secret not in out + err
    flat = " ".join(err.split())
    assert flat.startswith("error: cannot reach postgresql://")
    assert f"{REDACTED}@db.internal:5432/dispatch" in flat
    if json_:
        data = json.loads(out)
        assert data == {
            "status": "error",
            "exit_code": 2,
            "reason": f"cannot reach postgresql://{REDACTED}@db.internal:5432/"
            f"dispatch with key {REDACTED}",
        }
    else:
        assert out == ""


def test_ordinary_error_text_is_printed_as_it_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = "registry.yaml: models[2].tier: invalid value (found 'huge', expected small)"
    with pytest.raises(typer.Exit):
        fail(ValueError(text), json_=True)
    out, err = capsys.readouterr()
    assert json.loads(out)["reason"] == text
    assert " ".join(err.split()) == f"error: {text}"
