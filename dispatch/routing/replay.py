"""Read the shared replay format (``../shared/data/README.md``) with clear errors.

One JSON object per line: ``prompt`` (str), ``capability`` (str or null), and in
outcome files ``outcomes``: ``{model: {"quality": 0..1, "cost_usd": float}}``.
Every malformed line raises `ConfigError` naming the file, the line and what is
wrong, so a user fixing a 14,000-line file knows where to look.
"""

from __future__ import annotations

import codecs
import json
import math
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dispatch.errors import ConfigError

__all__ = ("MODEL_TIERS", "Outcome", "ReplayRecord", "read_models", "read_replay")


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one model did on one prompt."""

    quality: float
    """Graded quality 0–1 (0/1 correctness on the benchmarks)."""
    cost_usd: float
    """What the call cost (recorded or estimated)."""


@dataclass(frozen=True, slots=True)
class ReplayRecord:
    """One line of a replay file."""

    id: str
    """Unique within its file (``<file>:<line>`` when the line has none)."""
    prompt: str
    """The text the models saw; never empty."""
    capability: str | None
    """Capability label, or None when the source gives none."""
    source: str
    """Where the prompt comes from, e.g. ``routerbench/mbpp`` (for per-source scores)."""
    outcomes: Mapping[str, Outcome] = field(default_factory=dict)
    """Model name -> outcome; empty unless read with ``need_outcomes``."""
    file: str | None = None
    """The file the record was read from (None when built in code), for errors."""
    line: int | None = None
    """Its 1-based line in `file`, for errors."""


def read_replay(
    path: Path, *, need_capability: bool = False, need_outcomes: bool = False
) -> list[ReplayRecord]:
    """All records of `path`, validated.

    Args:
        path: a JSONL file in the replay format.
        need_capability: reject lines whose ``capability`` is missing or null.
        need_outcomes: reject lines without a non-empty ``outcomes`` object.

    Raises:
        ConfigError: the file cannot be read, or a line is malformed or repeats
            an earlier line's id (the error names the file and the line).
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(path)) from exc
    records = []
    first_line: dict[str, int] = {}
    with handle:
        for number, raw in _lines(handle, path):
            record = _record(raw, path, number, need_capability, need_outcomes)
            if record.id in first_line:
                raise ConfigError(
                    f"duplicate id {record.id!r} (first on line {first_line[record.id]})",
                    file=str(path),
                    path=f"line {number}",
                )
            first_line[record.id] = number
            records.append(record)
    if not records:
        raise ConfigError("no records (the file is empty)", file=str(path))
    return records


