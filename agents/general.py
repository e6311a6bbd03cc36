"""The general specialist: writing, summarising, everything without a tool."""

from __future__ import annotations

from dispatch import Specialist

__all__ = ("general_specialist",)


def general_specialist() -> Specialist:
    """Clear writing and synthesis; no tools."""
    return Specialist(
        name="general",
        capability="general",
        prompt=(
            "You are a precise technical writer. Answer directly, keep it short, and "
            "say what you are unsure of."
        ),
    )
