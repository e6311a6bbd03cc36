"""Bad input to `dispatch train`, `dispatch eval` and a configured artefact: one
``error:`` line naming what is wrong and where, exit 2 (with and without
``--json``), no traceback, and no artefact left behind by a failed train.

Each command is its own process, forked from the pre-imported CLI in
`_warm_cli`; the files are small synthetic ones, like `test_learn_cli.py`'s.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from _learn_files import LEARNED_REGISTRY, MODELS
from _warm_cli import shared
from conftest import PROVIDER_KEYS

TOPICS = {
    "coding": "Write a Python function that {} and add unit tests for it.",
    "search": "Who was the first person to {} and in which year did it happen?",
    "general": "Write a warm, friendly birthday card for my aunt who loves to {}.",
}
ACTS = ["sort a list", "climb Everest", "bake bread", "parse dates", "sail alone"]


def record(i: int, capability: str) -> dict[str, Any]:
    hard = capability == "coding"
    return {
        "id": f"x-{capability}-{i}",
        "prompt": TOPICS[capability].format(ACTS[i % len(ACTS)]) + f" (case {i})",
        "capability": capability,
        "source": "synthetic",
        "outcomes": {
            "cheap-7b": {"quality": 0.0 if hard else 1.0, "cost_usd": 0.0001},
            "dear-4": {"quality": 1.0, "cost_usd": 0.01},
        },
    }


def records(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [record(i, c) for i in range(start, start + n) for c in TOPICS]


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def env(minilm_cache: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS}
    return {**base, "DISPATCH_CACHE_DIR": str(minilm_cache), "HF_HUB_OFFLINE": "1"}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A valid training set, held-out set and models file."""
    models = tmp_path / "models.json"
    models.write_text(json.dumps(MODELS))
    return {
        "train": write(tmp_path / "train.jsonl", records(10)),
        "data": write(tmp_path / "data.jsonl", records(4, start=100)),
        "models": models,
    }


def dispatch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return shared().run(*args, env=env, timeout=600)


