from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from dispatch._chat_models import with_output_cap
from dispatch.agents import calculate, run_python, search_tool, statistics_tool
from dispatch.sim import SimChatModel
from dispatch.types import ModelSpec


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


@pytest.mark.parametrize(
    "call_kwargs",
    [
        {"max_tokens": 40},
        {"max_completion_tokens": 40},
        {"max_output_tokens": 40},
        {"num_predict": 40},
        {"options": {"num_predict": 40, "temperature": 0.1}},
        {"extra_body": {"max_tokens": 40}},
    ],
    ids=lambda kw: next(iter(kw)),
)
def test_sim_never_declares_more_output_than_the_cap_in_any_spelling(
    call_kwargs: dict[str, Any],
) -> None:
    reply = SimChatModel(model="ollama:qwen").invoke(
        [HumanMessage("A long essay please")], **call_kwargs
    )
    assert reply.usage_metadata is not None
    assert 24 <= reply.usage_metadata["output_tokens"] <= 40


@pytest.mark.parametrize(
    "model_id", ["google_genai:g", "ollama:q", "anthropic:c", "openai:o"]
)
def test_with_output_cap_caps_the_sim_for_every_provider(model_id: str) -> None:
    spec = ModelSpec(
        id=model_id,
        tier="small",
        quality={},
        input_per_mtok=Decimal(1),
        output_per_mtok=Decimal(1),
        context_window=1000,
        max_output_tokens=1000,
    )
    sim = SimChatModel(model=model_id)
    capped = with_output_cap(sim, spec, 30)
    reply = capped.invoke([HumanMessage("Write everything you know")])
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["output_tokens"] <= 30
    assert sim.max_tokens is None  # the shared model is not changed


def test_sim_synthesis_shows_the_findings_cut_at_word_boundaries() -> None:
    long_finding = "The SLO for checkout is a p95 latency below 250 ms " * 8
    prompt = (
        "Combine these findings into one answer to: Why is checkout slow?\n"
        f"- slo (search): [simulated google_genai:x] From the tool results: {long_finding}\n"
        "- rise (analysis): From the tool results: (310 - 182) / 182 * 100 = 70.33\n"
        "- alerting (coding): Design a rule\ncontinued on a second line"
    )
    text = SimChatModel(model="google_genai:gemini-2.5-flash").invoke(prompt).text
    head, *findings = text.splitlines()
    assert head.startswith("[simulated google_genai:gemini-2.5-flash]")
    assert "Why is checkout slow?" in head
    assert len(findings) == 3
    assert (
        findings[1]
        == "- rise (analysis): From the tool results: (310 - 182) / 182 * 100 = 70.33"
    )
    assert (
        findings[2] == "- alerting (coding): Design a rule continued on a second line"
    )
    slo = findings[0]
    assert "[simulated google_genai:x]" not in slo  # nested labels removed
    assert slo.endswith("…")
    assert len(slo) <= 210
    full = " ".join(f"slo (search): From the tool results: {long_finding}".split())
    kept = slo.removeprefix("- ").removesuffix("…")
    assert full.startswith(kept)
    assert full[len(kept)] == " "  # cut between words, not inside one


def test_sim_task_with_dependency_results_names_them_on_one_line() -> None:
    prompt = (
        "Design an alerting rule.\n\nResults you can use:\n"
        "[slo] From the tool results: p95 below 250 ms\n[stats] n = 7; mean = 225.7"
    )
    text = SimChatModel(model="m:x").invoke(prompt).text
    assert "\n" not in text
    assert text.endswith(
        "Design an alerting rule. (building on the results of slo, stats)"
    )


def test_sim_tool_call_arguments_count_within_the_cap_too() -> None:
    code = "print([(i, i**2) for i in range(100)])\n" * 20
    model = SimChatModel(model="m:x").bind_tools([run_python()])
    call = model.invoke([HumanMessage(f"Run:\n```python\n{code}```")], max_tokens=25)
    assert call.tool_calls
    assert call.usage_metadata is not None
    assert call.usage_metadata["output_tokens"] == 25


def test_a_simulated_latency_makes_each_call_take_that_long() -> None:
    import time

    model = SimChatModel(model="openai:gpt-5.4-nano", latency_s=0.05)
    start = time.monotonic()
    model.invoke([HumanMessage("hello")])
    assert time.monotonic() - start >= 0.05


@pytest.mark.parametrize(("raw", "seconds"), [("", 0.0), ("0.25", 0.25), (" 2 ", 2.0)])
def test_the_simulated_latency_comes_from_the_environment(
    raw: str, seconds: float
) -> None:
    from dispatch.environment import sim_latency

    assert sim_latency({"DISPATCH_SIM_LATENCY_S": raw}) == seconds
    assert sim_latency({}) == 0.0


@pytest.mark.parametrize("raw", ["-1", "soon", "inf", "nan"])
def test_a_bad_simulated_latency_is_a_config_error_naming_the_variable(
    raw: str,
) -> None:
    from dispatch.environment import sim_latency
    from dispatch.errors import ConfigError

    with pytest.raises(ConfigError, match="DISPATCH_SIM_LATENCY_S"):
        sim_latency({"DISPATCH_SIM_LATENCY_S": raw})
