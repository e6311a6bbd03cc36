"""The first way in: `DispatchMiddleware` on LangChain's `create_agent`.

Every model call of the agent (the first one, and the ones after tool results)
is a routed, priced hop charged to the run's budget; `create_agent` still binds
the tools. Two turns on one thread: the second keeps the pinned model. Offline,
the simulator stands in for the real models at their real prices.
"""

from langchain.agents import create_agent
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from dispatch import DispatchContext, Dispatcher, DispatchMiddleware, hop_records
from dispatch.agents import calculate

dispatcher = Dispatcher.from_config(simulate=True)
routing = DispatchMiddleware(dispatcher, specialist="assistant")
agent = create_agent(
    routing.model,  # replaced on every call by the model the dispatcher chooses
    tools=[calculate()],
    middleware=[routing],
    context_schema=DispatchContext,
    checkpointer=InMemorySaver(),
)

thread = {"configurable": {"thread_id": "incident-7"}}
for turn in [
    "By how much did p95 rise? (310 - 182) / 182 * 100",
    "And the p99? (905 - 402) / 402 * 100",
]:
    state = agent.invoke(
        {"messages": [HumanMessage(turn)]},
        thread,
        context=DispatchContext(budget_usd=0.05, budget_mode="hard"),
    )
    tool_result = next(m for m in reversed(state["messages"]) if m.type == "tool")
    print(f"> {turn}\n  tool: {tool_result.text}")

for hop in hop_records(state):
    kind = "after tool" if hop.after_tool else "first call"
    print(
        f"{kind:<10} {hop.tier:<6} {hop.model:<30} ${hop.cost_usd:.6f}"
        f"  {'pinned' if hop.pinned else 'new pin'}"
    )
print("pins:", {scope: pin["model"] for scope, pin in state["pins"].items()})
print(f"last run spent ${state['budget']['spent_usd']} of $0.05")
