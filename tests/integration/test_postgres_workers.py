"""Many workers on one Postgres: LangGraph's Postgres saver holds every thread's
hops and pins, and a shared budget scope holds the team's spend.

Three worker processes each run one turn of ten threads concurrently; the
second turn of every thread runs in a *different* process than its first, so
its pin can only come from Postgres.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from multiprocessing.context import ForkServerContext
from pathlib import Path

from _pg_workers import serve, writer_graph

from dispatch import Dispatcher, Registry, hop_records
from dispatch.budget_scopes import open_budget_scope
from dispatch.langgraph.checkpoints import open_checkpointer
from dispatch.testing import fake_factory

WORKERS, THREADS_EACH = 3, 10


def test_worker_processes_share_threads_pins_and_one_budget_on_postgres(
    postgres_url: str,
    registry_file: Path,
    registry: Registry,
    worker_processes: ForkServerContext,
) -> None:
    threads = [f"t-{uuid.uuid4().hex[:10]}" for _ in range(WORKERS * THREADS_EACH)]
    share = [threads[w::WORKERS] for w in range(WORKERS)]
    scope = open_budget_scope(
        postgres_url, f"team-{uuid.uuid4().hex[:8]}", limit_usd=Decimal(5)
    )
    ran_by: list[dict[str, int]] = []
    ctx = worker_processes
    pipes = [ctx.Pipe() for _ in range(WORKERS)]
    workers = [ctx.Process(target=serve, args=(child,)) for _, child in pipes]
    for worker in workers:
        worker.start()
    try:
        for turn in (0, 1):
            # Each worker takes the next worker's share on turn 2: no process
            # that ran a thread's first turn runs its second.
            for w, (parent, _) in enumerate(pipes):
                mine = share[(w + turn) % WORKERS]
                parent.send((postgres_url, str(registry_file), scope.scope, mine, turn))
            parts = []
            for parent, _ in pipes:
                assert parent.poll(180), "a worker did not answer within 180 s"
                parts.append(parent.recv())
            assert all(isinstance(p, dict) for p in parts), parts
            ran_by.append({t: pid for part in parts for t, pid in part.items()})
    finally:
        for (parent, _), worker in zip(pipes, workers, strict=True):
            parent.send(None)
            worker.join(30)

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
