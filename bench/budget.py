"""Ledger throughput under 64 concurrent asyncio tasks, and memory per pinned conversation.

Throughput is a reserve+settle pair per operation; the baseline is the same loop
adding the same Decimals to an unguarded total, measured in the same run.
Memory: a conversation's pin state (4 specialists) measured with tracemalloc,
and the SQLite checkpoint bytes per conversation of a routed graph.
Run: ``python -m bench`` (or ``python -m bench.budget``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import START, MessagesState, StateGraph

from dispatch import (
    Dispatcher,
    DispatchState,
    Ledger,
    Registry,
    Specialist,
    routed_node,
)
from dispatch.pins import merge_pins, pin_to_dict
from dispatch.types import Pin

TASKS, OPS = 64, 500
AMOUNT = Decimal("0.000123")


async def _ledger_run() -> float:
    ledger = Ledger(Decimal(10**6), "hard", workflow="bench")

    async def branch() -> None:
        for _ in range(OPS):
            held = ledger.reserve(AMOUNT)
            await asyncio.sleep(0)
            ledger.settle(held, AMOUNT)

    start = time.perf_counter()
    await asyncio.gather(*(branch() for _ in range(TASKS)))
    return time.perf_counter() - start


async def _baseline_run() -> float:
    total = [Decimal(0)]

    async def branch() -> None:
        for _ in range(OPS):
            total[0] += AMOUNT
            await asyncio.sleep(0)
            total[0] += AMOUNT - AMOUNT

    start = time.perf_counter()
    await asyncio.gather(*(branch() for _ in range(TASKS)))
    return time.perf_counter() - start


def _pin_state_bytes(conversations: int = 2000) -> float:
    pins = [
        pin_to_dict(
            Pin(model=f"provider:model-{i}", tier="small", reason="cheapest eligible")
        )
        for i in range(4)
    ]
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    states = [
        merge_pins(None, {f"specialist-{i}": dict(p) for i, p in enumerate(pins)})  # type: ignore[misc]
        for _ in range(conversations)
    ]
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    size = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert len(states) == conversations
    return size / conversations


class _State(MessagesState, DispatchState):
    pass


def _checkpoint_bytes(conversations: int = 100) -> float:
    dispatcher = Dispatcher(Registry.from_config(), simulate=True)
    builder = StateGraph(_State)
    builder.add_node(
        "writer",
        routed_node(dispatcher, Specialist(name="w", capability="general", prompt="p")),
    )
    builder.add_edge(START, "writer")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "c.sqlite"
        with sqlite3.connect(db, check_same_thread=False) as conn:
            graph: Any = builder.compile(checkpointer=SqliteSaver(conn))
            for n in range(conversations):
                graph.invoke(
                    {"messages": [HumanMessage("hi")]},
                    {"configurable": {"thread_id": str(n)}},
                )
            conn.commit()
        return db.stat().st_size / conversations


def main() -> None:
    """Print ledger throughput (ratio to the unguarded baseline) and memory figures."""
    ledger_t = min(asyncio.run(_ledger_run()) for _ in range(3))
    base_t = min(asyncio.run(_baseline_run()) for _ in range(3))
    ops = TASKS * OPS
    print(f"ledger reserve+settle, {TASKS} asyncio tasks : {ops / ledger_t:,.0f} ops/s")
    print(f"unguarded Decimal baseline, same loop     : {ops / base_t:,.0f} ops/s")
    print(f"ratio ledger/baseline time                : {ledger_t / base_t:.2f}x")
    print(
        f"pin state per conversation (4 pins)       : {_pin_state_bytes():,.0f} bytes in memory"
    )
    print(
        f"SQLite checkpoint per 1-turn conversation : {_checkpoint_bytes():,.0f} bytes on disk"
    )


if __name__ == "__main__":
    main()
