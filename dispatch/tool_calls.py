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
    """Run `call` on `tool` (a string is an error text to send back instead).

    The caller resolves the tool by name first and passes the refusal text
    (e.g. an unknown tool name) as `tool`, so every outcome of a call,
    good or bad, reaches the model as a `ToolMessage` answering its call id.
    Only `Exception` is caught: cancellation and Ctrl-C still stop the run.
    """
    if isinstance(tool, str):
        return _error(call, tool)
    try:
        return _message(call, tool.invoke(call))
    except Exception as exc:  # a tool must never crash the graph
        return _error(call, _failed(call, exc))


async def arun_tool(tool: BaseTool | str, call: ToolCall) -> ToolMessage:
    """Async twin of `run_tool`: the same error contract around ``ainvoke``."""
    if isinstance(tool, str):
        return _error(call, tool)
    try:
        return _message(call, await tool.ainvoke(call))
    except Exception as exc:  # a tool must never crash the graph
        return _error(call, _failed(call, exc))


def _failed(call: ToolCall, exc: Exception) -> str:
    """The model-facing error text: tool name, exception type, redacted message.

    The model sees why the tool failed (so it can retry differently), never a
    key a client library put into its exception text.
    """
    return f"error: {call['name']} failed: {type(exc).__name__}: {redact(str(exc))}"


def _message(call: ToolCall, out: Any) -> ToolMessage:
    """A tool's output as the reply to `call` (a tool may return its own message)."""
    if isinstance(out, ToolMessage):
        return out
    return ToolMessage(content=str(out), tool_call_id=call["id"] or "")


def _error(call: ToolCall, text: str) -> ToolMessage:
    """An error reply to `call`; ``status="error"`` marks it failed for LangChain."""
    return ToolMessage(content=text, tool_call_id=call["id"] or "", status="error")
