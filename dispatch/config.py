"""The YAML configuration: validated by pydantic at load time, turned into plain values.

A bad file raises `ConfigError` naming the file, the path inside it, what was
found (cut short: never the document) and what was expected. Legal YAML is
bounded too: aliases may not expand past `MAX_YAML_SIZE` and a mapping may not
repeat a key (`dispatch._yaml`), and no price or budget may exceed `MAX_USD`.
This is the only module that reads config files or uses pydantic; everything
downstream works on `dispatch.types` values.
"""

from __future__ import annotations

import os
import reprlib
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dispatch._prices import PriceMap, load_price_map
from dispatch._yaml import MAX_YAML_SIZE, load_yaml
from dispatch.config_schema import Config, DefaultsConfig, ModelConfig, _CrossRef
from dispatch.errors import ConfigError, InvalidModelSpec
from dispatch.types import MAX_USD, ModelSpec

__all__ = (
    "DEFAULT_CONFIG",
    "MAX_USD",
    "MAX_YAML_SIZE",
    "Config",
    "PriceMap",
    "load_config",
    "load_price_map",
)

DEFAULT_CONFIG = "default"
"""Name accepted by `load_config` for the registry shipped with the package."""


def load_config(source: str | Path = DEFAULT_CONFIG) -> tuple[Config, list[ModelSpec]]:
    """Load and validate a config file; return it and its fully priced model specs.

    Args:
        source: a path to a YAML file, or ``"default"`` for the shipped registry.

    Returns:
        The validated config and one `ModelSpec` per model, each price and
        limit filled from the YAML, else the price map.

    Raises:
        ConfigError: the file is missing, not YAML, or not a valid configuration,
            or a model has a price or limit in neither the YAML nor the map.

    Example:
        >>> config, specs = load_config()  # the shipped registry
        >>> all(s.input_per_mtok >= 0 for s in specs)
        True
    """
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"config source: expected a path or {DEFAULT_CONFIG!r}, "
            f"found {type(source).__name__}"
        )
    if str(source) == DEFAULT_CONFIG:
        text = (
            resources.files("dispatch")
            .joinpath("data/registry.yaml")
            .read_text("utf-8")
        )
        label, base = "dispatch/data/registry.yaml", None
    else:
        path = Path(source)
        label = str(source)  # as typed: Path("https://u:p@h") drops a slash,
        # and the credentials would no longer look like a URL's to `redact`
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read config: {exc.strerror}", file=label
            ) from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"config is not UTF-8 text (byte {exc.start}: {exc.reason})",
                file=label,
            ) from exc
        base = path.parent
    config = parse_config(text, label=label)
    prices = load_price_map(config.prices.file, config.prices.source, base=base)
    return config, [
        _spec(m, i, prices, label, config.defaults) for i, m in enumerate(config.models)
    ]


def parse_config(text: str, *, label: str = "<config>") -> Config:
    """Validate YAML text as a `Config`; errors name `label` and the path inside it.

    Only the first validation error is reported: it is the one to fix, and a
    list of twenty consequences of one typo helps nobody. An error shows the
    offending value cut short, never the whole document.

    Raises:
        ConfigError: invalid YAML, aliases that expand past `MAX_YAML_SIZE`,
            a non-mapping top level, an invalid field, or a budget above
            `MAX_USD`.
    """
    raw = load_yaml(text, label)
    if not isinstance(raw, dict):
        raise ConfigError(
            "the top level must be a mapping",
            file=label,
            found=_Shown("nothing" if raw is None else f"a {type(raw).__name__}"),
            expected="a mapping (capabilities, tiers, models, ...)",
        )
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise _validation_error(exc, label) from None
    limit = config.budget.limit_usd
    if limit is not None:
        _check_usd(
            limit, label, "budget.limit_usd", "USD (null: no limit)", what="budget"
        )
    return config


def _validation_error(exc: ValidationError, label: str) -> ConfigError:
    """pydantic's first error as a `ConfigError` at its path in the file."""
    err = exc.errors()[0]
    ctx_err = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_err, _CrossRef):
        return ConfigError(
            "invalid value",
            file=label,
            path=ctx_err.path,
            found=_shown(ctx_err.found),
            expected=ctx_err.expected,
        )
    loc = _format_loc(err["loc"]) or None
    if err["type"] == "missing":  # its input is the enclosing mapping: not shown
        return ConfigError("a required field is missing", file=label, path=loc)
    message = str(err["msg"])
    if err["type"] == "value_error":  # a validator's own message says it all
        return ConfigError(message.removeprefix("Value error, "), file=label, path=loc)
    return ConfigError(
        message,
        file=label,
        path=loc,
        found=_shown(err.get("input")),
        expected=_expected(err),
    )


class _Shown:
    """A value as an error message shows it (`ConfigError` prints ``repr``)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist = 2, 4, 4
_SHORT.maxstring, _SHORT.maxlong, _SHORT.maxother = 60, 40, 60
"""Bounded reprs: a value found in a config is shown cut short, never the
document (a missing key's "input" is its whole mapping; an alias can repeat a
large one many times)."""


def _shown(value: object) -> object:
    """`value` for an error's ``found``: short as is, long or nested cut."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, Decimal):  # as written (1E+400); a long one cut
        text = str(value)
        return _Shown(text if len(text) <= 40 else f"{text[:18]}...{text[-18:]}")
    return _Shown(_SHORT.repr(value))


