"""A bad flag value of `dispatch train` / `dispatch eval` is named in its error:
the flag, the value, and the choices, in the ``(found ..., expected ...)``
form of every other bad input.

Before: ``--router bogus`` said "unknown router" without naming the flag,
``train --reference bogus`` printed a Python list repr, and a ``--plot``
suffix matplotlib cannot write said "found None".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _cli import assert_one_error_line, cli, flat
from _learn_files import MODELS, replay_rows

import dispatch.cli.learn


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    # every refusal here comes before a prompt is embedded
    monkeypatch.setattr(dispatch.cli.learn, "_encoder", lambda *a: object())
    models = tmp_path / "models.json"
    models.write_text(json.dumps(MODELS))
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in replay_rows(30)))
    return {"models": models, "data": data, "out": tmp_path / "router.npz"}


def refused_with_json(*args: str) -> str:
    """Run with and without --json; both one error line, the same reason."""
    code, out, err = cli(*args)
    assert out == ""
    assert_one_error_line(code, flat(err))
    code, out, err = cli(*args, "--json")
    report = json.loads(out)
    assert (code, report["status"], report["exit_code"]) == (2, "error", 2)
    assert flat(err) == f"error: {report['reason']}"
    return str(report["reason"])


def test_train_names_an_unknown_reference_and_the_models_it_could_be(
    files: dict[str, Path],
) -> None:
    reason = refused_with_json(
        "train", str(files["data"]), "--models", str(files["models"]),
        "-o", str(files["out"]), "--reference", "bogus",
    )  # fmt: skip
    assert reason == (
        "--reference: not a model with outcomes (found 'bogus', "
        "expected cheap-7b, dear-4)"
    )
    assert not files["out"].exists()


def test_eval_outcomes_names_the_router_flag(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_encoder(*args: object) -> object:
        raise AssertionError("the encoder was built before the flag was checked")

    monkeypatch.setattr(dispatch.cli.learn, "_encoder", no_encoder)
    reason = refused_with_json(
        "eval", "outcomes", str(files["data"]), "--train", str(files["data"]),
        "--models", str(files["models"]), "--router", "bogus",
    )  # fmt: skip
    assert reason.startswith("--router: unknown router (found 'bogus', expected ")
    assert "learned" in reason and "knn" in reason


def test_eval_capability_names_the_router_flag(files: dict[str, Path]) -> None:
    reason = refused_with_json(
        "eval", "capability", str(files["data"]), "--train", str(files["data"]),
        "--router", "bogus",
    )  # fmt: skip
    assert reason == (
        "--router: unknown router (found 'bogus', expected learned, semantic, "
        "rules, hybrid)"
    )


def test_a_plot_suffix_with_no_image_format_names_the_suffix(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    pytest.importorskip("matplotlib")
    plot = tmp_path / "curve.txt"
    reason = refused_with_json(
        "eval", "outcomes", str(files["data"]), "--train", str(files["data"]),
        "--models", str(files["models"]), "--plot", str(plot),
    )  # fmt: skip
    assert reason.startswith(
        f"{plot}: cannot write the --plot: no image format for this suffix "
        "(found 'txt', expected "
    )
    assert "png" in reason
