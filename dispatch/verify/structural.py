"""Structural verifiers: JSON/schema validity, tool-call arguments, code that runs.

Checks a machine can make without a model call: free (or, for code, the
price of a sandboxed run) and deterministic, so a failed verdict is a fact
about the answer and not a judge's opinion. Prefer them to the sampled
verifiers wherever the task has a checkable shape.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import jsonschema
from langchain_core.messages import AIMessage
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ValidationError

from dispatch.verify._base import Verdict
from dispatch.verify._base import clip_reason as _reason

__all__ = ("CodeRunsVerifier", "JsonVerifier", "ToolArgsVerifier")

_FENCE = re.compile(r"```([A-Za-z0-9_+\-]*)[ \t]*\r?\n(.*?)```", re.DOTALL)
"""A fenced block: (language tag, body); non-greedy, so blocks never merge."""
_PYTHON_TAGS = frozenset({"", "python", "py", "python3"})
"""Fence tags taken as Python; an untagged block counts, models often omit it."""
_EXIT_STATUS = re.compile(r"\s*exit status (-?\d+)")
"""How `execute_python` opens the output of a failed program."""


def _validation_summary(exc: ValidationError | jsonschema.ValidationError) -> str:
    """Where validation failed and which rule, for a verdict reason.

    Locations and messages only (at most three): the input values may be long
    or private, and the reason ends up in hop records and spans.
    """
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_input=False, include_url=False)
        parts = [
            f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in errors
        ]
        return f"{len(errors)} error(s): " + "; ".join(parts[:3])
    where = ".".join(map(str, exc.absolute_path)) or "<root>"
    return f"{where}: {exc.validator} check failed"


class _SyncVerifier:
    """Base for verifiers that do no I/O: `averify` is `verify`."""

    def verify(self, task: str, answer: AIMessage) -> Verdict:  # pragma: no cover
        raise NotImplementedError

    async def averify(self, task: str, answer: AIMessage) -> Verdict:
        """Same as `verify`: nothing to wait for."""
        return self.verify(task, answer)


class JsonVerifier(_SyncVerifier):
    """The answer is JSON and, given a `schema`, valid against it.

    `schema` is a pydantic model class, a JSON Schema dict, or None (any JSON).
    The JSON may be the whole text or the first fenced ``json`` block.
    """

    def __init__(self, schema: type[BaseModel] | dict[str, Any] | None = None) -> None:
        """Check a JSON Schema dict now, so a broken schema fails at set-up.

        Raises:
            jsonschema.SchemaError: `schema` is a dict but not a valid schema.
        """
        if isinstance(schema, dict):
            jsonschema.validators.validator_for(schema).check_schema(schema)
        self.schema = schema

    def verify(self, task: str, answer: AIMessage) -> Verdict:
        """Parse and validate; only the first ``json`` (or untagged) block is read."""
        text = answer.text.strip()
        for tag, body in _FENCE.findall(text):
            if tag.lower() in ("json", ""):
                text = body.strip()
                break
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            return Verdict(ok=False, reason=f"not JSON: {exc.msg} at line {exc.lineno}")
        if self.schema is None:
            return Verdict(ok=True, reason="valid JSON")
        try:
            if isinstance(self.schema, dict):
                jsonschema.validate(value, self.schema)
            else:
                self.schema.model_validate(value)
        except (ValidationError, jsonschema.ValidationError) as exc:
            return Verdict(
                ok=False, reason=_reason(f"schema: {_validation_summary(exc)}")
            )
        return Verdict(ok=True, reason="valid JSON matching the schema")


class ToolArgsVerifier(_SyncVerifier):
    """Every tool call names one of `tools` and its arguments validate."""

    def __init__(self, tools: Sequence[BaseTool]) -> None:
        """Index `tools` by name: the names the model was offered."""
        self.tools = {t.name: t for t in tools}

    def verify(self, task: str, answer: AIMessage) -> Verdict:
        """Check names and arguments of `answer.tool_calls`.

        The first problem fails the verdict: a call LangChain could not parse,
        an unknown tool name, or arguments the tool's schema rejects. An answer
        without tool calls passes (whether one was needed is not structural).
        """
        if answer.invalid_tool_calls:
            bad = answer.invalid_tool_calls[0]
            return Verdict(
                ok=False,
                reason=_reason(f"unparsable tool call {str(bad.get('name'))[:64]!r}"),
            )
        for call in answer.tool_calls:
            name = call["name"]
            tool = self.tools.get(name)
            if tool is None:
                known = ", ".join(sorted(self.tools)) or "none"
                return Verdict(
                    ok=False,
                    reason=_reason(f"unknown tool {name[:64]!r}; known: {known}"),
                )
            problem = _args_problem(tool, call["args"])
            if problem is not None:
                return Verdict(
                    ok=False, reason=_reason(f"tool {name!r} args: {problem}")
                )
        n = len(answer.tool_calls)
        return Verdict(
            ok=True, reason=f"{n} tool call(s) valid" if n else "no tool calls"
        )


def _args_problem(tool: BaseTool, args: dict[str, Any]) -> str | None:
    """Why `args` do not fit `tool`'s schema, or None when they do.

    A schema that is neither a dict nor a pydantic model cannot be checked,
    and that is reported as a problem: the verifier fails closed.
    """
    schema = tool.args_schema
    try:
        if isinstance(schema, dict):
            jsonschema.validate(args, schema)
        else:
            model = schema if schema is not None else tool.get_input_schema()
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                return "the tool's argument schema cannot be checked"
            model.model_validate(args)
    except (ValidationError, jsonschema.ValidationError) as exc:
        return _validation_summary(exc)
    return None


def _exit_failed(output: str) -> bool:
    """True when `output` opens with a non-zero ``exit status N``."""
    match = _EXIT_STATUS.match(output)
    return match is not None and int(match.group(1)) != 0


class CodeRunsVerifier:
    """The answer's Python runs (asserts and tests included) and exits with 0.

    `run` executes a program and returns its output; in production it is the
    sandboxed ``dispatch.agents.coding.execute_python``, which reports a
    failure as output starting ``exit status N`` (`failed` decides, so another
    runner can use another convention) and raises on a timeout. `tests` is
    appended to the extracted code, e.g. the task's own asserts.
    """

    def __init__(
        self,
        run: Callable[[str], str],
        *,
        tests: str = "",
        failed: Callable[[str], bool] = _exit_failed,
    ) -> None:
        """Keep the runner; nothing runs until `verify`."""
        self.run = run
        self.tests = tests
        self.failed = failed

    def program(self, answer: AIMessage) -> str | None:
        """The Python blocks of `answer` joined in order (plus `tests`), or None."""
        blocks = [
            b for tag, b in _FENCE.findall(answer.text) if tag.lower() in _PYTHON_TAGS
        ]
        if not blocks:
            return None
        return "\n\n".join([*blocks, self.tests] if self.tests else blocks)

    def _judge(self, output: str) -> Verdict:
        """A verdict from the runner's output; its first line is the reason."""
        if self.failed(output):
            first = output.strip().splitlines()[0] if output.strip() else "failed"
            return Verdict(ok=False, reason=_reason(f"code failed: {first}"))
        return Verdict(ok=True, reason="code ran and its checks passed")

    def verify(self, task: str, answer: AIMessage) -> Verdict:
        """Extract, run, judge the exit status."""
        code = self.program(answer)
        if code is None:
            return Verdict(ok=False, reason="no fenced Python block to run")
        return self._judge(self.run(code))

    async def averify(self, task: str, answer: AIMessage) -> Verdict:
        """`verify` with the runner in a worker thread."""
        code = self.program(answer)
        if code is None:
            return Verdict(ok=False, reason="no fenced Python block to run")
        return self._judge(await asyncio.to_thread(self.run, code))
