"""A worker process of the many-workers test: runs one turn of many threads
concurrently on a shared checkpoint store, charging a shared budget scope."""

from __future__ import annotations

import asyncio
import os
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.graph import START, MessagesState, StateGraph

from dispatch import Dispatcher, DispatchState, Registry, Specialist, routed_node
from dispatch.budget import Ledgers
from dispatch.budget_scopes import open_budget_scope
from dispatch.langgraph.checkpoints import aopen_checkpointer
from dispatch.testing import fake_factory

WRITER = Specialist(name="writer", capability="general", prompt="Be brief.")
PROMPTS = ("Say hello", "What is the average of 3, 4 and 5?")


class State(MessagesState, DispatchState):
    pass


def writer_graph(dispatcher: Dispatcher, checkpointer: Any) -> Any:
    builder = StateGraph(State)
    builder.add_node("writer", routed_node(dispatcher, WRITER))
    builder.add_edge(START, "writer")
    return builder.compile(checkpointer=checkpointer)


def run_turn(
    store: str, registry_file: str, scope: str, threads: list[str], turn: int
) -> dict[str, int]:
    """Run turn `turn` (0 or 1) of every thread in `threads` at once; returns
    the pid that ran each thread."""
    asyncio.run(_run(store, Path(registry_file), scope, threads, turn))
    return dict.fromkeys(threads, os.getpid())


async def _run(
    store: str, registry_file: Path, scope: str, threads: list[str], turn: int
) -> None:
    dispatcher = Dispatcher(
        Registry.from_config(registry_file), model_factory=fake_factory({})
    )
    with open_budget_scope(store, scope) as shared:
        dispatcher.ledgers = Ledgers(shared=shared)
        async with aopen_checkpointer(store) as saver:
            graph = writer_graph(dispatcher, saver)
            await asyncio.gather(
                *(
                    graph.ainvoke(
                        {"messages": [HumanMessage(PROMPTS[turn])]},
                        {"configurable": {"thread_id": thread}},
                    )
                    for thread in threads
                )
            )


def serve(conn: Connection) -> None:
    """A worker's loop: run each turn it is sent, reply with `run_turn`'s result
    (or the error's text); stop on None."""
    while (job := conn.recv()) is not None:
        try:
            conn.send(run_turn(*job))
        except Exception as exc:  # reported to the test, which fails on it
            conn.send(f"{type(exc).__name__}: {exc}")
