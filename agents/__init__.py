"""Specialists: a prompt, a capability and offline tools each (installed as `dispatch.agents`)."""

from __future__ import annotations

from pathlib import Path

from dispatch import Specialist
from dispatch.agents.analysis import analysis_specialist, calculate, statistics_tool
from dispatch.agents.coding import coding_specialist, run_python
from dispatch.agents.general import general_specialist
from dispatch.agents.search import DEMO_CORPUS, search_specialist, search_tool

__all__ = (
    "DEMO_CORPUS",
    "analysis_specialist",
    "calculate",
    "coding_specialist",
    "default_specialists",
    "general_specialist",
    "run_python",
    "search_specialist",
    "search_tool",
    "statistics_tool",
)


def default_specialists(corpus: Path | None = None) -> dict[str, Specialist]:
    """The four built-in specialists by name; `corpus` is the search folder."""
    specialists = [
        coding_specialist(),
        search_specialist(corpus or DEMO_CORPUS),
        analysis_specialist(),
        general_specialist(),
    ]
    return {s.name: s for s in specialists}
