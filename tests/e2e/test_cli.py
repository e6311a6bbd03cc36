"""The `dispatch` command as a user runs it: a real process per command, no API key.

One cold ``python -m dispatch demo --json`` is shared by the tests that read the
default demo; every other command runs as a fork of a pre-imported CLI (see
``tests/_warm_cli.py``): its own process, argv, environment and exit code,
without paying the interpreter's imports again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _warm_cli import shared
from conftest import PROVIDER_KEYS, SMALL_REGISTRY


@pytest.fixture(autouse=True)
def checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "checkpoints.sqlite"
    monkeypatch.setenv("DISPATCH_CHECKPOINTS", str(path))
    return path


def dispatch(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS}
    return shared().run(*args, env=env, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def default_demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`dispatch demo --json` in a cold interpreter, the way a user first runs it."""
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS}
    env["DISPATCH_CHECKPOINTS"] = str(tmp_path_factory.mktemp("demo") / "c.sqlite")
    proc = subprocess.run(
        [sys.executable, "-m", "dispatch", "demo", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def test_demo_json_shows_routed_hops_a_baseline_and_a_saving(
    default_demo: dict[str, Any],
) -> None:
    out = default_demo
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
            "round",
            "router",
            "confidence",
        } <= set(hop)
    # a tool-following call is the same step, one round on, on the step's model
    after = [h for h in hops if h["round"] > 0]
    assert after and all(h["after_tool"] for h in after)
    assert out["total_cost_usd"] == pytest.approx(sum(h["cost_usd"] for h in hops))
    assert 0 < out["total_cost_usd"] < out["baseline_cost_usd"]
    assert any(h["pinned"] for h in hops)


def test_demo_table_says_plainly_that_responses_are_simulated() -> None:
    proc = dispatch("demo")
    assert proc.returncode == 0, proc.stderr
    assert "SIMULATED RUN" in proc.stdout
    assert "slo +tool1" in proc.stdout  # the call after the search tool's result
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


def run_json(*args: str, code: int = 0) -> dict[str, Any]:
    proc = dispatch(*args, "--json")
    assert proc.returncode == code, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout)
    assert out.get("exit_code", code) == code
    return out


def test_a_successful_run_says_ok_in_json(default_demo: dict[str, Any]) -> None:
    out = default_demo
    assert (out["status"], out["exit_code"]) == ("ok", 0)
    assert out["reason"] == "6 of 6 task(s) succeeded"


def test_hard_budget_refuses_to_start_when_the_expected_cost_does_not_fit() -> None:
    out = run_json("demo", "--budget", "0.002", "--budget-mode", "hard", code=3)
    assert out["status"] == "refused" and "expected cost" in out["reason"]
    budget = out["budget"]
    assert budget["spent_usd"] == 0.0 and not budget["exceeded"]
    assert budget["refused"] == 7 and budget["preflight"]["refused_start"]
    assert budget["preflight"]["expected_cost_usd"] > 0.002
    assert out["hops"] == []
    text = dispatch("demo", "--budget", "0.002", "--budget-mode", "hard")
    assert text.returncode == 3 and "refused to start" in text.stderr


def test_hard_budget_starts_when_the_expected_cost_fits_and_strict_wants_the_worst_case() -> (
    None
):
    # real cost ~$0.0135, expected ~$0.036, worst case ~$0.39
    out = run_json("demo", "--budget", "0.05", "--budget-mode", "hard")
    assert out["status"] == "ok"
    assert out["budget"]["spent_usd"] <= 0.05 and out["budget"]["refused"] == 0
    assert out["budget"]["preflight"]["worst_case_cost_usd"] > 0.05
    strict = run_json(
        "demo", "--budget", "0.05", "--budget-mode", "hard", "--strict", code=3
    )
    assert strict["status"] == "refused" and "worst case" in strict["reason"]
    assert strict["hops"] == []


def test_hard_budget_with_allow_partial_refuses_hops_instead_of_overspending() -> None:
    out = run_json(
        "demo", "--budget", "0.002", "--budget-mode", "hard", "--allow-partial", code=4
    )
    assert out["status"] == "partial"
    assert "refused by the budget" in out["reason"]
    budget = out["budget"]
    assert budget["spent_usd"] <= 0.002
    assert budget["spent_usd"] == pytest.approx(out["total_cost_usd"])
    # refusing hops kept spend within the limit: refused, not "exceeded"
    assert budget["refused"] >= 1 and not budget["exceeded"]
    assert any(h["refused"] for h in out["hops"])
    assert not any(h["repinned_from"] for h in out["hops"] if h["refused"])
    text = dispatch(
        "demo", "--budget", "0.002", "--budget-mode", "hard", "--allow-partial"
    )
    (line,) = [ln for ln in text.stdout.splitlines() if ln.startswith("budget ")]
    assert f"refused {budget['refused']} hop(s)" in line and "exceeded" not in line


