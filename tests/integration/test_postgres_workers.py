"""Many workers on one Postgres: LangGraph's Postgres saver holds every thread's
hops and pins, and a shared budget scope holds the team's spend.

Three worker processes each run one turn of ten threads concurrently; the
second turn of every thread runs in a *different* process than its first, so
its pin can only come from Postgres.
"""

from __future__ import annotations

import multiprocessing
import uuid
from decimal import Decimal
from pathlib import Path

from _pg_workers import run_turn, writer_graph

from dispatch import Dispatcher, Registry, hop_records
from dispatch.budget_scopes import open_budget_scope
from dispatch.langgraph.checkpoints import open_checkpointer
from dispatch.testing import fake_factory

WORKERS, THREADS_EACH = 3, 10


def test_worker_processes_share_threads_pins_and_one_budget_on_postgres(
    postgres_url: str, registry_file: Path, registry: Registry
) -> None:
    threads = [f"t-{uuid.uuid4().hex[:10]}" for _ in range(WORKERS * THREADS_EACH)]
    share = [threads[w::WORKERS] for w in range(WORKERS)]
    scope = open_budget_scope(
        postgres_url, f"team-{uuid.uuid4().hex[:8]}", limit_usd=Decimal(5)
    )
    ran_by: list[dict[str, int]] = []
    with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
        for turn in (0, 1):
            # turn 2 of a worker's threads goes to the next worker
            jobs = [
                (
                    postgres_url,
                    str(registry_file),
                    scope.scope,
                    share[(w + turn) % WORKERS],
                    turn,
                )
                for w in range(WORKERS)
            ]
            ran_by.append(
                {
                    t: pid
                    for part in pool.starmap(run_turn, jobs)
                    for t, pid in part.items()
                }
            )

    assert all(ran_by[0][t] != ran_by[1][t] for t in threads)
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))
    with open_checkpointer(postgres_url) as saver:
        graph = writer_graph(dispatcher, saver)
        records = {
            t: hop_records(graph.get_state({"configurable": {"thread_id": t}}).values)
            for t in threads
        }
    assert {t: len(r) for t, r in records.items()} == dict.fromkeys(
        threads, 2
    )  # 0 lost
    assert all([h.pinned for h in r] == [False, True] for r in records.values())
    assert all(r[0].model == r[1].model for r in records.values())
    with scope:
        totals = scope.totals()
    spent = sum((h.cost_usd for r in records.values() for h in r), Decimal(0))
    assert spent > 0
    assert (totals.spent_usd, totals.reserved_usd, totals.holds) == (spent, 0, 0)
