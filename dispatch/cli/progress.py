"""Live progress: each hop on stderr as it completes, while the run goes on.

A run of a dozen real model calls takes minutes; a silent terminal until the
final table looks hung. The hops are already in the graph state, so the run is
streamed with ``stream_mode=["updates", "values"]``: every node's update
carries the hop records it added (parallel branches report as each finishes),
and the last ``values`` chunk is the final state the table is printed from.

`StreamedGraph` wraps a compiled graph so `dispatch.langgraph.aresume` drives
the same stream as a fresh run. Progress goes to stderr, never into ``--json``
stdout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from decimal import Decimal
from typing import Any

from langchain_core.runnables import RunnableConfig
from rich.console import Console
from rich.markup import escape
from rich.status import Status

from dispatch.types import HopRecord

__all__ = ("HopPrinter", "StreamedGraph", "hop_line")

OnHop = Callable[[HopRecord], None]
"""Called once per completed hop (success, failure or budget refusal), in
the order the stream delivers them; it must not raise, the run is still on."""


def hop_line(r: HopRecord) -> str:
    """One completed hop, as a progress line (rich markup)."""
    if r.refused:
        status = "[red]refused: budget[/]"
    elif r.error is not None:
        status = f"[red]failed: {escape(r.error)}[/]"
    else:
        tokens = f"{r.input_tokens:,}+{r.output_tokens:,} tok"
        status = f"{tokens} ${r.cost_usd:.6f}"
    round_ = f" round {r.round}" if r.round else ""
    return (
        f"[dim]hop[/] {escape(r.step)}{round_} {escape(r.specialist)} "
        f"{escape(r.capability)}/{escape(r.tier)} "
        f"[cyan]{escape(r.model or '-')}[/] {status}"
    )


class HopPrinter:
    """Prints each hop of the run as a line on `console` and counts them.

    On a terminal, `running` also keeps a live status line (rich) under the
    hop lines while the run goes on: a spinner, the hops so far, refusals and
    the spend, so a slow model call does not look like a hung command.
    """

    def __init__(self, console: Console) -> None:
        """Print to `console` (the CLI passes its stderr console)."""
        self.console = console
        self.count = 0
        self.refused = 0
        self.failed = 0
        self.spent = Decimal(0)
        self._status: Status | None = None

    def __call__(self, record: HopRecord) -> None:
        """Print `record` as one `hop_line`, with rich's automatic highlighting
        off: the line carries its own markup."""
        self.count += 1
        self.spent += record.cost_usd
        self.refused += record.refused
        self.failed += record.error is not None and not record.refused
        self.console.print(hop_line(record), highlight=False)
        if self._status is not None:
            self._status.update(self.summary())

    def summary(self) -> str:
        """The live status line: hops so far, refusals, failures and spend."""
        parts = [f"{self.count} hop{'s' * (self.count != 1)}"]
        if self.refused:
            parts.append(f"[red]{self.refused} refused[/]")
        if self.failed:
            parts.append(f"[red]{self.failed} failed[/]")
        parts.append(f"${self.spent:.6f} spent")
        return "running: " + ", ".join(parts)

    @contextmanager
    def running(self) -> Iterator[None]:
        """Show the live status line while the block runs (terminals only)."""
        if not self.console.is_terminal:
            yield
            return
        with self.console.status(self.summary(), spinner="dots") as status:
            self._status = status
            try:
                yield
            finally:
                self._status = None


class StreamedGraph:
    """A compiled graph whose ``ainvoke`` streams, reporting hops to `on_hop`.

    Has the methods `dispatch.langgraph.aresume` calls (``aget_state``,
    ``ainvoke``), so a resumed run shows the same progress as a fresh one.
    """

    def __init__(self, graph: Any, on_hop: OnHop | None) -> None:
        """Wrap compiled `graph`; with `on_hop` None it streams silently."""
        self.graph = graph
        self.on_hop = on_hop

    def get_state(self, config: RunnableConfig) -> Any:
        """The thread's current checkpointed state (see LangGraph)."""
        return self.graph.get_state(config)

    async def aget_state(self, config: RunnableConfig) -> Any:
        """The thread's current checkpointed state (see LangGraph)."""
        return await self.graph.aget_state(config)

    def invoke(self, input: Any, config: RunnableConfig, **kwargs: Any) -> Any:
        """Not streamed: the CLI runs graphs asynchronously."""
        return self.graph.invoke(input, config, **kwargs)

    async def ainvoke(
        self, input: Any, config: RunnableConfig, **kwargs: Any
    ) -> dict[str, Any]:
        """Run the graph like ``ainvoke``, reporting each node's new hops as
        they arrive; returns the final state."""
        final: Mapping[str, Any] = {}
        running = getattr(self.on_hop, "running", None)
        with running() if running is not None else nullcontext():
            async for mode, chunk in self.graph.astream(
                input, config, stream_mode=["updates", "values"], **kwargs
            ):
                if mode == "values":
                    final = chunk
                elif self.on_hop is not None:
                    for update in chunk.values():
                        if isinstance(update, Mapping):
                            for hop in update.get("hops") or ():
                                self.on_hop(HopRecord.from_dict(hop))
        return dict(final)
