"""How the specialists' tools are built: errors come back as messages, never raise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, ValidationError

__all__ = ("MAX_RESULT_CHARS", "invalid_arguments", "safe_tool")

MAX_RESULT_CHARS = 8_000
"""Longest tool result handed back to a model (the budget's estimate assumes it)."""


def invalid_arguments(error: ValidationError) -> str:
    """One line per bad argument: where, what was wrong, what was given."""
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']} (got {e['input']!r})"
        for e in error.errors()
    )
    return f"error: invalid arguments: {problems}"


def safe_tool(
    func: Callable[..., Any],
    *,
    name: str,
    description: str,
    args_schema: type[BaseModel],
) -> BaseTool:
    """A structured tool whose bad input (a `ToolException` or arguments that fail
    validation) comes back to the model as an error message instead of raising,
    and whose result is cut at `MAX_RESULT_CHARS`. Each tool bounds its own time
    by bounding its input (a thread cannot be stopped from outside)."""

    def bounded(*args: Any, **kwargs: Any) -> Any:
        result = func(*args, **kwargs)
        if isinstance(result, str) and len(result) > MAX_RESULT_CHARS:
            cut = len(result) - MAX_RESULT_CHARS
            return result[:MAX_RESULT_CHARS] + f"\n[{cut} more characters cut]"
        return result

    return StructuredTool.from_function(
        func=bounded,
        name=name,
        description=description,
        args_schema=args_schema,
        handle_tool_error=True,
        handle_validation_error=invalid_arguments,
    )
