"""The `dispatch` command on a Postgres checkpoint store: ``DISPATCH_CHECKPOINTS``
set to a ``postgresql://`` URL, a real server, real processes (forks of the
pre-imported CLI, ``tests/_warm_cli.py``: each its own process and connection)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from typing import Any

from _warm_cli import shared
from conftest import PROVIDER_KEYS

from dispatch.cli.checkpoints import postgres_thread_lock


def dispatch(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS}
    env["DISPATCH_CHECKPOINTS"] = url
    return shared().run(*args, env=env, timeout=300)


def run_json(url: str, *args: str, code: int = 0) -> dict[str, Any]:
    proc = dispatch(url, *args, "--json")
    assert proc.returncode == code, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def test_turns_pins_and_reports_live_in_postgres(postgres_url: str) -> None:
    thread = f"cli-{uuid.uuid4().hex[:8]}"
    first = run_json(postgres_url, "demo", "--thread", thread)
    second = run_json(postgres_url, "demo", "--thread", thread)
    assert not first["hops"][0]["pinned"]
    assert all(h["pinned"] for h in second["hops"])
    pins = run_json(postgres_url, "pins", thread)["pins"]
    assert pins["coding@large"]["model"] == second["hops"][-2]["model"]
    report = run_json(postgres_url, "report")  # the latest thread
    assert (report["thread"], report["hops"]) == (thread, len(second["hops"]))
    assert dispatch(postgres_url, "pins", "nope").returncode == 2


def test_a_thread_running_in_another_worker_is_busy(postgres_url: str) -> None:
    thread = f"busy-{uuid.uuid4().hex[:8]}"
    with postgres_thread_lock(postgres_url, thread):
        out = run_json(postgres_url, "demo", "--thread", thread, code=5)
    assert out["status"] == "busy" and "already running" in out["reason"]
    assert run_json(postgres_url, "demo", "--thread", thread)["status"] == "ok"


def test_a_limited_run_journals_its_spend_in_the_same_database(
    postgres_url: str,
) -> None:
    from decimal import Decimal

    from dispatch.budget_scopes import open_budget_scope

    thread = f"journal-{uuid.uuid4().hex[:8]}"
    run = run_json(
        postgres_url, "demo", "--thread", thread, "--budget", "0.05",
        "--budget-mode", "hard",
    )  # fmt: skip
    assert run["status"] == "ok"
    with open_budget_scope(postgres_url, f"workflow:{run['workflow']}") as journal:
        totals = journal.totals()
    assert (totals.limit_usd, totals.reserved_usd) == (Decimal("0.05"), 0)
    assert float(totals.spent_usd) == run["budget"]["spent_usd"]
