"""How the specialists' tools report arguments that fail validation."""

from __future__ import annotations

from pydantic import ValidationError

__all__ = ("invalid_arguments",)


def invalid_arguments(error: ValidationError) -> str:
    """One line per bad argument: where, what was wrong, what was given."""
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']} (got {e['input']!r})"
        for e in error.errors()
    )
    return f"error: invalid arguments: {problems}"
