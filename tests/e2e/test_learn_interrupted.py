"""Ctrl-C during `dispatch train` or `dispatch eval` exits 130 and says so:
one ``interrupted:`` line on stderr, and with ``--json`` a
``{"status": "interrupted", "exit_code": 130, ...}`` object on stdout, as
``dispatch demo``/``run`` print (it was a silent exit 130 with an empty stdout,
which a script cannot tell from a crash). No artefact is written, and an older
one stays as it was.

The work is replaced by a function that raises `KeyboardInterrupt` (what
Python's SIGINT handler raises) so the test needs no encoder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _cli import cli, flat
from _learn_files import MODELS, replay_rows

import dispatch.cli.learn
import dispatch.eval.capability
import dispatch.eval.outcomes
import dispatch.eval.training


def ctrl_c(*args: object, **kwargs: object) -> Any:
    raise KeyboardInterrupt


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setattr(dispatch.cli.learn, "_encoder", lambda *a: object())
    models = tmp_path / "models.json"
    models.write_text(json.dumps(MODELS))
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in replay_rows(30)))
    return {"models": models, "data": data}


def assert_interrupted(code: int, out: str, err: str, *, json_: bool) -> None:
    assert code == 130, (out, err)
    assert flat(err).startswith("interrupted:"), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    if json_:
        report = json.loads(out)
        assert (report["status"], report["exit_code"]) == ("interrupted", 130)
        assert report["reason"] == flat(err).removeprefix("interrupted: ")
    else:
        assert out == ""


@pytest.mark.parametrize("json_", [False, True])
def test_ctrl_c_during_training_exits_130_and_writes_no_artefact(
    tmp_path: Path,
    files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    json_: bool,
) -> None:
    monkeypatch.setattr(dispatch.eval.training, "train_router", ctrl_c)
    artefact = tmp_path / "router.npz"
    artefact.write_bytes(b"an older artefact")
    code, out, err = cli(
        "train", str(files["data"]), "--models", str(files["models"]),
        "-o", str(artefact), *(["--json"] if json_ else []),
    )  # fmt: skip
    assert_interrupted(code, out, err, json_=json_)
    assert "no artefact written" in flat(err)
    assert artefact.read_bytes() == b"an older artefact"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "data.jsonl",
        "models.json",
        "router.npz",
    ]


@pytest.mark.parametrize("json_", [False, True])
def test_ctrl_c_during_eval_outcomes_exits_130(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, json_: bool
) -> None:
    monkeypatch.setattr(dispatch.eval.outcomes, "evaluate_outcomes", ctrl_c)
    code, out, err = cli(
        "eval", "outcomes", str(files["data"]), "--train", str(files["data"]),
        "--models", str(files["models"]), *(["--json"] if json_ else []),
    )  # fmt: skip
    assert_interrupted(code, out, err, json_=json_)


@pytest.mark.parametrize("json_", [False, True])
def test_ctrl_c_during_eval_capability_exits_130(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, json_: bool
) -> None:
    monkeypatch.setattr(dispatch.eval.capability, "evaluate_capability", ctrl_c)
    code, out, err = cli(
        "eval", "capability", str(files["data"]), "--train", str(files["data"]),
        *(["--json"] if json_ else []),
    )  # fmt: skip
    assert_interrupted(code, out, err, json_=json_)
