"""A plan: the sub-tasks of one orchestrated workflow, validated at the boundary.

A plan arrives as untyped JSON (``dispatch run --plan``, a graph input, a
`langgraph dev` request). It is validated once, here, by pydantic models, and
a bad plan is a `ConfigError` naming the file, the task and the field
(``tasks[2].max_output_tokens``), what was found and what was expected, like
the registry's errors. Downstream the orchestrator works on `Task` dicts (a
TypedDict, because the tasks live in the checkpointed graph state).

Text is cleaned here too: a prompt holding lone surrogates (how Python
decodes non-UTF-8 bytes from argv or ``surrogateescape`` files) cannot be
encoded by any provider client, so each would fail in turn. `clean_text`
replaces them once, at the boundary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, NotRequired

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from typing_extensions import TypedDict

from dispatch.errors import ConfigError

__all__ = ("Plan", "PlanTask", "Task", "clean_text", "parse_plan")


class Task(TypedDict):
    """One sub-task of a plan, as the orchestrator's state holds it."""

    id: str
    prompt: str
    specialist: NotRequired[str]
    """Specialist name; when absent the router's capability picks one."""
    tier: NotRequired[str]
    """Tier hint for the specialist's hops."""
    depends_on: NotRequired[list[str]]
    """Ids whose results this task needs; it runs after them."""
    max_output_tokens: NotRequired[int]
    """Declared output length of the task's hops."""


_NOT_ESCAPED = re.compile("[\ud800-\udc7f\udd00-\udfff]")


def clean_text(text: str) -> str:
    """`text` with lone surrogates turned back into bytes and undecodable bytes
    replaced by U+FFFD, so that it encodes as UTF-8 for every provider."""
    if text.isascii():
        return text
    text = _NOT_ESCAPED.sub("\ufffd", text)  # surrogates that stand for no byte
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _clean_str(value: object) -> object:
    # Before pydantic's str check, which rejects lone surrogates outright.
    return clean_text(value) if isinstance(value, str) else value


class PlanTask(BaseModel):
    """One task of a plan as a user writes it (JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: str = Field(min_length=1)
    prompt: Annotated[str, BeforeValidator(_clean_str)] = Field(min_length=1)
    specialist: str | None = None
    tier: str | None = None
    depends_on: list[str] = Field(default_factory=list)
    max_output_tokens: int | None = Field(default=None, gt=0)

    @field_validator("tier")
    @classmethod
    def _known_tier(cls, tier: str | None, info: ValidationInfo) -> str | None:
        tiers = (info.context or {}).get("tiers")
        if tier is not None and tiers is not None and tier not in tiers:
            raise ValueError(f"one of the registry's tiers {', '.join(tiers)}")
        return tier

    def as_task(self) -> Task:
        """The state form: only the fields the user gave."""
        task = Task(id=self.id, prompt=self.prompt)
        if self.specialist is not None:
            task["specialist"] = self.specialist
        if self.tier is not None:
            task["tier"] = self.tier
        if self.depends_on:
            task["depends_on"] = list(self.depends_on)
        if self.max_output_tokens is not None:
            task["max_output_tokens"] = self.max_output_tokens
        return task


class Plan(RootModel[list[PlanTask]]):
    """A plan: a JSON list of tasks."""


def parse_plan(
    raw: Any, *, tiers: Sequence[str] | None = None, file: str | None = None
) -> list[Task]:
    """Validate `raw` (a decoded JSON list) as a plan and return its tasks.

    Args:
        raw: the plan as decoded JSON.
        tiers: the registry's tiers; a task's ``tier`` must be one of them.
        file: where the plan came from, named in errors.

    Raises:
        ConfigError: naming ``tasks[i].field``, what was found and what was expected.
    """
    try:
        plan = Plan.model_validate(raw, context={"tiers": tiers})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(
            f"invalid plan: {err['msg']}",
            file=file,
            path=_path(err["loc"]),
            found=err.get("input"),
            expected=_expected(err),
        ) from None
    return [task.as_task() for task in plan.root]


def _path(loc: tuple[int | str, ...]) -> str:
    out = "tasks"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _expected(err: Any) -> str:
    kind = err["type"]
    if kind == "missing":
        return "a value (the field is required)"
    if kind == "extra_forbidden":
        return "no such field (id, prompt, specialist, tier, depends_on, max_output_tokens)"
    if kind == "list_type" and err["loc"] == ():
        return "a JSON list of tasks"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ").removeprefix("Input should be ")
