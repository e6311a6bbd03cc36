"""Bad data files and configs as a user meets them on the command line: exit 2,
one ``error:`` line naming the file and where in it (with ``--json``, a
``{"status": "error"}`` object on stdout), no traceback, and no secret from
the refused input echoed. In-process through typer's runner: every case is
refused before any embedding or model call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _cli import cli
from _learn_files import MODELS
from conftest import PROVIDER_KEYS, SMALL_REGISTRY

SECRET = "sk-proj-" + "Zq7Xw2Lp9Rt4" * 3
"""Shaped like an OpenAI key: `fail` must redact it wherever an error quotes it."""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in PROVIDER_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DISPATCH_CHECKPOINTS", str(tmp_path / "checkpoints.sqlite"))


def refused(*args: str, needles: tuple[str, ...]) -> dict[str, Any]:
    """Run `args` plain and with --json: exit 2, one error line holding every
    needle, no traceback; the --json object."""
    code, out, err = cli(*args)
    assert code == 2, (code, out, err)
    flat = " ".join(err.split())  # rich wraps long lines
    assert flat.startswith("error:") and "Traceback" not in err, err
    for needle in needles:
        assert needle in flat, (needle, flat)
    code, out, err = cli(*args, "--json")
    assert code == 2, (code, out, err)
    data: dict[str, Any] = json.loads(out)
    assert data["status"] == "error"
    assert all(needle in data["reason"] for needle in needles), data["reason"]
    return data


def outcome_line(i: int, **outcomes: Any) -> str:
    return json.dumps(
        {
            "id": f"q{i}",
            "prompt": f"Write a function that sorts list number {i}.",
            "capability": ("coding", "general")[i % 2],
            "outcomes": outcomes,
        }
    )


def ok(quality: float = 1.0, cost: Any = 0.001) -> dict[str, Any]:
    return {"quality": quality, "cost_usd": cost}


@pytest.fixture
def models(tmp_path: Path) -> Path:
    path = tmp_path / "models.json"
    three = {**MODELS, "mid-70b": {**MODELS["cheap-7b"], "tier": "medium"}}
    path.write_text(json.dumps(three), encoding="utf-8")
    return path


def outcomes_file(path: Path, gap: int | None = None) -> Path:
    """Twelve lines of three models; line `gap` lacks mid-70b."""
    lines = []
    for i in range(12):
        row = {"cheap-7b": ok(0.0), "dear-4": ok(1.0, 0.01), "mid-70b": ok(0.5)}
        if gap is not None and i + 1 == gap:
            del row["mid-70b"]
        lines.append(outcome_line(i, **row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_train_refuses_a_model_with_outcomes_on_some_lines_only(
    tmp_path: Path, models: Path
) -> None:
    partial = outcomes_file(tmp_path / "partial.jsonl", gap=7)
    out = tmp_path / "router.npz"
    refused(
        "train", str(partial), "--models", str(models), "-o", str(out),
        needles=(f"{partial}: line 7", "'mid-70b'", "outcomes on line 1"),
    )  # fmt: skip
    assert not out.exists()


@pytest.mark.parametrize("partial", ["TRAIN", "DATA"])
def test_eval_outcomes_refuses_a_model_with_outcomes_on_some_lines_only(
    tmp_path: Path, models: Path, partial: str
) -> None:
    files = {
        name: outcomes_file(
            tmp_path / f"{name}.jsonl", gap=5 if name == partial else None
        )
        for name in ("TRAIN", "DATA")
    }
    refused(
        "eval", "outcomes", str(files["DATA"]), "--train", str(files["TRAIN"]),
        "--models", str(models),
        needles=(f"{files[partial]}: line 5", "no outcome for model 'mid-70b'"),
    )  # fmt: skip


@pytest.mark.parametrize("field", ["cost_usd", "quality"])
def test_a_400_digit_outcome_is_named_by_file_line_and_field(
    tmp_path: Path, models: Path, field: str
) -> None:
    path = outcomes_file(tmp_path / "huge.jsonl")
    lines = path.read_text().splitlines()
    huge = "1" + "0" * 400
    lines[2] = lines[2].replace('"quality": 0.5', f'"quality": {huge}', 1)
    if field == "cost_usd":
        lines[2] = outcome_line(
            2, **{"cheap-7b": ok(), "dear-4": ok(), "mid-70b": ok()}
        )
        lines[2] = lines[2].replace('"cost_usd": 0.001}}', f'"cost_usd": {huge}}}}}')
    path.write_text("\n".join(lines) + "\n")
    data = refused(
        "train", str(path), "--models", str(models), "-o", str(tmp_path / "r.npz"),
        needles=(f"{path}: line 3: outcomes['mid-70b'] is malformed: {field}",),
    )  # fmt: skip
    assert len(data["reason"]) < 400  # the 401 digits are not echoed whole


def test_a_400_digit_price_in_a_models_file_names_the_model_key(
    tmp_path: Path, models: Path
) -> None:
    models.write_text(
        models.read_text().replace(
            '"price_in_per_mtok": 10.0', f'"price_in_per_mtok": 1{"0" * 400}'
        )
    )
    refused(
        "train", str(outcomes_file(tmp_path / "ok.jsonl")), "--models", str(models),
        "-o", str(tmp_path / "r.npz"),
        needles=(f"{models}: dear-4.price_in_per_mtok: bad price_in_per_mtok",),
    )  # fmt: skip


def registry(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("price", ["1e400", "1" + "0" * 400])
def test_models_json_refuses_a_price_too_large_for_json(
    tmp_path: Path, price: str
) -> None:
    config = registry(
        tmp_path,
        SMALL_REGISTRY.replace("input_per_mtok: 1,", f"input_per_mtok: {price},"),
    )
    data = refused(
        "models", "--config", str(config),
        needles=(f"{config}: models[1].price.input_per_mtok: model 'mid:model'",),
    )  # fmt: skip
    assert "Infinity" not in json.dumps(data)


def test_models_json_prints_valid_json_for_every_price_it_accepts(
    tmp_path: Path,
) -> None:
    config = registry(
        tmp_path,
        SMALL_REGISTRY.replace("input_per_mtok: 1,", "input_per_mtok: 1000000000,"),
    )
    code, out, err = cli("models", "--config", str(config), "--json")
    assert code == 0, err
    prices = {
        m["id"]: m["input_per_mtok"]
        for m in json.loads(out, parse_constant=pytest.fail)
    }
    assert prices["mid:model"] == 1e9


def test_models_refuses_an_alias_bomb_naming_the_file_and_line(tmp_path: Path) -> None:
    lines = [
        '  l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'
    ]
    lines += [
        f"  l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]" for n in range(1, 9)
    ]
    config = registry(tmp_path, SMALL_REGISTRY + "x-bomb:\n" + "\n".join(lines) + "\n")
    refused(
        "models", "--config", str(config),
        needles=(f"{config}: line", "too large once its aliases are expanded"),
    )  # fmt: skip


def test_a_secret_in_a_refused_config_value_never_reaches_the_output(
    tmp_path: Path,
) -> None:
    config = registry(
        tmp_path, SMALL_REGISTRY.replace("tier: medium", f"tier: {SECRET}")
    )
    data = refused(
        "models", "--config", str(config), needles=("models[1].tier", "[REDACTED]")
    )
    assert SECRET not in data["reason"]
    code, out, err = cli("models", "--config", str(config))
    assert SECRET not in out + err


def test_credentials_in_a_config_url_never_reach_the_output(tmp_path: Path) -> None:
    url = "https://deploy:Hunter2Hunter2@config.internal/registry.yaml"
    data = refused(
        "models", "--config", url,
        needles=("cannot read config", "https://[REDACTED]@config.internal"),
    )  # fmt: skip
    assert "Hunter2" not in data["reason"]
