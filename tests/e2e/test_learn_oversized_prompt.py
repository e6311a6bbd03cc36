"""A replayed prompt too long for the benchmark registry's context window is
refused before any work, naming the file and the line.

A 5 MB prompt (~1.3 million tokens) used to be embedded with the rest and then
fail in the calibration sweep with the policy's "no eligible model ... exceed
the context window" message, naming neither the file nor the line, after
every prompt had been embedded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from _learn_files import MODELS
from _warm_cli import shared
from conftest import PROVIDER_KEYS

from dispatch.eval.models import CONTEXT_WINDOW

TOPICS = {
    "coding": "Write a Python function that sorts a list (case {}).",
    "search": "Who was the first person to climb Everest (case {})?",
    "general": "Write a warm birthday card for my aunt (case {}).",
}
HUGE = "word " * (CONTEXT_WINDOW + 10_000)  # ~5 MB, over every model's window


def rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "id": f"x-{capability}-{i}",
            "prompt": text.format(i),
            "capability": capability,
            "outcomes": {
                "cheap-7b": {
                    "quality": float(capability != "coding"),
                    "cost_usd": 1e-4,
                },
                "dear-4": {"quality": 1.0, "cost_usd": 0.01},
            },
        }
        for i in range(start, start + n)
        for capability, text in TOPICS.items()
    ]


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """An empty encoder cache: the refusal comes before the encoder is built."""
    folder = tmp_path / "cache"
    folder.mkdir()
    return folder


@pytest.fixture
def env(cache: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS}
    return {**base, "DISPATCH_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1"}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    models = tmp_path / "models.json"
    models.write_text(json.dumps(MODELS))
    huge = rows(10)
    huge[4] = {**huge[4], "prompt": HUGE}  # line 5
    return {
        "models": models,
        "train": write(tmp_path / "train.jsonl", rows(10)),
        "huge": write(tmp_path / "huge.jsonl", huge),
    }


def assert_refused_naming_the_line(proc: Any, *, json_: bool) -> None:
    assert proc.returncode == 2, proc.stderr
    message = " ".join(proc.stderr.split())
    assert message.startswith("error:") and "Traceback" not in message, message
    assert "huge.jsonl: line 5" in message, message
    assert "context window" in message, message
    if json_:
        assert json.loads(proc.stdout)["status"] == "error"


def test_train_refuses_a_prompt_over_the_context_window_naming_its_line(
    tmp_path: Path, env: dict[str, str], files: dict[str, Path], cache: Path
) -> None:
    out = tmp_path / "router.npz"
    args = [
        "train",
        str(files["huge"]),
        "--models",
        str(files["models"]),
        "-o",
        str(out),
    ]
    for json_ in (False, True):
        proc = shared().run(*args, *(["--json"] if json_ else []), env=env, timeout=600)
        assert_refused_naming_the_line(proc, json_=json_)
    assert not out.exists()
    assert list(cache.iterdir()) == []  # nothing was embedded


@pytest.mark.parametrize("which", ["data", "train"])
def test_eval_outcomes_refuses_a_prompt_over_the_context_window_naming_its_line(
    env: dict[str, str], files: dict[str, Path], cache: Path, which: str
) -> None:
    data, train = (
        (files["huge"], files["train"])
        if which == "data"
        else (files["train"], files["huge"])
    )
    proc = shared().run(
        "eval", "outcomes", str(data), "--train", str(train),
        "--models", str(files["models"]), "--json",
        env=env, timeout=600,
    )  # fmt: skip
    assert_refused_naming_the_line(proc, json_=True)
    assert list(cache.iterdir()) == []
