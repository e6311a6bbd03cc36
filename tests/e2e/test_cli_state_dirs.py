"""The CLI's state and cache directories when they are not what they should be, and
a request longer than the planner's task cap: one `error:` line naming the path
and what is wrong (exit 2), or a run that goes through; never a traceback.

In-process through typer's runner, offline (simulated models). Nothing here
loads a real model: the cache-directory cases fail before the ONNX export, and
the checkpoint cases run the simulator.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _cli import assert_one_error_line, cli
from _learn_files import LEARNED_REGISTRY
from conftest import PROVIDER_KEYS

GARBAGE = bytes(range(256)) * 64
"""16 KiB that are not a SQLite database (no header, no pages)."""


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in (*PROVIDER_KEYS, "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("DISPATCH_ENCODER", raising=False)
    path = tmp_path / "checkpoints.sqlite"
    monkeypatch.setenv("DISPATCH_CHECKPOINTS", str(path))
    monkeypatch.setenv("DISPATCH_CACHE_DIR", str(tmp_path / "cache"))
    return path


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("a regular file where a directory should be\n")
    return path


# -- a request longer than the task cap ---------------------------------------------


def test_a_200_sentence_request_runs_in_at_most_32_tasks() -> None:
    request = " ".join(f"Sentence number {i} asks a thing." for i in range(200))
    code, out, err = cli("run", request, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["status"] == "ok"
    steps = {h["step"] for h in data["hops"]}
    assert steps == {f"t{i + 1}" for i in range(32)} | {"synthesize"}


def test_a_user_plan_over_the_cap_is_refused_naming_the_limit(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps([{"id": f"a{i}", "prompt": "x"} for i in range(33)]))
    code, _, err = cli("run", "r", "--plan", str(plan))
    assert_one_error_line(code, err, "too many tasks", "at most 32")


# -- a checkpoint database that is not one ------------------------------------------

COMMANDS = [
    pytest.param(("demo",), id="demo"),
    pytest.param(("run", "Summarise our SLO."), id="run"),
    pytest.param(("run", "Summarise our SLO.", "--thread", "t1"), id="run-thread"),
    pytest.param(("resume", "t1"), id="resume"),
    pytest.param(("pins", "t1"), id="pins"),
    pytest.param(("report",), id="report"),
]


@pytest.mark.parametrize("args", COMMANDS)
def test_a_corrupt_checkpoint_store_is_named_by_every_command(
    clean_env: Path, args: tuple[str, ...]
) -> None:
    clean_env.write_bytes(GARBAGE)
    code, out, err = cli(*args)
    assert_one_error_line(code, err, str(clean_env), "file is not a database")
    assert out == ""
    assert clean_env.read_bytes() == GARBAGE  # nothing was written over it


def test_a_damaged_checkpoint_store_is_named_before_anything_runs(
    clean_env: Path,
) -> None:
    code, _, err = cli("run", "Summarise our SLO.", "--thread", "t1", "--json")
    assert code == 0, err
    raw = bytearray(clean_env.read_bytes())
    page = 4096  # the first page (header and schema) stays; the rest is noise
    raw[page:] = GARBAGE[: len(raw) - page].ljust(len(raw) - page, b"\xa5")
    clean_env.write_bytes(bytes(raw))
    for args in (("run", "Again.", "--thread", "t1"), ("resume", "t1")):
        code, out, err = cli(*args, "--json")
        assert_one_error_line(code, err, str(clean_env), "malformed")
        assert json.loads(out)["status"] == "error"


# -- a state directory that is a file ------------------------------------------------


@pytest.mark.parametrize("command", ["demo", "run"])
def test_xdg_state_home_naming_a_file_is_an_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, a_file: Path, command: str
) -> None:
    monkeypatch.delenv("DISPATCH_CHECKPOINTS")
    monkeypatch.setenv("XDG_STATE_HOME", str(a_file))
    args = ["demo"] if command == "demo" else ["run", "Summarise our SLO."]
    code, out, err = cli(*args, "--json")
    assert_one_error_line(
        code, err, str(a_file / "graph-dispatch"), "Not a directory", "XDG_STATE_HOME"
    )
    assert json.loads(out)["status"] == "error"
    assert a_file.read_text().startswith("a regular file")


def test_a_checkpoint_store_that_is_a_directory_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DISPATCH_CHECKPOINTS", str(tmp_path))
    code, _, err = cli("run", "Summarise our SLO.")
    assert_one_error_line(code, err, f"checkpoint store {tmp_path}: Is a directory")


def test_reading_commands_under_a_file_state_home_say_there_are_no_runs(
    monkeypatch: pytest.MonkeyPatch, a_file: Path
) -> None:
    monkeypatch.delenv("DISPATCH_CHECKPOINTS")
    monkeypatch.setenv("XDG_STATE_HOME", str(a_file))
    for args in (("resume", "t1"), ("pins", "t1"), ("report",)):
        code, _, err = cli(*args)
        assert_one_error_line(code, err, "no runs yet", str(a_file))


# -- a cache directory that is a file ------------------------------------------------


def onnx_encoder_id() -> str:
    """The id of the encoder a float artefact gets here (no model is loaded)."""
    from dispatch.routing._onnx import OnnxEncoder, onnx_available

    if not onnx_available():
        pytest.skip("onnxruntime not installed: no ONNX export to fail")
    return OnnxEncoder().id


@pytest.fixture
def artefact_config(tmp_path: Path) -> Path:
    """A registry whose routing reads a (tiny, untrained) learned artefact."""
    from dispatch.routing.artefact import LearnedArtefact
    from dispatch.routing.heads import KnnHeads

    LearnedArtefact(
        encoder=onnx_encoder_id(),
        models=("p:cheap-7b", "p:dear-4"),
        quality=KnnHeads(
            points=np.eye(2, 384, dtype=np.float32),
            targets=np.eye(2, dtype=np.float32),
            k=1,
        ),
        bar=0.5,
    ).save(tmp_path / "router.npz")
    config = tmp_path / "registry.yaml"
    config.write_text(LEARNED_REGISTRY)
    return config


@pytest.mark.parametrize("command", ["estimate", "demo", "route"])
def test_a_cache_dir_that_is_a_file_fails_the_onnx_export_naming_it(
    monkeypatch: pytest.MonkeyPatch, a_file: Path, artefact_config: Path, command: str
) -> None:
    monkeypatch.setenv("DISPATCH_CACHE_DIR", str(a_file))
    args = [command, "x"] if command == "route" else [command]
    code, _, err = cli(*args, "-c", str(artefact_config))
    assert_one_error_line(
        code, err, str(a_file / "onnx"), "is not a directory", "$DISPATCH_CACHE_DIR"
    )
    assert a_file.read_text().startswith("a regular file")


def test_route_semantic_with_a_file_cache_dir_is_one_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, a_file: Path
) -> None:
    import importlib.util

    if importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip("sentence-transformers is not installed")
    onnx_encoder_id()  # skips without onnxruntime
    monkeypatch.setenv("DISPATCH_CACHE_DIR", str(a_file))
    # refused when the encoder is built: before the (optional) embedding cache
    # could warn about the same directory
    code, out, err = cli("route", "x", "--router", "semantic", "--json")
    assert_one_error_line(
        code, err, str(a_file / "onnx"), f"{a_file} is not a directory"
    )
    assert json.loads(out)["status"] == "error"
