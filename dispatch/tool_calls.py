"""Run one tool call a model asked for; a failing tool becomes an error message.

A tool must never crash the graph: whatever it raises comes back to the model
as a `ToolMessage` with ``status="error"``, without the exception's text when
that text may carry a secret (it is redacted).
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import ToolCall, ToolMessage
from langchain_core.tools import BaseTool

from dispatch.faults import redact

__all__ = ("arun_tool", "run_tool")


def run_tool(tool: BaseTool | str, call: ToolCall) -> ToolMessage:
    """Run `call` on `tool` (a string is an error text to send back instead)."""
    if isinstance(tool, str):
        return _error(call, tool)
    try:
        return _message(call, tool.invoke(call))
    except Exception as exc:  # a tool must never crash the graph
        return _error(call, _failed(call, exc))


async def arun_tool(tool: BaseTool | str, call: ToolCall) -> ToolMessage:
    """Async twin of `run_tool`."""
    if isinstance(tool, str):
        return _error(call, tool)
    try:
        return _message(call, await tool.ainvoke(call))
    except Exception as exc:  # a tool must never crash the graph
        return _error(call, _failed(call, exc))


def _failed(call: ToolCall, exc: Exception) -> str:
    return f"error: {call['name']} failed: {type(exc).__name__}: {redact(str(exc))}"


def _message(call: ToolCall, out: Any) -> ToolMessage:
    if isinstance(out, ToolMessage):
        return out
    return ToolMessage(content=str(out), tool_call_id=call["id"] or "")


def _error(call: ToolCall, text: str) -> ToolMessage:
    return ToolMessage(content=text, tool_call_id=call["id"] or "", status="error")