def refused(proc: subprocess.CompletedProcess[str], *names: str) -> str:
    """Assert exit 2 with one error naming `names`, no traceback; the message."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and "╭" not in proc.stderr, proc.stderr
    message = " ".join(proc.stderr.split())  # rich wraps long lines
    assert message.startswith("error:"), message
    for name in names:
        assert name in message, message
    return message


def train(
    env: dict[str, str], outcomes: Path, models: Path, out: Path, *extra: str
) -> list[subprocess.CompletedProcess[str]]:
    """`dispatch train` in plain and --json modes."""
    args = ("train", str(outcomes), "--models", str(models), "-o", str(out), *extra)
    return [dispatch(env, *args), dispatch(env, *args, "--json")]


@pytest.mark.parametrize(
    ("name", "content", "where"),
    [
        ("nonutf8.jsonl", b'{"prompt": "caf\xe9"}\n', "line 31: not valid UTF-8"),
        (
            "nan.jsonl",
            b'{"prompt": "p", "outcomes": {"cheap-7b": {"quality": 1, '
            b'"cost_usd": NaN}, "dear-4": {"quality": 1, "cost_usd": 0.1}}}\n',
            "line 31: outcomes['cheap-7b'] is malformed",
        ),
        (
            "dup.jsonl",
            json.dumps(record(0, "coding")).encode() + b"\n",
            "line 31: duplicate id 'x-coding-0' (first on line 1)",
        ),
    ],
)
def test_a_bad_outcomes_line_is_named_and_no_artefact_is_written(
    tmp_path: Path,
    env: dict[str, str],
    files: dict[str, Path],
    name: str,
    content: bytes,
    where: str,
) -> None:
    bad = tmp_path / name
    bad.write_bytes(files["train"].read_bytes() + content)
    out = tmp_path / "router.npz"
    for proc in train(env, bad, files["models"], out):
        refused(proc, f"{name}: {where}")
    assert not out.exists()


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ({"price_in_per_mtok": -1}, "cheap-7b.price_in_per_mtok"),
        ({"price_in_per_mtok": "abc"}, "cheap-7b.price_in_per_mtok"),
        ({"tier": "huge"}, "cheap-7b.tier"),
    ],
)
def test_a_bad_models_file_entry_names_the_file_and_the_key(
    tmp_path: Path,
    env: dict[str, str],
    files: dict[str, Path],
    entry: dict[str, Any],
    where: str,
) -> None:
    models = tmp_path / "bad_models.json"
    models.write_text(
        json.dumps({**MODELS, "cheap-7b": {**MODELS["cheap-7b"], **entry}})
    )
    out = tmp_path / "router.npz"
    for proc in train(env, files["train"], models, out):
        refused(proc, f"bad_models.json: {where}")
    assert not out.exists()


def test_a_model_without_an_entry_or_a_price_names_the_models_file(
    tmp_path: Path, env: dict[str, str], files: dict[str, Path]
) -> None:
    no_price = tmp_path / "no_price.json"
    no_price.write_text(
        json.dumps(
            {**MODELS, "cheap-7b": {**MODELS["cheap-7b"], "price_in_per_mtok": None}}
        )
    )
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({"dear-4": MODELS["dear-4"]}))
    out = tmp_path / "router.npz"
    for proc in train(env, files["train"], no_price, out):
        refused(proc, "no_price.json: cheap-7b", "no price")
    eval_args = ("eval", "outcomes", str(files["data"]), "--train", str(files["train"]))
    refused(dispatch(env, *eval_args, "--models", str(no_price)), "no_price.json")
    refused(dispatch(env, *eval_args, "--models", str(missing)), "missing.json")
    assert not out.exists()


@pytest.mark.parametrize("target", ["0", "1.5", "nan", "-1", "inf"])
def test_a_target_quality_outside_zero_to_one_is_refused(
    tmp_path: Path, env: dict[str, str], files: dict[str, Path], target: str
) -> None:
    out = tmp_path / "router.npz"
    for proc in train(
        env, files["train"], files["models"], out, "--target-quality", target
    ):
        refused(proc, "--target-quality")
    assert not out.exists()
    proc = dispatch(
        env, "eval", "outcomes", str(files["data"]), "--train", str(files["train"]),
        "--models", str(files["models"]), "--target-quality", target, "--json",
    )  # fmt: skip
    refused(proc, "--target-quality")


def test_an_unknown_quality_head_lists_the_heads(
    tmp_path: Path, env: dict[str, str], files: dict[str, Path]
) -> None:
    out = tmp_path / "router.npz"
    plain, as_json = train(env, files["train"], files["models"], out, "--head", "svm")
    refused(plain, "--head", "'svm'", "logreg, mf, knn")
    refused(as_json, "--head")
    assert json.loads(as_json.stdout)["status"] == "error"
    assert not out.exists()


def test_training_refuses_a_model_with_outcomes_on_some_lines_only(
    tmp_path: Path, env: dict[str, str], files: dict[str, Path]
) -> None:
    rows = records(10)
    del rows[7]["outcomes"]["cheap-7b"]  # cheap-7b is missing on line 8 only
    partial = write(tmp_path / "partial.jsonl", rows)
    out = tmp_path / "router.npz"
    for proc in train(env, partial, files["models"], out):
        refused(proc, "partial.jsonl: line 8", "no outcome for model 'cheap-7b'")
    assert not out.exists()


def test_training_needs_two_models_with_outcomes(
    tmp_path: Path, env: dict[str, str], files: dict[str, Path]
) -> None:
    rows = records(10)
    for row in rows:
        del row["outcomes"]["cheap-7b"]
    single = write(tmp_path / "single.jsonl", rows)
    out = tmp_path / "router.npz"
    for proc in train(env, single, files["models"], out):
        refused(proc, "single.jsonl", "fewer than two models", "dear-4")
    assert not out.exists()


def test_a_labelled_file_of_one_capability_is_refused(
    tmp_path: Path, env: dict[str, str], files: dict[str, Path]
) -> None:
    coding = [r for r in records(10) if r["capability"] == "coding"]
    labelled = write(tmp_path / "coding_only.jsonl", coding)
    out = tmp_path / "router.npz"
    for proc in train(
        env, files["train"], files["models"], out, "--labelled", str(labelled)
    ):
        refused(proc, "coding_only.jsonl", "at least two capabilities")
    assert not out.exists()


def test_too_few_prompts_for_cross_validation_name_the_file(
    tmp_path: Path, env: dict[str, str], files: dict[str, Path]
) -> None:
    tiny = write(tmp_path / "tiny.jsonl", records(1))  # 3 prompts, one per capability
    out = tmp_path / "router.npz"
    for proc in train(env, tiny, files["models"], out):
        refused(proc, "tiny.jsonl", "5-fold cross-validation")
    labelled = write(tmp_path / "few_labels.jsonl", records(2))  # 2 per capability
    for proc in train(
        env, files["train"], files["models"], out, "--labelled", str(labelled)
    ):
        refused(proc, "few_labels.jsonl", "5-fold cross-validation")
    assert not out.exists()
    proc = dispatch(
        env, "eval", "outcomes", str(files["data"]), "--train", str(tiny),
        "--models", str(files["models"]),
    )  # fmt: skip
    refused(proc, "tiny.jsonl", "5-fold cross-validation")


def test_an_output_that_cannot_be_written_is_named(
    tmp_path: Path, env: dict[str, str], files: dict[str, Path]
) -> None:
    folder = tmp_path / "router.npz"
    folder.mkdir()
    proc = dispatch(
        env, "train", str(files["train"]), "--models", str(files["models"]),
        "-o", str(folder), "--json",
    )  # fmt: skip
    refused(proc, "router.npz: cannot write artefact")
    # --json: a script reads an error object on stdout, never empty output
    assert json.loads(proc.stdout)["status"] == "error"
    assert "cannot write artefact" in json.loads(proc.stdout)["reason"]
    under_a_file = files["models"] / "router.npz"
    proc = dispatch(
        env, "train", str(files["train"]), "--models", str(files["models"]),
        "-o", str(under_a_file),
    )  # fmt: skip
    refused(proc, "cannot write artefact")
    proc = dispatch(
        env, "train", "missing.jsonl", "--models", str(files["models"]),
        "-o", str(folder),
    )  # fmt: skip
    refused(proc, "router.npz: cannot write artefact: a directory")  # before reading
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "data.jsonl",
        "models.json",
        "router.npz",
        "train.jsonl",
    ]
    assert list(folder.iterdir()) == []


def test_a_plot_that_cannot_be_written_is_named(
    tmp_path: Path, env: dict[str, str], files: dict[str, Path]
) -> None:
    folder = tmp_path / "curve.png"
    folder.mkdir()
    for plot in (folder, files["models"] / "curve.png", tmp_path / "curve.xyz"):
        proc = dispatch(
            env, "eval", "outcomes", str(files["data"]), "--train", str(files["train"]),
            "--models", str(files["models"]), "--plot", str(plot),
        )  # fmt: skip
        refused(proc, f"{plot.name}: cannot write the --plot")
    # checked before anything is read or trained: a missing TRAIN is not reached
    proc = dispatch(
        env, "eval", "outcomes", str(files["data"]), "--train", "missing.jsonl",
        "--models", str(files["models"]), "--plot", str(folder),
    )  # fmt: skip
    refused(proc, "curve.png: cannot write the --plot: a directory")


def test_a_truncated_configured_artefact_is_named_at_start_up(
    tmp_path: Path, env: dict[str, str], files: dict[str, Path]
) -> None:
    artefact = tmp_path / "router.npz"
    proc = dispatch(
        env, "train", str(files["train"]), "--models", str(files["models"]),
        "-o", str(artefact),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    raw = artefact.read_bytes()
    artefact.write_bytes(raw[: len(raw) // 2])
    config = tmp_path / "registry.yaml"
    config.write_text(LEARNED_REGISTRY)
    demo = dispatch(
        {**env, "DISPATCH_CHECKPOINTS": str(tmp_path / "ck.sqlite")},
        "demo", "--config", str(config), "--json",
    )  # fmt: skip
    refused(demo, "router.npz: cannot read artefact")
    assert json.loads(demo.stdout)["status"] == "error"


def test_a_cache_dir_that_is_a_file_is_named(
    tmp_path: Path, env: dict[str, str], files: dict[str, Path]
) -> None:
    proc = dispatch(
        {**env, "DISPATCH_CACHE_DIR": str(files["models"])},
        "eval", "capability", str(files["data"]), "--train", str(files["train"]),
    )  # fmt: skip
    refused(proc, "DISPATCH_CACHE_DIR", "models.json")
