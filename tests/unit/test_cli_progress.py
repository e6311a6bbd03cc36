"""Live progress of a CLI run: hop lines as they complete, a status line on terminals."""

from __future__ import annotations

import asyncio
import io
from decimal import Decimal
from typing import Any

from rich.console import Console

from dispatch.cli.progress import HopPrinter, StreamedGraph
from dispatch.types import HopRecord, PinChange


def record(step: str, cost: str, **kw: Any) -> HopRecord:
    fields: dict[str, Any] = dict(
        step=step, specialist="search", capability="search", tier="small",
        model="openai:gpt-5.4-nano", input_tokens=100, output_tokens=20,
        cost_usd=Decimal(cost), baseline_cost_usd=Decimal(cost),
        pin_change=PinChange.NEW, router="rules", confidence=1.0, reason="r",
        duration_ms=1.0,
    )  # fmt: skip
    fields.update(kw)
    return HopRecord(**fields)


class FakeGraph:
    """Streams two node updates, then the final values (as LangGraph's astream does)."""

    def __init__(self, seen: list[str], printer: HopPrinter) -> None:
        self.seen, self.printer = seen, printer

    async def astream(self, input: Any, config: Any, **kw: Any) -> Any:
        a, b = (
            record("slo", "0.001"),
            record("oncall", "0", refused=True, error="refused"),
        )
        yield "updates", {"slo": {"hops": [a.as_dict()]}}
        self.seen.append(self.printer.summary())  # the status while the run goes on
        yield "updates", {"oncall": {"hops": [b.as_dict()]}}
        yield "values", {"hops": [a.as_dict(), b.as_dict()], "answer": "done"}


def run(console: Console) -> tuple[HopPrinter, list[str], dict[str, Any]]:
    printer = HopPrinter(console)
    seen: list[str] = []
    final = asyncio.run(
        StreamedGraph(FakeGraph(seen, printer), printer).ainvoke({}, {})
    )
    return printer, seen, final


def test_each_hop_is_printed_as_it_arrives_and_the_status_counts_them() -> None:
    out = io.StringIO()
    printer, seen, final = run(Console(file=out, force_terminal=True, width=200))

    assert final["answer"] == "done"
    assert seen == ["running: 1 hop, $0.001000 spent"]
    assert printer.summary() == "running: 2 hops, [red]1 refused[/], $0.001000 spent"
    text = out.getvalue()
    assert "slo" in text and "oncall" in text and "refused: budget" in text
    assert "running:" in text  # the live status was drawn on the terminal


def test_a_pipe_gets_the_hop_lines_without_a_live_status() -> None:
    out = io.StringIO()
    run(Console(file=out, force_terminal=False, width=200))
    text = out.getvalue()
    assert "slo" in text and "oncall" in text
    assert "running:" not in text
