"""Exceptions raised by graph-dispatch.

Hierarchy::

    DispatchError
    ├── ConfigError (also ValueError)     a config file or value is wrong; raised at load time
    ├── NoEligibleModel                   no model has the capability at the tier's quality bar
    ├── ModelUnavailable                  a model cannot be built (no provider package)
    └── HopFailed                         a hop's model call raised; carries the hop record
"""

from __future__ import annotations

__all__ = (
    "ConfigError",
    "DispatchError",
    "HopFailed",
    "ModelUnavailable",
    "NoEligibleModel",
)


class DispatchError(Exception):
    """Base class of every error graph-dispatch raises on purpose."""


class ConfigError(DispatchError, ValueError):
    """A configuration file or value is invalid.

    The message names the file, the path inside it, what was found and what was
    expected, e.g. ``registry.yaml: models[2].tier: found 'huge', expected one of
    small, medium, large``.
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
    """A hop's model call raised; `record` says what was routed and what failed.

    The original exception is chained as ``__cause__``.
    """

    def __init__(self, record: object, message: str) -> None:
        self.record = record
        """The `HopRecord` of the failed hop (tokens and cost zero, `error` set)."""
        super().__init__(message)
