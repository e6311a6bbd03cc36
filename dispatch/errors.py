"""Exceptions raised by graph-dispatch.

Hierarchy::

    DispatchError
    ├── ConfigError (also ValueError)     a config file or value is wrong; raised at load time
    │   └── InvalidModelSpec              a `ModelSpec` value out of bounds, however it was built
    ├── NoEligibleModel                   no model has the capability at the tier's quality bar
    ├── ModelUnavailable                  a model cannot be built (no provider package)
    ├── HopFailed                         a hop's model call raised; carries the hop record
    └── BudgetExceeded                    a call's worst case does not fit the workflow's budget

`ConfigError` is a set-up error: raised while a config is loaded or a
dispatcher built, before any money is spent. `ModelUnavailable` is raised when
a model is first built and is fixed in the environment (a provider package, a
key). The others are raised during a hop. Every message carries the numbers or
the location that explain it, so the text alone is enough to act on.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

__all__ = (
    "ConfigError",
    "DispatchError",
    "BudgetExceeded",
    "HopFailed",
    "InvalidModelSpec",
    "ModelUnavailable",
    "NoEligibleModel",
)


class DispatchError(Exception):
    """Base class of every error graph-dispatch raises on purpose.

    Catch it to handle every anticipated failure in one place (the CLI prints
    an uncaught one as one ``error:`` line, exit 2); anything else is a bug.
    """


class ConfigError(DispatchError, ValueError):
    """A configuration file or value is invalid.

    The message names the file, the path inside it, what was found and what was
    expected, e.g. ``registry.yaml: models[2].tier: found 'huge', expected one of
    small, medium, large``.

    Also a `ValueError`, so callers that already treat bad input as a
    `ValueError` (argument parsers, pydantic validators) keep working.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        path: str | None = None,
        found: object = None,
        expected: str | None = None,
    ) -> None:
        self.file = file
        """The file the bad value came from, if any."""
        self.path = path
        """Dotted/indexed location inside the file, e.g. ``models[2].tier``."""
        self.found = found
        """The offending value."""
        self.expected = expected
        """What would have been accepted."""
        where = ": ".join(p for p in (file, path) if p)
        text = f"{where}: {message}" if where else message
        if expected is not None:
            text += f" (found {found!r}, expected {expected})"
        super().__init__(text)


class InvalidModelSpec(ConfigError):
    """A `ModelSpec` holds a value no registry file could declare.

    Raised by `ModelSpec` itself, so a spec built in code meets the same bounds
    as one loaded from YAML; `dispatch.config` re-reports it at the model's
    place in the file. The message reads ``<field>: model '<id>': <subject>
    <issue> (found ..., expected ...)``.
    """

    def __init__(
        self,
        model: str,
        field: str,
        subject: str,
        issue: str,
        *,
        found: object,
        expected: str,
        other: str | None = None,
    ) -> None:
        self.model = model
        """The spec's id."""
        self.field = field
        """The spec field at fault, e.g. ``timeout_s`` or ``quality.coding``."""
        self.subject = subject
        """What the field is, in words (``price``, ``output cap``)."""
        self.issue = issue
        """What is wrong with it (``not finite``, ``larger than the context window``)."""
        self.other = other
        """The second field the check compared `field` with, if any."""
        super().__init__(
            f"model {model!r}: {subject} {issue}",
            path=field,
            found=found,
            expected=expected,
        )


class NoEligibleModel(DispatchError):
    """No registered model has `capability` with quality at `tier`'s bar."""

    def __init__(self, capability: str, tier: str, *, detail: str = "") -> None:
        self.capability = capability
        """The capability that was asked for."""
        self.tier = tier
        """The tier whose minimum quality no model met."""
        msg = f"no eligible model for capability {capability!r} at tier {tier!r}"
        super().__init__(f"{msg}: {detail}" if detail else msg)


class ModelUnavailable(DispatchError):
    """A model in the registry cannot be built in this environment."""

    def __init__(self, model: str, reason: str) -> None:
        self.model = model
        """The `provider:model` id that could not be built."""
        super().__init__(f"model {model!r} is unavailable: {reason}")


class HopFailed(DispatchError):
    """A hop could not be served: every model tried raised, or the budget refused it.

    The last exception is chained as ``__cause__``.
    """

    def __init__(self, records: Sequence[Any], message: str) -> None:
        self.records = list(records)
        """One `HopRecord` per attempt (tokens and cost zero, `error` set)."""
        super().__init__(message)

    @property
    def record(self) -> Any:
        """The `HopRecord` of the last attempt."""
        return self.records[-1]

    @property
    def refused(self) -> bool:
        """True when the budget refused the hop (rather than a model failing)."""
        return bool(self.records[-1].refused)


class BudgetExceeded(DispatchError):
    """A call's worst-case cost does not fit in what is left of the workflow's budget."""

    def __init__(
        self,
        *,
        requested_usd: Decimal,
        remaining_usd: Decimal,
        limit_usd: Decimal,
        workflow: str = "",
        hop: str = "",
        overrun_usd: Decimal = Decimal(0),
        scope: str = "",
    ) -> None:
        self.requested_usd = requested_usd
        """Worst-case cost of the refused call."""
        self.remaining_usd = remaining_usd
        """What was left (limit minus settled and reserved spend)."""
        self.limit_usd = limit_usd
        """The workflow's budget."""
        self.workflow = workflow
        """Id of the workflow whose budget refused the call."""
        self.hop = hop
        """The refused hop, if known."""
        self.overrun_usd = overrun_usd
        """By how much earlier calls cost more than they had reserved (a hard
        ledger refuses everything once this is non-zero)."""
        self.scope = scope
        """The shared budget scope that refused the call ("" when it was the
        workflow's own budget)."""
        where = f" for hop {hop!r}" if hop else ""
        if scope:
            where += f" in shared budget scope {scope!r}"
        text = (
            f"budget exceeded{where} in workflow {workflow!r}: requested "
            f"${requested_usd:.6f}, remaining ${remaining_usd:.6f} of ${limit_usd:.6f}"
        )
        if overrun_usd > 0:
            text += f"; closed after an overrun of ${overrun_usd:.6f}"
        super().__init__(text)
