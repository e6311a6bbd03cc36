"""Your own LangGraph graph with a routed node; the pin holds across turns of a thread."""

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph

from dispatch import Dispatcher, DispatchState, Specialist, hop_records, routed_node


class State(MessagesState, DispatchState):
    """Messages plus graph-dispatch's `hops` and `pins` channels."""


writer = Specialist(name="writer", capability="general", prompt="Answer briefly.")
dispatcher = Dispatcher.from_config(simulate=True)  # offline stand-ins, real prices

builder = StateGraph(State)
builder.add_node("writer", routed_node(dispatcher, writer))
builder.add_edge(START, "writer")
graph = builder.compile(checkpointer=InMemorySaver())

config = {"configurable": {"thread_id": "conversation-42"}}
for turn in [
    "Draft a one-line release note.",
    "Make it friendlier.",
    "Now design the rollout step by step with edge cases and trade-offs.",
]:
    state = graph.invoke({"messages": [HumanMessage(turn)]}, config)

for hop in hop_records(state):
    status = (
        "pinned"
        if hop.pinned
        else f"re-pinned from {hop.repinned_from}"
        if hop.repinned_from
        else "new pin"
    )
    print(f"{hop.tier:<6} {hop.model:<36} ${hop.cost_usd:.6f}  {status}")
