from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from dispatch.agents import calculate, run_python, search_tool, statistics_tool
from dispatch.sim import SimChatModel


def test_sim_is_deterministic_and_reports_declared_usage() -> None:
    model = SimChatModel(model="openai:gpt-5.4-mini")
    a = model.invoke([HumanMessage("Summarise the week")], max_tokens=400)
    b = model.invoke([HumanMessage("Summarise the week")], max_tokens=400)
    assert a.content == b.content
    assert a.usage_metadata == b.usage_metadata
    assert a.usage_metadata is not None
    assert 240 <= a.usage_metadata["output_tokens"] <= 400
    assert a.response_metadata["model_name"] == "sim:openai:gpt-5.4-mini"
    assert "simulated" in a.text


def test_sim_calls_the_tool_it_can_fill_then_answers_from_its_result() -> None:
    model = SimChatModel(model="m:x").bind_tools([statistics_tool(), calculate()])
    call = model.invoke([HumanMessage("What is (310 - 182) / 182 * 100?")])
    assert isinstance(call, AIMessage)
    assert call.tool_calls[0]["name"] == "calculate"
    assert call.tool_calls[0]["args"] == {"expression": "(310 - 182) / 182 * 100"}
    stats = model.invoke([HumanMessage("Stats of 1, 2, 3, 4 please")])
    assert stats.tool_calls[0]["args"] == {"values": [1.0, 2.0, 3.0, 4.0]}
    answer = model.invoke(
        [
            HumanMessage("q"),
            call,
            ToolMessage("= 70.33", tool_call_id=call.tool_calls[0]["id"]),
        ]
    )
    assert not answer.tool_calls
    assert "70.33" in answer.text


def test_sim_without_fillable_arguments_answers_directly() -> None:
    model = SimChatModel(model="m:x").bind_tools([run_python()])
    reply = model.invoke([HumanMessage("Explain recursion")])
    assert not reply.tool_calls
    with_code = model.invoke([HumanMessage("Run:\n```python\nprint(2)\n```")])
    assert with_code.tool_calls[0]["args"] == {"code": "print(2)\n"}
    query = (
        SimChatModel(model="m:x")
        .bind_tools([search_tool()])
        .invoke([HumanMessage("Who is on call?")])
    )
    assert query.tool_calls[0]["args"] == {"query": "Who is on call?"}
