"""A specialist: a prompt, a capability and the tools it may call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from langchain_core.tools import BaseTool

__all__ = ("Specialist",)


@dataclass(frozen=True, slots=True, kw_only=True)
class Specialist:
    """An agent a hop is handed to. Graphs get its node from `Dispatcher.node`."""

    name: str
    """Unique name; pins are kept per (conversation, specialist)."""
    capability: str
    """The capability its hops need unless the router finds otherwise."""
    prompt: str
    """System prompt."""
    tools: Sequence[BaseTool] = field(default_factory=tuple)
    """Tools the model may call; their results are fed back in follow-up hops."""
    max_tool_rounds: int = 3
    """Model calls that may follow tool results before the specialist must answer."""
