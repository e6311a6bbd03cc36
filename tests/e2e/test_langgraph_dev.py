"""`langgraph dev` serving the orchestrator from the shipped `langgraph.json`, driven by
the official `langgraph_sdk` client: a thread, two runs, hops and pins read back from
the thread's state, budgets passed as run context.

Starts the real in-memory API server (the ``server`` extra) from the repository root,
with no provider keys, so the graph runs the simulator (offline).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import PROVIDER_KEYS

from dispatch import HopRecord, PinChange
from dispatch.graphs import DEMO_PLAN, DEMO_REQUEST

pytest.importorskip(
    "langgraph_api", reason="needs the server extra (langgraph-cli[inmem])"
)
from langgraph_sdk import get_sync_client

ROOT = Path(__file__).resolve().parents[2]
STARTUP_S = 180.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS}
    env.update(
        LANGGRAPH_CLI_NO_ANALYTICS="1",
        LANGSMITH_TRACING="false",
        DISPATCH_CHECKPOINTS=str(tmp_path_factory.mktemp("ckpt") / "runs.sqlite"),
    )
    log = tmp_path_factory.mktemp("server") / "langgraph-dev.log"
    langgraph = Path(sys.executable).with_name("langgraph")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(langgraph), "dev", "--no-browser", "--no-reload", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"langgraph dev exited {proc.returncode}:\n{log.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"langgraph dev not up in {STARTUP_S}s:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _request() -> dict[str, Any]:
    return {"request": DEMO_REQUEST, "tasks": [dict(t) for t in DEMO_PLAN]}


def _hops(values: dict[str, Any]) -> list[HopRecord]:
    return [HopRecord.from_dict(h) for h in values.get("hops", [])]


@pytest.fixture
def client(server: str) -> Iterator[Any]:
    with get_sync_client(url=server) as client:
        yield client


def test_two_runs_on_one_thread_read_back_hops_and_pins(client: Any) -> None:
    assert any(a["graph_id"] == "orchestrator" for a in client.assistants.search())
    thread = client.threads.create()
    context = {"budget_usd": "1.00", "budget_mode": "hard"}

    client.runs.wait(
        thread["thread_id"], "orchestrator", input=_request(), context=context
    )
    first = client.threads.get_state(thread["thread_id"])["values"]
    client.runs.wait(
        thread["thread_id"], "orchestrator", input=_request(), context=context
    )
    second = client.threads.get_state(thread["thread_id"])["values"]

    turn1 = _hops(first)
    turn2 = _hops(second)[len(turn1) :]
    assert turn1 and turn2
    assert {h.workflow for h in turn1}.isdisjoint({h.workflow for h in turn2})
    assert all(h.error is None for h in turn1 + turn2)
    # every hop of the second run reuses the model its specialist was pinned to
    assert all(h.pin_change is PinChange.KEPT for h in turn2 if h.round == 0)
    pins = second["pins"]
    assert pins and all("@" in scope for scope in pins)
    assert {h.model for h in turn2} <= {p["model"] for p in pins.values()}
    # the run's budget: the checkpointed spend is the sum of its own hops
    spent = Decimal(second["budget"]["spent_usd"])
    assert spent == sum((h.cost_usd for h in turn2), Decimal(0))
    assert second["budget"]["limit_usd"] == "1.00"
    assert second["answer"]


def test_a_hard_budget_in_the_run_context_refuses_hops(client: Any) -> None:
    thread = client.threads.create()

    client.runs.wait(
        thread["thread_id"],
        "orchestrator",
        input=_request(),
        context={"budget_usd": "0.0005", "budget_mode": "hard"},
    )
    values = client.threads.get_state(thread["thread_id"])["values"]

    hops = _hops(values)
    assert any(h.refused for h in hops)
    spent = sum((h.cost_usd for h in hops), Decimal(0))
    assert spent <= Decimal("0.0005")
    assert values["budget"]["exceeded"] or values["budget"]["refused"] > 0
