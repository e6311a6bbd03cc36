"""Price maps: LiteLLM's ``model_prices_and_context_window`` JSON, or a file in its format.

A price map fills in what a registry YAML leaves out (prices per token, the
prompt-cache read and write rates, context window, output cap). Its values are
checked as strictly as YAML prices are: a NaN, negative or non-numeric price,
or a non-positive token limit, is a `ConfigError` naming the map's file, the
model key and the field, raised when a model is priced from that entry.
Entries no model uses are never inspected, so one odd row in LiteLLM's
thousands does not stop a registry from loading.

Kept apart from `dispatch.config` so that the YAML schema and the price-map
format each fit in one screen; this module reads one JSON file and does no
other I/O (`litellm` itself is never imported).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, TypeGuard

from dispatch.errors import ConfigError
from dispatch.types import MAX_TOKENS, parse_model_id

__all__ = ("PriceEntry", "PriceMap", "load_price_map")

_PER_MTOK = 10**6
"""LiteLLM prices per token; the registry's are per million tokens."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceEntry:
    """The validated fields of one price-map entry (None where the map has no value)."""

    key: str
    """The key the entry was found under."""
    input_per_mtok: Decimal | None
    """USD per million input tokens (LiteLLM's ``input_cost_per_token`` x 1e6)."""
    output_per_mtok: Decimal | None
    """USD per million output tokens."""
    context_window: int | None
    """LiteLLM's ``max_input_tokens``."""
    max_output_tokens: int | None
    """LiteLLM's ``max_output_tokens``."""
    cache_read_per_mtok: Decimal | None = None
    """``cache_read_input_token_cost``, per million tokens."""
    cache_write_per_mtok: Decimal | None = None
    """``cache_creation_input_token_cost``, per million tokens."""


class PriceMap:
    """Model key -> prices and limits, in LiteLLM's format.

    Holds the raw JSON and validates only the entries looked up (module doc).
    """

    def __init__(
        self, entries: dict[str, Any], *, name: str, file: str | None = None
    ) -> None:
        """Wrap parsed JSON; `name` labels prices, `file` (default `name`) errors."""
        self.entries = entries
        self.name = name
        """Shown as the price source of models priced from this map."""
        self.file = file or name
        """Named in errors about the map's values."""

    def lookup(self, model_id: str, price_key: str | None = None) -> PriceEntry | None:
        """The validated entry for `model_id`, trying `price_key` then provider conventions.

        Keys tried in order: `price_key`, the bare model name, then
        ``provider/name`` (and ``gemini/name`` for ``google_genai``), since
        LiteLLM keys some providers with a prefix and others without. None
        when no key matches: the YAML must then give the values.

        Raises:
            ConfigError: the entry exists but a value in it is not valid.
        """
        provider, name = parse_model_id(model_id)
        keys = [price_key] if price_key else []
        keys += [name, f"{provider}/{name}"]
        if provider == "google_genai":
            keys.append(f"gemini/{name}")
        for key in keys:
            if key in self.entries:
                return self._validated(key, self.entries[key])
        return None

    def _validated(self, key: str, raw: Any) -> PriceEntry:
        """The entry at `key` as a `PriceEntry`, every value checked."""
        if not isinstance(raw, dict):
            raise ConfigError(
                "invalid price-map entry",
                file=self.file,
                path=key,
                found=raw,
                expected="a JSON object",
            )
        return PriceEntry(
            key=key,
            input_per_mtok=self._price(key, raw, "input_cost_per_token"),
            output_per_mtok=self._price(key, raw, "output_cost_per_token"),
            context_window=self._tokens(key, raw, "max_input_tokens"),
            max_output_tokens=self._tokens(key, raw, "max_output_tokens"),
            cache_read_per_mtok=self._price(key, raw, "cache_read_input_token_cost"),
            cache_write_per_mtok=self._price(
                key, raw, "cache_creation_input_token_cost"
            ),
        )

    def _price(self, key: str, raw: dict[str, Any], field: str) -> Decimal | None:
        """`field` (USD per token) as exact USD per million; None if absent."""
        value = raw.get(field)
        if value is None:
            return None
        if _finite(value) and value >= 0:
            # Through the shortest repr, as YAML floats are: 1.5e-06 stays exact.
            return Decimal(str(value)) * _PER_MTOK
        raise ConfigError(
            "invalid price in the price map",
            file=self.file,
            path=f"{key}.{field}",
            found=_shown(value),
            expected="a finite number of USD per token >= 0",
        )

    def _tokens(self, key: str, raw: dict[str, Any], field: str) -> int | None:
        """`field` as a positive whole token count (JSON may say ``8192.0``)."""
        value = raw.get(field)
        if value is None:
            return None
        if _finite(value) and value == int(value) and 0 < value <= MAX_TOKENS:
            return int(value)
        raise ConfigError(
            "invalid token limit in the price map",
            file=self.file,
            path=f"{key}.{field}",
            found=_shown(value),
            expected=f"a whole number of tokens in 1..{MAX_TOKENS:,}",
        )


def _finite(value: object) -> TypeGuard[int | float]:
    """A finite int or float, not a bool (``true`` is not a price). A JSON
    integer too large for a float (400 digits) is not finite, not an
    `OverflowError`."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _shown(value: object) -> object:
    """`value` for an error message, a long one cut (a 4,000-digit number)."""
    text = repr(value)
    return value if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"


def load_price_map(
    file: str | None,
    source: Literal["auto", "litellm", "none"],
    *,
    base: Path | None,
) -> PriceMap | None:
    """Read the price map named by the config's ``prices`` section, or None.

    `file` (relative to `base`, the config file's directory) wins over
    `source`. LiteLLM's map is read as a data file from the installed
    `litellm` distribution; `litellm` itself is never imported (its import is
    slow and fetches a fresh map over the network unless told otherwise).

    Raises:
        ConfigError: the file cannot be read, is not UTF-8 JSON, or is not an
            object; or ``source`` is ``litellm`` and the package is missing.
    """
    if file is not None:
        path = Path(file)
        if base is not None and not path.is_absolute():
            path = base / path
        return PriceMap(_read_json(path), name=path.name, file=str(path))
    if source == "none":
        return None
    try:
        dist = metadata.distribution("litellm")
    except metadata.PackageNotFoundError:
        if source == "litellm":
            raise ConfigError(
                "prices.source is 'litellm' but the litellm package is not installed",
                path="prices.source",
            ) from None
        return None
    path = Path(
        str(dist.locate_file("litellm/model_prices_and_context_window_backup.json"))
    )
    return PriceMap(_read_json(path), name=f"litellm {dist.version}", file=str(path))


def _read_json(path: Path) -> dict[str, Any]:
    """The JSON object in `path`, or a `ConfigError` naming the file and why."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"cannot read price map: {exc.strerror}", file=str(path)
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"price map is not UTF-8 text (byte {exc.start})", file=str(path)
        ) from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"price map is not valid JSON: {exc}", file=str(path)
        ) from exc
    except ValueError as exc:  # an integer past Python's 4,300-digit limit
        raise ConfigError(
            "price map holds a number too long to read", file=str(path)
        ) from exc
    except RecursionError as exc:
        raise ConfigError("price map is nested too deeply", file=str(path)) from exc
    if not isinstance(data, dict):
        raise ConfigError("price map is not a JSON object", file=str(path))
    return data
