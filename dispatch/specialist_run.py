"""A specialist's run: its tool loop and, when it has a verifier, the cascade.

The drivers of `Dispatcher.run_specialist` / `Dispatcher.arun_specialist`,
kept apart from the hop drivers in `dispatch.dispatcher`: the tool loop's state
is `dispatch.specialist.SpecialistLoop`, the cascade's decisions are
`dispatch.cascade`, and every model call is one `Dispatcher.call` / `acall`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from langchain_core.messages import BaseMessage

from dispatch.budget import Ledger
from dispatch.cascade import answer_of, escalated, next_tier, task_text, verdict_record
from dispatch.pins import PinDict
from dispatch.specialist import Specialist, SpecialistLoop, SpecialistRun
from dispatch.tool_calls import arun_tool, run_tool
from dispatch.verify import Verdict, asafe_verify, safe_verify

if TYPE_CHECKING:
    from dispatch.dispatcher import Dispatcher

__all__ = ("arun_specialist", "run_specialist")


async def arun_specialist(
    dispatcher: Dispatcher,
    specialist: Specialist,
    messages: Sequence[BaseMessage],
    *,
    step: str = "",
    pins: dict[str, PinDict] | None = None,
    tier_hint: str | None = None,
    max_output_tokens: int | None = None,
    ledger: Ledger | None = None,
) -> SpecialistRun:
    """Run `specialist` on `messages`: model hops and tool calls until it answers.

    A failing or refused hop ends the run with `SpecialistRun.error` set and
    every attempt recorded; it does not raise, so parallel branches keep their
    results. A failing tool becomes an error `ToolMessage` the model sees. A
    specialist with a `verifier` escalates a rejected answer one tier up
    (`dispatch.cascade`).
    """
    dispatcher.registry.check_hints(
        f"Specialist {specialist.name!r}", capability=specialist.capability
    )
    args = (step, pins, max_output_tokens, ledger)
    run = await _arun_once(dispatcher, specialist, messages, tier_hint, *args)
    while (tier := next_tier(dispatcher.registry, specialist, run)) is not None:
        assert specialist.verifier is not None  # next_tier checked it
        verdict = await asafe_verify(
            specialist.verifier, task_text(messages), answer_of(run)
        )
        run = _verified(run, specialist, verdict, ledger)
        if verdict.ok:
            break
        higher = await _arun_once(dispatcher, specialist, messages, tier, *args)
        run = escalated(run, higher)
    return run


def run_specialist(
    dispatcher: Dispatcher,
    specialist: Specialist,
    messages: Sequence[BaseMessage],
    *,
    step: str = "",
    pins: dict[str, PinDict] | None = None,
    tier_hint: str | None = None,
    max_output_tokens: int | None = None,
    ledger: Ledger | None = None,
) -> SpecialistRun:
    """Synchronous twin of `arun_specialist`."""
    dispatcher.registry.check_hints(
        f"Specialist {specialist.name!r}", capability=specialist.capability
    )
    args = (step, pins, max_output_tokens, ledger)
    run = _run_once(dispatcher, specialist, messages, tier_hint, *args)
    while (tier := next_tier(dispatcher.registry, specialist, run)) is not None:
        assert specialist.verifier is not None  # next_tier checked it
        verdict = safe_verify(specialist.verifier, task_text(messages), answer_of(run))
        run = _verified(run, specialist, verdict, ledger)
        if verdict.ok:
            break
        higher = _run_once(dispatcher, specialist, messages, tier, *args)
        run = escalated(run, higher)
    return run


def _verified(
    run: SpecialistRun,
    specialist: Specialist,
    verdict: Verdict,
    ledger: Ledger | None,
) -> SpecialistRun:
    """`run` with the verification recorded and its cost charged."""
    record = verdict_record(
        run, specialist, verdict, workflow=ledger.workflow if ledger else ""
    )
    if ledger is not None and record.cost_usd:
        ledger.charge(record.cost_usd)
    run.records.append(record)
    return run


async def _arun_once(
    dispatcher: Dispatcher,
    specialist: Specialist,
    messages: Sequence[BaseMessage],
    tier_hint: str | None,
    step: str,
    pins: dict[str, PinDict] | None,
    max_output_tokens: int | None,
    ledger: Ledger | None,
) -> SpecialistRun:
    """One pass of the tool loop (async)."""
    loop = _loop(
        dispatcher, specialist, messages, step, pins, tier_hint, max_output_tokens
    )
    with dispatcher.tracing.agent(specialist.name, step=step):
        while (call := loop.next_call()) is not None:
            result = await dispatcher.acall(
                call.hop,
                call.messages,
                pins=dict(call.pins),
                loop_pin=call.loop_pin,
                tools=call.tools,
                ledger=ledger,
            )
            for tool_call in loop.take(result):
                with dispatcher.tracing.tool(tool_call["name"], tool_call["id"]):
                    loop.add(await arun_tool(loop.tool_for(tool_call), tool_call))
    return loop.run


def _run_once(
    dispatcher: Dispatcher,
    specialist: Specialist,
    messages: Sequence[BaseMessage],
    tier_hint: str | None,
    step: str,
    pins: dict[str, PinDict] | None,
    max_output_tokens: int | None,
    ledger: Ledger | None,
) -> SpecialistRun:
    """One pass of the tool loop (sync)."""
    loop = _loop(
        dispatcher, specialist, messages, step, pins, tier_hint, max_output_tokens
    )
    with dispatcher.tracing.agent(specialist.name, step=step):
        while (call := loop.next_call()) is not None:
            result = dispatcher.call(
                call.hop,
                call.messages,
                pins=dict(call.pins),
                loop_pin=call.loop_pin,
                tools=call.tools,
                ledger=ledger,
            )
            for tool_call in loop.take(result):
                with dispatcher.tracing.tool(tool_call["name"], tool_call["id"]):
                    loop.add(run_tool(loop.tool_for(tool_call), tool_call))
    return loop.run


def _loop(
    dispatcher: Dispatcher,
    specialist: Specialist,
    messages: Sequence[BaseMessage],
    step: str,
    pins: dict[str, PinDict] | None,
    tier_hint: str | None,
    max_output_tokens: int | None,
) -> SpecialistLoop:
    return SpecialistLoop(
        specialist,
        messages,
        step=step or specialist.name,
        pins=pins,
        tier_hint=tier_hint,
        max_output_tokens=max_output_tokens or dispatcher.registry.max_output_tokens,
        input_safety=dispatcher.input_safety,
    )
