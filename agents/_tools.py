"""How the specialists' tools are built: errors come back as messages, never raise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, ValidationError

__all__ = ("invalid_arguments", "safe_tool")


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
    validation) comes back to the model as an error message instead of raising."""
    return StructuredTool.from_function(
        func=func,
        name=name,
        description=description,
        args_schema=args_schema,
        handle_tool_error=True,
        handle_validation_error=invalid_arguments,
    )
