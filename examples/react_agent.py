"""Drop-in: a RoutedChatModel as the model of LangChain's prebuilt agent.

Every call the agent makes, including the one after the tool result, is a routed,
priced hop. Offline, the simulator stands in for the real models.
"""

from langchain.agents import create_agent
from langchain_core.messages import HumanMessage

from dispatch import Dispatcher, RoutedChatModel
from dispatch.agents import calculate
from dispatch.langchain import hops_from_messages

dispatcher = Dispatcher.from_config(simulate=True)
agent = create_agent(
    model=RoutedChatModel(dispatcher=dispatcher, specialist="assistant"),
    tools=[calculate()],
)

state = agent.invoke(
    {"messages": [HumanMessage("By how much did p95 rise? (310 - 182) / 182 * 100")]}
)
for hop in hops_from_messages(state["messages"]):
    kind = "after tool" if hop.after_tool else "first call"
    print(
        f"{kind:<10} {hop.capability}/{hop.tier} -> {hop.model} "
        f"({hop.input_tokens}+{hop.output_tokens} tokens, ${hop.cost_usd:.6f})"
    )
print(state["messages"][-1].text)
