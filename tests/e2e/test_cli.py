"""The `dispatch` command as a user runs it: a real subprocess, no API key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SMALL_REGISTRY

KEYS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "OLLAMA_HOST",
)


def dispatch(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in KEYS}
    return subprocess.run(
        [sys.executable, "-m", "dispatch", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def test_demo_json_shows_routed_hops_a_baseline_and_a_saving() -> None:
    proc = dispatch("demo", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["simulated"] is True
    hops = out["hops"]
    assert len(hops) >= 5
    assert len({h["tier"] for h in hops}) >= 2
    assert len({h["capability"] for h in hops}) >= 3
    for hop in hops:
        assert {
            "specialist",
            "capability",
            "tier",
            "model",
            "input_tokens",
            "output_tokens",
            "cost_usd",
            "pinned",
            "router",
            "confidence",
        } <= set(hop)
    assert out["total_cost_usd"] == pytest.approx(sum(h["cost_usd"] for h in hops))
    assert 0 < out["total_cost_usd"] < out["baseline_cost_usd"]
    assert any(h["pinned"] for h in hops)


def test_demo_table_says_plainly_that_responses_are_simulated() -> None:
    proc = dispatch("demo")
    assert proc.returncode == 0, proc.stderr
    assert "SIMULATED RUN" in proc.stdout
    assert "baseline cost" in proc.stdout
    assert "saving" in proc.stdout


def test_models_lists_the_registry() -> None:
    proc = dispatch("models")
    assert proc.returncode == 0, proc.stderr
    assert "anthropic:claude-haiku-4-5" in proc.stdout
    models = json.loads(dispatch("models", "--json").stdout)
    assert {m["tier"] for m in models} == {"small", "medium", "large"}


def test_route_explains_a_decision() -> None:
    out = json.loads(dispatch("route", "What is 12 * 7?", "--json").stdout)
    assert (out["capability"], out["tier"]) == ("analysis", "small")


def test_malformed_registry_names_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "registry.yaml"
    bad.write_text(SMALL_REGISTRY.replace("tier: medium", "tier: huge"))
    proc = dispatch("models", "--config", str(bad))
    assert proc.returncode == 2
    assert str(bad) in proc.stderr.replace("\n", "")
    assert "models[1].tier" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_live_mode_without_credentials_is_a_clear_error() -> None:
    proc = dispatch("demo", "--mode", "live")
    assert proc.returncode == 2
    assert "needs provider credentials" in proc.stderr