def _lines(handle: Any, path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers, for error messages.

    Decoded line by line, so bytes that are not UTF-8 are reported with the
    line that holds them. A byte order mark opening the file (Notepad and
    PowerShell write one) is skipped; anywhere else it is bad JSON.
    """
    for number, raw in enumerate(handle, 1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]  # columns count as an editor shows
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"not valid UTF-8: byte {raw[exc.start]:#04x} at column {exc.start + 1}",
                file=str(path),
                path=f"line {number}",
            ) from None
        if line.strip():
            yield number, line


def _record(
    raw: str, path: Path, number: int, need_capability: bool, need_outcomes: bool
) -> ReplayRecord:
    """Parse and check one line; every error names `path` and line `number`.

    Keys the format does not use here (``difficulty``, ``meta``, ...) are
    ignored, so richer files stay readable.
    """

    def bad(
        what: str, found: object = None, expected: str | None = None
    ) -> ConfigError:
        return ConfigError(
            what, file=str(path), path=f"line {number}", found=found, expected=expected
        )

    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise bad(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:
        raise bad(_unreadable(exc)) from None
    if not isinstance(obj, dict):
        raise bad("not a JSON object", type(obj).__name__, "an object")
    prompt = obj.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise bad(
            "'prompt' must be a string with text (not empty, not only whitespace)",
            _brief(prompt),
            "a string",
        )
    capability = obj.get("capability")
    if capability is not None and not isinstance(capability, str):
        raise bad(
            "'capability' must be a string or null", _brief(capability), "a string"
        )
    if need_capability and not capability:
        raise bad("'capability' is missing", capability, "a capability label")
    record_id = obj.get("id", f"{path.name}:{number}")
    source = obj.get("source", "")
    for key, value in (("id", record_id), ("source", source)):
        if not isinstance(value, str):
            raise bad(f"'{key}' must be a string", _brief(value), "a string")
    outcomes = _outcomes(obj.get("outcomes"), bad) if need_outcomes else {}
    return ReplayRecord(
        id=record_id,
        prompt=prompt,
        capability=capability,
        source=source,
        outcomes=outcomes,
        file=str(path),
        line=number,
    )


def _unreadable(exc: ValueError | RecursionError) -> str:
    """Why syntactically valid JSON could not be read (`json.loads` raises these
    bare, without a position): an integer past Python's digit limit, or
    arrays and objects nested past the recursion limit."""
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply to read"
    return (
        "a JSON integer too long to read "
        f"(more than {sys.get_int_max_str_digits()} digits)"
    )


def _number(value: object) -> float | None:
    """`value` as a float when it is a finite JSON number (not a bool), else None.

    An integer too large for a float (``1`` and 400 zeros) is not finite here:
    None, like ``1e400``, rather than an `OverflowError`.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


class _Brief:
    """A long value as an error shows it: its start, its end and its length."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


_BRIEF_CHARS = 60
"""Longer found values are cut in error messages (a 400-digit cost, a prompt)."""


def _brief(value: object) -> object:
    """`value` as an error's ``found``: itself when its repr is short, else cut."""
    text = repr(value)
    if len(text) <= _BRIEF_CHARS:
        return value
    half = _BRIEF_CHARS // 2 - 2
    return _Brief(f"{text[:half]}…{text[-half:]} ({len(text)} characters)")


def _outcomes(raw: object, bad: Any) -> dict[str, Outcome]:
    """The ``outcomes`` object, each model's quality in [0, 1] and cost >= 0."""
    if not isinstance(raw, dict) or not raw:
        raise bad(
            "'outcomes' is missing or empty",
            _brief(raw),
            "{model: {quality, cost_usd}}",
        )
    out = {}
    for model, value in raw.items():
        if not isinstance(value, dict):
            raise bad(
                f"outcomes[{model!r}] is malformed",
                _brief(value),
                "{quality, cost_usd} finite numbers",
            )
        quality = _finite(value, "quality", model, bad)
        cost = _finite(value, "cost_usd", model, bad)
        if not 0.0 <= quality <= 1.0 or cost < 0:
            raise bad(
                f"outcomes[{model!r}] out of range",
                _brief(value),
                "quality in [0, 1] and cost_usd >= 0",
            )
        out[str(model)] = Outcome(quality, cost)
    return out


def _finite(value: Mapping[str, object], key: str, model: str, bad: Any) -> float:
    """``value[key]`` of one model's outcome as a finite float, else an error
    naming the model and the field."""
    number = _number(value.get(key))
    if number is None:
        raise bad(
            f"outcomes[{model!r}] is malformed: {key} is not a finite number",
            _brief(value.get(key)),
            "a finite JSON number",
        )
    return number


def read_models(path: Path) -> dict[str, dict[str, Any]]:
    """`benchmark_models.json`: name -> tier, provider and prices per mtok.

    Prices may be null here (models of the leaderboards that were never
    priced); `benchmark_registry` refuses a null price only for a model it
    registers.

    Raises:
        ConfigError: unreadable file, a key named twice in one object (JSON
            would keep the last silently), or an entry without
            tier/provider/prices, with a tier other than small/medium/large, a
            provider that is not a string, or a price that is neither null nor
            a finite number >= 0.
    """
    try:
        data = json.loads(
            path.read_text(encoding="utf-8-sig"),  # BOM or none
            object_pairs_hook=_unique_keys,
        )
    except _DuplicateKey as exc:
        raise ConfigError(
            "named twice in one JSON object (the second entry would silently "
            "replace the first)",
            file=str(path),
            path=exc.key,
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not valid UTF-8: byte {exc.object[exc.start]:#04x} at offset {exc.start}",
            file=str(path),
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON: {exc}", file=str(path)) from None
    except (ValueError, RecursionError) as exc:
        raise ConfigError(_unreadable(exc), file=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError("the top level must be an object", file=str(path))
    for name, entry in data.items():
        if not isinstance(entry, dict) or not {"tier", "provider"} <= entry.keys():
            raise ConfigError(
                "malformed model entry",
                file=str(path),
                path=name,
                found=_brief(entry),
                expected="{tier, provider, price_in_per_mtok, price_out_per_mtok}",
            )
        _check_model(entry, path, name)
    return data


class _DuplicateKey(Exception):
    """A JSON object repeats `key` (raised from `_unique_keys`)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`json.loads`' object hook: the object as a dict, refusing a repeated key."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


MODEL_TIERS = ("small", "medium", "large")
"""The tiers a models file may name (the shared data README's)."""


def _check_model(entry: Mapping[str, Any], path: Path, name: str) -> None:
    """One models-file entry's tier, provider and prices (null or finite >= 0)."""

    def bad(key: str, expected: str) -> ConfigError:
        return ConfigError(
            f"bad {key}",
            file=str(path),
            path=f"{name}.{key}",
            found=_brief(entry.get(key)),
            expected=expected,
        )

    if entry["tier"] not in MODEL_TIERS:
        raise bad("tier", " | ".join(MODEL_TIERS))
    if not isinstance(entry["provider"], str) or not entry["provider"]:
        raise bad("provider", "a non-empty string")
    for key in ("price_in_per_mtok", "price_out_per_mtok"):
        price = entry.get(key)
        if price is not None and not (_number(price) is not None and price >= 0):
            raise bad(key, "null or a number >= 0 (USD per million tokens)")
