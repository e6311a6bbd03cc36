"""``dispatch route --router semantic --json`` on a cold cache: the one-time ONNX
export loads MiniLM through transformers, and stderr still holds nothing but the
CLI's own lines (users run ``2>&1 | jq``), no "Loading weights" bar or library log.

A cold process (not the warm fork server): what a user's first run does, from the
first import of transformers to the export. Its ~20 s are the export itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROVIDER_KEYS

pytest.importorskip("onnxruntime")
pytest.importorskip("sentence_transformers")


def test_a_cold_onnx_export_under_json_leaves_stderr_to_the_cli(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS}
    env.update(
        DISPATCH_CACHE_DIR=str(cache),
        DISPATCH_CHECKPOINTS=str(tmp_path / "ck.sqlite"),
        HF_HUB_OFFLINE="1",
    )
    env.pop("DISPATCH_ENCODER", None)  # the default: ONNX, exported on first use
    proc = subprocess.run(
        [sys.executable, "-m", "dispatch", "route", "sort this list in Python"]
        + ["--router", "semantic", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["router"] in ("semantic", "rules")
    assert list((cache / "onnx").glob("*.onnx")), "the run did not export (cache warm?)"
    foreign = [
        line for line in proc.stderr.splitlines() if not line.startswith("warning: ")
    ]
    assert foreign == [], proc.stderr
