"""One worker of many: checkpoints and a team's shared budget in one store.

Run as is, it uses a SQLite file in the current directory; pass a Postgres URL
(``python examples/many_workers.py postgresql://user@host/db``) and every worker
started the same way shares threads, pins and the team's budget.
"""

import sys
from datetime import date
from decimal import Decimal

from langchain_core.messages import HumanMessage
from langgraph.graph import START, MessagesState, StateGraph

from dispatch import Dispatcher, DispatchState, Specialist, hop_records, routed_node
from dispatch.budget import Ledgers
from dispatch.budget_scopes import open_budget_scope
from dispatch.langgraph.checkpoints import open_checkpointer

store = sys.argv[1] if len(sys.argv) > 1 else "many_workers.sqlite"


class State(MessagesState, DispatchState):
    """Messages plus graph-dispatch's `hops`, `pins` and `budget` channels."""


dispatcher = Dispatcher.from_config(simulate=True)  # offline stand-ins, real prices
writer = Specialist(name="writer", capability="general", prompt="Answer briefly.")

# A team's budget for today: every workflow of every worker charges it too.
today = f"team-a/{date.today()}"
with open_budget_scope(store, today, limit_usd=Decimal("0.01")) as team:
    dispatcher.ledgers = Ledgers(shared=team)
    with open_checkpointer(store) as saver:
        builder = StateGraph(State)
        builder.add_node("writer", routed_node(dispatcher, writer))
        builder.add_edge(START, "writer")
        graph = builder.compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "ticket-7"}}
        for turn in ["Draft a one-line release note.", "Make it friendlier."]:
            state = graph.invoke({"messages": [HumanMessage(turn)]}, config)
    for hop in hop_records(state)[-2:]:
        print(f"{hop.model:<36} ${hop.cost_usd:.6f} pinned={hop.pinned}")
    totals = team.totals()
    print(f"team-a today: spent ${totals.spent_usd:.6f} of ${totals.limit_usd}")
