"""`dispatch train` and `dispatch eval` as a user runs them, on small synthetic files
(the real MiniLM through onnxruntime, from the session's exported cache; each
command is its own process, forked from the pre-imported CLI in `_warm_cli`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from _learn_files import LEARNED_REGISTRY, MODELS
from _warm_cli import shared
from conftest import PROVIDER_KEYS

from dispatch.routing.encoder import layers_suffix
from dispatch.routing.features import CAPABILITY_LAYERS
from dispatch.routing.learned import LearnedArtefact

TOPICS = {
    "coding": "Write a Python function that {} and add unit tests for it.",
    "search": "Who was the first person to {} and in which year did it happen?",
    "general": "Write a warm, friendly birthday card for my aunt who loves to {}.",
}
ACTS = [
    "sort a list",
    "reverse a string",
    "climb Everest",
    "paint portraits",
    "sail alone",
    "parse dates",
    "merge two files",
    "fly across the Atlantic",
    "bake bread",
    "grow roses",
]


def line(i: int, capability: str, outcomes: bool) -> str:
    record: dict[str, Any] = {
        "id": f"x-{capability}-{i}",
        "prompt": TOPICS[capability].format(ACTS[i % len(ACTS)]) + f" (case {i})",
        "capability": capability,
        "source": "synthetic",
    }
    if outcomes:
        hard = capability == "coding"
        record["outcomes"] = {
            "cheap-7b": {"quality": 0.0 if hard else 1.0, "cost_usd": 0.0001},
            "dear-4": {"quality": 1.0, "cost_usd": 0.01},
        }
    return json.dumps(record)


def write(path: Path, start: int, n: int, outcomes: bool) -> Path:
    lines = [line(i, c, outcomes) for i in range(start, start + n) for c in TOPICS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def env(minilm_cache: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS}
    return {**base, "DISPATCH_CACHE_DIR": str(minilm_cache), "HF_HUB_OFFLINE": "1"}


def dispatch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return shared().run(*args, env=env, timeout=600)


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]
) -> tuple[Path, dict[str, Any]]:
    """One `dispatch train` run: its directory (train.jsonl, models.json,
    router.npz) and its JSON summary, shared by the tests that read them."""
    tmp_path = tmp_path_factory.mktemp("trained")
    train = write(tmp_path / "train.jsonl", 0, 20, outcomes=True)
    models = tmp_path / "models.json"
    models.write_text(json.dumps(MODELS))
    artefact = tmp_path / "router.npz"
    proc = dispatch(
        env, "train", str(train), "--models", str(models), "-o", str(artefact), "--json"
    )
    assert proc.returncode == 0, proc.stderr
    return tmp_path, strict_json(proc.stdout)


def strict_json(text: str) -> Any:
    """`text` parsed as standard JSON: NaN and Infinity (Python's extension,
    which jq and most parsers refuse) fail the test."""

    def refuse(constant: str) -> Any:
        raise AssertionError(f"--json printed {constant}, which is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_train_writes_an_artefact_and_eval_outcomes_prints_the_json_shape(
    tmp_path: Path, env: dict[str, str], trained: tuple[Path, dict[str, Any]]
) -> None:
    folder, summary = trained
    train, models = folder / "train.jsonl", folder / "models.json"
    data = write(tmp_path / "data.jsonl", 100, 8, outcomes=True)
    assert (folder / "router.npz").is_file()
    # the capability head reads the sentence vector and two hidden states;
    # the id says so, so a live hop gets an encoder that appends them
    encoder = LearnedArtefact.load(folder / "router.npz").encoder
    assert encoder.endswith(f"{layers_suffix(CAPABILITY_LAYERS)}")
    assert summary["reference_model"] == "p:dear-4"
    # dear-4 is good on every prompt: its head's AUC is undefined, null in JSON
    assert summary["scores"]["quality_heads"]["dear-4"]["auc"] is None
    cv = summary["scores"]["capability_cv"]
    assert cv["macro_f1"] > 0.9
    assert cv["accuracy_by_source"] == {"synthetic": cv["accuracy"]}
    proc = dispatch(
        env,
        "eval",
        "outcomes",
        str(data),
        "--train",
        str(train),
        "--models",
        str(models),
        "--json",
        "--plot",
        str(tmp_path / "curve.png"),
    )
    assert proc.returncode == 0, proc.stderr
    report = strict_json(proc.stdout)
    assert report["n"] == 24 and report["reference_model"] == "dear-4"
    assert (
        report["result"]["quality_ratio"] >= 0.95
        and report["result"]["cost_ratio"] < 0.6
    )
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_capability_json_and_a_malformed_line(
    tmp_path: Path, env: dict[str, str]
) -> None:
    train = write(tmp_path / "train.jsonl", 0, 20, outcomes=False)
    data = write(tmp_path / "data.jsonl", 100, 6, outcomes=False)
    proc = dispatch(
        env, "eval", "capability", str(data), "--train", str(train), "--json"
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert {"n", "router", "accuracy", "macro_f1", "per_class", "latency_ms"} <= set(
        report
    )
    assert report["accuracy"] >= 0.9
    assert set(report["per_class"]["coding"]) == {"precision", "recall", "f1", "n"}
    assert set(report["latency_ms"]) == {"p50", "p99"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(data.read_text() + '{"prompt": "x", "capability": 7}\n')
    proc = dispatch(env, "eval", "capability", str(bad), "--train", str(train))
    assert proc.returncode == 2
    message = " ".join(proc.stderr.split())  # rich wraps long lines
    assert "bad.jsonl: line 19: 'capability' must be a string" in message


def test_the_configured_artefact_routes_the_demo_s_hops(
    tmp_path: Path, env: dict[str, str], trained: tuple[Path, dict[str, Any]]
) -> None:
    shutil.copy(trained[0] / "router.npz", tmp_path / "router.npz")
    config = tmp_path / "registry.yaml"
    config.write_text(LEARNED_REGISTRY)
    cache = tmp_path / "cache"  # the shared ONNX export, a cache dir of its own
    cache.mkdir()
    (cache / "onnx").symlink_to(Path(env["DISPATCH_CACHE_DIR"]) / "onnx")
    demo = dispatch(
        {
            **env,
            "DISPATCH_CHECKPOINTS": str(tmp_path / "ck.sqlite"),
            "DISPATCH_CACHE_DIR": str(cache),
        },
        "demo", "--config", str(config), "--json",
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    # live hops keep vectors in memory: no disk cache growing with every prompt
    assert sorted(p.name for p in cache.iterdir()) == ["onnx"]
    hops = json.loads(demo.stdout)["hops"]
    assert hops and {h["router"] for h in hops} == {"learned"}
    # per-prompt predictions, not the priors (which clear every bar for every model)
    assert all("predicted" in h["reason"] for h in hops)
    coding = {h["model"] for h in hops if h["capability"] == "coding"}
    others = {h["model"] for h in hops if h["capability"] != "coding"}
    assert "p:dear-4" in coding and "p:cheap-7b" in others
    (tmp_path / "router.npz").unlink()
    missing = dispatch(env, "demo", "--config", str(config), "--json")
    assert missing.returncode == 2
    assert "router.npz" in missing.stderr