def test_soft_budget_finishes_the_workflow_on_cheaper_tiers() -> None:
    out = run_json("demo", "--budget", "0.002", "--budget-mode", "soft")
    assert out["budget"]["spent_usd"] <= 0.002
    assert out["budget"]["refused"] == 0
    assert {h["tier"] for h in out["hops"]} == {"small"}
    assert not any(h["error"] for h in out["hops"])
    downgraded = [h for h in out["hops"] if "budget:" in h["reason"]]
    assert downgraded, "the soft budget stepped some hop down a tier"
    assert all(h["reason"].count("budget:") == 1 for h in downgraded)


def test_a_second_turn_on_a_thread_reuses_the_pins(checkpoints: Path) -> None:
    first = run_json("demo", "--thread", "conv-1")
    second = run_json("demo", "--thread", "conv-1")
    assert first["thread"] == second["thread"] == "conv-1"
    assert first["workflow"] != second["workflow"]
    assert not first["hops"][0]["pinned"]
    assert all(h["pinned"] for h in second["hops"])
    # pins are per (specialist, tier): each scope keeps its turn-one model
    pinned_in_turn_one = {
        (h["specialist"], h["tier"]): h["model"] for h in first["hops"]
    }
    assert all(
        h["model"] == pinned_in_turn_one[h["specialist"], h["tier"]]
        for h in second["hops"]
    )
    assert second["total_cost_usd"] <= first["total_cost_usd"]
    pins = run_json("pins", "conv-1")["pins"]
    assert pins["coding@large"]["model"] == second["hops"][-2]["model"]
    assert dispatch("pins", "nope").returncode == 2


def test_estimate_worst_case_is_not_below_the_demo_cost(
    default_demo: dict[str, Any],
) -> None:
    est = run_json("estimate")
    demo = default_demo
    assert est["worst_case_cost_usd"] >= demo["total_cost_usd"]
    assert est["worst_path"][0] == "plan" and est["worst_path"][-1] == "synthesize"
    assert set(est["nodes"]) >= {"slo", "alerting", "synthesize"}


def test_report_reads_the_checkpointed_run() -> None:
    demo = run_json("demo", "--thread", "rep-1")
    report = run_json("report", "rep-1")
    assert report["thread"] == "rep-1"
    assert report["hops"] == len(demo["hops"])
    assert report["total_cost_usd"] == pytest.approx(demo["total_cost_usd"])
    assert report["baseline_cost_usd"] == pytest.approx(demo["baseline_cost_usd"])
    assert set(report["by_tier"]) == {h["tier"] for h in demo["hops"]}
    assert all(v["p95"] >= v["p50"] for v in report["latency_ms"].values())
    table = dispatch("report")  # the latest thread
    assert table.returncode == 0 and "routing metrics" in table.stdout
    assert dispatch("report", "nope").returncode == 2


def test_route_with_the_hybrid_router_uses_embeddings_when_rules_are_unsure(
    minilm_cache: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS}
    env["DISPATCH_CACHE_DIR"] = str(minilm_cache)  # the session's ONNX export
    proc = shared().run(
        "route", "Write a warm welcome message for a new teammate",
        "--router", "hybrid", "--json", env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["capability"], out["router"]) == ("general", "semantic")
    bad = dispatch("route", "x", "--router", "psychic")
    assert bad.returncode == 2 and "'psychic' is not one of" in bad.stderr


def test_report_shows_the_circuit_of_a_dead_model(checkpoints: Path) -> None:
    # A run in this process where the cheapest search model always answers 503
    # (its circuit opens), checkpointed where the CLI reads; then `dispatch
    # report` in a subprocess shows the breaker from the checkpoint alone.
    import asyncio

    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    from dispatch import DispatchContext, Dispatcher, Registry
    from dispatch.graphs import DEMO_PLAN, DEMO_REQUEST, build_orchestrator
    from dispatch.health import ModelHealth
    from dispatch.resilience import CircuitBreaker, RetrySettings
    from dispatch.testing_faults import Fault, faulty_factory

    dead = "google_genai:gemini-2.5-flash-lite"
    dispatcher = Dispatcher(
        Registry.from_config(),
        model_factory=faulty_factory(0.0, per_model={dead: (1.0, [Fault.SERVER])}),
        health=ModelHealth(
            retry=RetrySettings(attempts=2, initial_s=0, jitter_s=0),
            breaker=CircuitBreaker(min_calls=3, cooldown_s=600),
        ),
    )

    async def run() -> None:
        async with AsyncSqliteSaver.from_conn_string(str(checkpoints)) as saver:
            graph = build_orchestrator(dispatcher, checkpointer=saver)
            await graph.ainvoke(
                {"request": DEMO_REQUEST, "tasks": list(DEMO_PLAN)},
                {"configurable": {"thread_id": "circ-1"}},
                context=DispatchContext(budget_usd="5", budget_mode="hard"),
            )

    asyncio.run(run())
    report = run_json("report", "circ-1")
    circuit = report["circuits"][dead]
    assert circuit["state"] == "open"
    assert circuit["failures"] >= 3 and circuit["failures"] == circuit["calls"]
    assert circuit["last_error"] == "InternalServerError (503)"
    assert circuit["opened_at"] < circuit["probe_at"]
    table = dispatch("report", "circ-1")
    assert table.returncode == 0, table.stderr
    assert "circuits" in table.stdout and "open" in table.stdout
    assert "InternalServerError (503)" in table.stdout
