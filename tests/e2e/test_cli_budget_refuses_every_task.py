"""A run in which the budget refused every task exits 3 (``refused``), not 1
(``failed``): no model call failed, so money is why nothing succeeded.

The orchestrator records a refused task as a result that is not ok, so such a
run once read "0 of 6 task(s) succeeded; failed: ..." and exited 1. SMALL_REGISTRY
has no free model, so a budget of $0 refuses every hop. In-process through
typer's runner, offline (simulated models).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _cli import cli
from conftest import SMALL_REGISTRY


@pytest.fixture
def config(tmp_path: Path, store: Path) -> str:
    path = tmp_path / "registry.yaml"
    path.write_text(SMALL_REGISTRY)
    return str(path)


@pytest.mark.parametrize(
    "budget",
    [
        ["--budget-mode", "hard", "--allow-partial"],
        ["--budget-mode", "soft"],
    ],
    ids=["hard-allow-partial", "soft"],
)
def test_a_budget_that_refused_every_task_exits_refused(
    config: str, budget: list[str]
) -> None:
    code, out, err = cli(
        "demo", "--config", config, "--mode", "sim", "--json", "--budget", "0", *budget
    )
    result = json.loads(out)
    assert (code, result["status"], result["exit_code"]) == (3, "refused", 3), out
    assert result["reason"].startswith("0 of 6 task(s) succeeded")
    assert "refused by the budget" in result["reason"]
    assert result["budget"]["spent_usd"] == 0.0 and result["budget"]["refused"] >= 6
    assert all(h["refused"] for h in result["hops"])
    assert err == ""


def test_the_table_says_refused_and_exit_3(config: str) -> None:
    code, _, err = cli(
        "demo",
        "--config",
        config,
        "--mode",
        "sim",
        "--budget",
        "0",
        "--budget-mode",
        "hard",
        "--allow-partial",
    )
    assert code == 3
    assert "refused (exit 3): 0 of 6 task(s) succeeded" in " ".join(err.split())
