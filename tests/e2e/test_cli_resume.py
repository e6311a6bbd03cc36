"""Runs that survive crashes and collisions: ``dispatch resume`` after ``kill -9``,
one run per thread at a time, a private checkpoint store, live progress.

The crash and the collision need real processes (a SIGKILLed run, two runs at
once): forks of the pre-imported CLI (``tests/_warm_cli.py``), each its own
process with its own pid, stderr pipe and exit status. Ctrl-C runs a cold
interpreter, whose SIGINT handler is the one Python installs at start-up. The
rest runs in-process through typer's runner.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from _cli import cli
from _warm_cli import PIPE, WarmProcess, shared

from dispatch.budget_scopes import open_budget_scope
from dispatch.cli.spend_journal import journal_target

pytestmark = pytest.mark.usefixtures("store")  # tests/conftest.py


def slow_calls() -> dict[str, str]:
    """The test's environment where each simulated call takes 0.3 s, so a run is
    still going when the test acts on its first progress line, however busy the
    machine is."""
    return dict(os.environ, DISPATCH_SIM_LATENCY_S="0.3")


def start_demo(*args: str) -> WarmProcess:
    """`dispatch demo --progress ...` in its own (forked) process, stderr piped."""
    return shared().start("demo", "--progress", *args, env=slow_calls(), stderr=PIPE)


def start_cold_demo(*args: str) -> subprocess.Popen[str]:
    """`dispatch demo --progress ...` in a fresh interpreter, stderr piped."""
    # A CI runner may start jobs with SIGINT ignored, and the child would inherit
    # that; Ctrl-C is put back the way a terminal delivers it.
    argv = ["dispatch", "demo", "--progress", *args]
    boot = (
        "import runpy, signal, sys; "
        "signal.signal(signal.SIGINT, signal.default_int_handler); "
        f"sys.argv = {argv!r}; runpy.run_module('dispatch', run_name='__main__')"
    )
    return subprocess.Popen(
        [sys.executable, "-c", boot],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=slow_calls(),
    )


def wait_for_first_hop(proc: subprocess.Popen[str] | WarmProcess) -> str:
    """Read the run's stderr until its first progress line (a task finished)."""
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("hop "):
            return line
    proc.communicate()
    pytest.fail(f"the run ended (exit {proc.returncode}) before reporting a hop")


def test_a_killed_run_resumes_without_rerunning_a_task_or_losing_spend(
    store: Path,
) -> None:
    proc = start_demo(
        "--thread", "crash-1", "--budget", "0.05", "--budget-mode", "hard"
    )
    wait_for_first_hop(proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    code, out, err = cli("resume", "crash-1", "--json")
    assert code == 0, err
    run = json.loads(out)
    assert (run["status"], run["resumed"], run["thread"]) == ("ok", True, "crash-1")
    assert run["reason"] == "6 of 6 task(s) succeeded"
    # every (step, round) ran once across the crash: 5 tool tasks of two
    # rounds each, the alerting task and the synthesis of one round each
    per_call = Counter((h["step"], h["after_tool"]) for h in run["hops"])
    assert set(per_call.values()) == {1} and len(per_call) == 12
    assert not any(h["error"] for h in run["hops"])
    # the ledger saw every recorded hop exactly once, plus what the checkpoint
    # lost: calls of unfinished tasks that were paid or still in flight at the
    # kill (their worst case), found in the spend journal
    budget = run["budget"]
    assert (budget["limit_usd"], budget["mode"]) == (0.05, "hard")
    unrecorded = budget.get("unrecorded_usd", 0.0)
    assert unrecorded > 0  # the kill came with calls in flight
    recorded = sum(h["cost_usd"] for h in run["hops"])
    assert recorded == pytest.approx(run["total_cost_usd"])
    assert budget["spent_usd"] == pytest.approx(recorded + unrecorded)
    journal = open_budget_scope(
        journal_target(store), f"workflow:{run['workflow']}", limit_usd=None
    )
    with journal:
        totals = journal.totals()
    assert float(totals.spent_usd + totals.reserved_usd) == pytest.approx(
        budget["spent_usd"]
    )
    assert totals.spent_usd + totals.reserved_usd <= Decimal("0.05")
    # the synthesis ran on the tier the demo asked for, as before the crash
    assert run["hops"][-1]["step"] == "synthesize"
    assert run["hops"][-1]["tier"] == "medium"

    code, out, _ = cli("resume", "crash-1", "--json")
    assert code == 0
    assert json.loads(out)["resumed"] is False
    code, _, err = cli("resume", "crash-1")
    assert code == 0 and "nothing to resume" in err
    # the crashed run left its store private
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.parent.stat().st_mode) == 0o700


def test_ctrl_c_stops_a_run_with_exit_130_and_says_how_to_finish_it() -> None:
    proc = start_cold_demo("--thread", "int-1")
    wait_for_first_hop(proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "dispatch resume int-1" in err and "Traceback" not in err
    code, out, err = cli("resume", "int-1", "--json")
    assert code == 0, err
    run = json.loads(out)
    assert run["resumed"] is True and run["status"] == "ok"
    per_call = Counter((h["step"], h["after_tool"]) for h in run["hops"])
    assert set(per_call.values()) == {1} and len(per_call) == 12


def test_resuming_an_unknown_thread_is_a_clear_error() -> None:
    code, _, err = cli("resume", "nope")
    assert code == 2 and err.startswith("error: no runs yet")
    assert cli("demo", "--thread", "known")[0] == 0
    code, _, err = cli("resume", "nope")
    assert code == 2 and "no conversation 'nope'" in err


def test_a_second_run_on_a_running_thread_is_refused_and_the_first_one_finishes(
    store: Path,
) -> None:
    first = start_demo("--thread", "busy-1")
    wait_for_first_hop(first)
    first.send_signal(signal.SIGSTOP)  # hold it mid-run, lock taken
    try:
        second = shared().run("demo", "--thread", "busy-1", "--json", timeout=120)
    finally:
        first.send_signal(signal.SIGCONT)
    assert second.returncode == 5, second.stderr
    assert "thread 'busy-1' is already running" in second.stderr
    assert f"process {first.pid}" in second.stderr
    refused = json.loads(second.stdout)
    assert (refused["status"], refused["exit_code"]) == ("busy", 5)
    first.communicate(timeout=120)
    assert first.returncode == 0
    # the first run's hops are all on the thread; the second left nothing
    code, out, _ = cli("report", "busy-1", "--json", "--workflow", "all")
    assert code == 0
    report = json.loads(out)
    assert len(report["workflows"]) == 1 and report["hops"] == 12
    assert stat.S_IMODE(store.stat().st_mode) == 0o600


def test_progress_shows_each_hop_in_text_mode_and_nothing_in_json_mode() -> None:
    code, out, err = cli("demo", "--progress")
    assert code == 0, err
    lines = [line for line in err.splitlines() if line.startswith("hop ")]
    assert len(lines) == 12
    assert any(line.startswith("hop synthesize ") for line in lines)
    assert not any(line.startswith("hop ") for line in out.splitlines())
    code, out, err = cli("demo", "--progress", "--json")
    assert code == 0, err
    assert not any(line.startswith("hop ") for line in err.splitlines())
    assert json.loads(out)["status"] == "ok"