def _check_usd(
    value: Decimal, label: str, path: str, unit: str, *, what: str = "amount"
) -> None:
    """Refuse an amount that is not finite or is above `MAX_USD`.

    Raises:
        ConfigError: names `label`, `path`, `what` and the bound.
    """
    if value.is_finite() and value <= MAX_USD:
        return
    raise ConfigError(
        f"{what} too large to be real" if value.is_finite() else f"{what} not finite",
        file=label,
        path=path,
        found=_shown(value),
        expected=f"at most {MAX_USD:,} {unit}",
    )


def _format_loc(loc: tuple[int | str, ...]) -> str:
    """pydantic's ``("models", 2, "tier")`` as ``models[2].tier``, as in the YAML."""
    out = ""
    for part in loc:
        out += (
            f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        )
    return out


def _expected(err: Any) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "literal_error":
        return f"one of {ctx.get('expected')}"
    if kind == "extra_forbidden":
        return "no such field (check the spelling)"
    if kind == "missing":
        return "a value (the field is required)"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return str(err["msg"]).removeprefix("Input should be ")
    return (
        str(err["msg"]).removeprefix("Input should be ").removeprefix("Value error, ")
    )


def _spec(
    m: ModelConfig,
    i: int,
    prices: PriceMap | None,
    label: str,
    defaults: DefaultsConfig,
) -> ModelSpec:
    """The priced spec of model `i`: YAML values first, then the price map.

    `price_source` records ``yaml`` unless a price or limit came from the map,
    so ``dispatch models`` can say where a price was taken from. `ModelSpec`
    checks the merged values (prices, limits, an output cap above the context
    window), so a value the map filled in meets the same bounds as the YAML's.

    Raises:
        ConfigError: a price or limit is in neither; or a merged value is out
            of bounds (names ``models[i].<field>``, the model and, for a value
            the map gave, the map).
    """
    entry = prices.lookup(m.id, m.price_key) if prices else None
    from_map: set[str] = set()  # YAML paths of the values the map filled in

    def pick(field: str, yaml_value: Any, map_value: Any) -> Any:
        if yaml_value is None and map_value is not None:
            from_map.add(field)
            return map_value
        return yaml_value

    def need(field: str, yaml_value: Any, map_value: Any) -> Any:
        value = pick(field, yaml_value, map_value)
        if value is not None:
            return value
        where = f"not in the price map {prices.name!r}" if prices else "no price map"
        raise ConfigError(
            f"model {m.id!r} has no {field} ({where})",
            file=label,
            path=f"models[{i}].{field}",
            found=None,
            expected=f"an explicit {field} in the YAML",
        )

    def price(field: str) -> Any:
        return getattr(m.price, field) if m.price is not None else None

    def listed(field: str) -> Any:
        return getattr(entry, field) if entry is not None else None

    values = {
        field: need(f"price.{field}", price(field), listed(field))
        for field in ("input_per_mtok", "output_per_mtok")
    }
    for field in ("context_window", "max_output_tokens"):
        values[field] = need(field, getattr(m, field), listed(field))
    # A cache rate absent from both is None: billed at the input rate (no
    # discount graph-dispatch cannot show).
    for field in ("cache_read_per_mtok", "cache_write_per_mtok"):
        values[field] = pick(f"price.{field}", price(field), listed(field))
    required = {"price.input_per_mtok", "price.output_per_mtok"}
    required |= {"context_window", "max_output_tokens"}
    try:
        return ModelSpec(
            id=m.id,
            tier=m.tier,
            quality=dict(m.capabilities),
            local=m.location == "local",
            latency_ms=m.latency_ms,
            base_url=m.base_url,
            rpm=m.rpm,
            tpm=m.tpm,
            timeout_s=m.timeout_s or defaults.timeout_s,
            price_source=prices.name if prices and from_map & required else "yaml",
            **values,
        )
    except InvalidModelSpec as exc:
        origin = {f: prices.name for f in from_map} if prices else {}
        raise _in_file(exc, i, label, origin) from None


_YAML_PATH = {
    "quality": "capabilities",
    "input_per_mtok": "price.input_per_mtok",
    "output_per_mtok": "price.output_per_mtok",
    "cache_read_per_mtok": "price.cache_read_per_mtok",
    "cache_write_per_mtok": "price.cache_write_per_mtok",
}
"""`ModelSpec` field -> where a model entry of the YAML sets it (same name otherwise)."""


def _yaml_path(field: str) -> str:
    """``quality.coding`` as ``capabilities.coding``, ``input_per_mtok`` as
    ``price.input_per_mtok``."""
    head, dot, rest = field.partition(".")
    return _YAML_PATH.get(head, head) + dot + rest


def _in_file(
    exc: InvalidModelSpec, i: int, label: str, origin: dict[str, str]
) -> ConfigError:
    """`exc` at model `i`'s place in `label`. When a value the check read came
    from a price map (`origin`: YAML path -> map name), the message says where
    each value came from: ``output cap from the YAML larger than the context
    window from the price map 'prices.json'``."""
    paths = [_yaml_path(f) for f in (exc.field, exc.other) if f is not None]
    named = any(p in origin for p in paths)

    def source(path: str) -> str:
        if not named:
            return ""
        return (
            f" from the price map {origin[path]!r}"
            if path in origin
            else " from the YAML"
        )

    message = f"model {exc.model!r}: {exc.subject}{source(paths[0])} {exc.issue}"
    message += "".join(source(p) for p in paths[1:])
    return ConfigError(
        message,
        file=label,
        path=f"models[{i}].{paths[0]}",
        found=_shown(exc.found),
        expected=exc.expected,
    )
