"""The YAML configuration: validated by pydantic at load time, turned into plain values.

A bad file raises `ConfigError` naming the file, the path inside it, what was
found and what was expected. This is the only module that reads files or uses
pydantic; everything downstream works on `dispatch.types` values.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dispatch._prices import PriceEntry, PriceMap, load_price_map
from dispatch.config_schema import Config, DefaultsConfig, ModelConfig, _CrossRef
from dispatch.errors import ConfigError
from dispatch.types import ModelSpec

__all__ = (
    "DEFAULT_CONFIG",
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
    if str(source) == DEFAULT_CONFIG:
        text = (
            resources.files("dispatch")
            .joinpath("data/registry.yaml")
            .read_text("utf-8")
        )
        label, base = "dispatch/data/registry.yaml", None
    else:
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read config: {exc.strerror}", file=str(path)
            ) from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"config is not UTF-8 text (byte {exc.start}: {exc.reason})",
                file=str(path),
            ) from exc
        label, base = str(path), path.parent
    config = parse_config(text, label=label)
    prices = load_price_map(config.prices.file, config.prices.source, base=base)
    return config, [
        _spec(m, i, prices, label, config.defaults) for i, m in enumerate(config.models)
    ]


_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML was built with it: 3 ms instead of 20 ms
for the shipped registry, which every command loads."""


def parse_config(text: str, *, label: str = "<config>") -> Config:
    """Validate YAML text as a `Config`; errors name `label` and the path inside it.

    Only the first validation error is reported: it is the one to fix, and a
    list of twenty consequences of one typo helps nobody.

    Raises:
        ConfigError: invalid YAML, a non-mapping top level, or an invalid field.
    """
    try:
        raw = yaml.load(text, Loader=_SAFE_LOADER)  # a safe loader, never yaml.Loader
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=label) from exc
    if not isinstance(raw, dict):
        raise ConfigError(
            "the top level must be a mapping",
            file=label,
            found=raw,
            expected="a mapping",
        )
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        ctx_err = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_err, _CrossRef):
            raise ConfigError(
                "invalid value",
                file=label,
                path=ctx_err.path,
                found=ctx_err.found,
                expected=ctx_err.expected,
            ) from None
        loc = _format_loc(err["loc"])
        raise ConfigError(
            err["msg"],
            file=label,
            path=loc or None,
            found=err.get("input"),
            expected=_expected(err),
        ) from None


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

    `price_source` records ``yaml`` unless some value came from the map, so
    ``dispatch models`` can say where a price was taken from.

    Raises:
        ConfigError: a price or limit is in neither; names ``models[i].<field>``.
    """
    entry = prices.lookup(m.id, m.price_key) if prices else None
    source = "yaml"

    def need(field: str, yaml_value: Any, map_value: Any) -> Any:
        nonlocal source
        if yaml_value is not None:
            return yaml_value
        if map_value is not None:
            source = prices.name if prices else source
            return map_value
        where = f"not in the price map {prices.name!r}" if prices else "no price map"
        raise ConfigError(
            f"model {m.id!r} has no {field} ({where})",
            file=label,
            path=f"models[{i}].{field}",
            found=None,
            expected=f"an explicit {field} in the YAML",
        )

    price_in = m.price.input_per_mtok if m.price else None
    price_out = m.price.output_per_mtok if m.price else None
    return ModelSpec(
        id=m.id,
        tier=m.tier,
        quality=dict(m.capabilities),
        input_per_mtok=need(
            "price.input_per_mtok", price_in, entry and entry.input_per_mtok
        ),
        output_per_mtok=need(
            "price.output_per_mtok", price_out, entry and entry.output_per_mtok
        ),
        context_window=need(
            "context_window", m.context_window, entry and entry.context_window
        ),
        max_output_tokens=need(
            "max_output_tokens", m.max_output_tokens, entry and entry.max_output_tokens
        ),
        local=m.location == "local",
        latency_ms=m.latency_ms,
        base_url=m.base_url,
        rpm=m.rpm,
        tpm=m.tpm,
        timeout_s=m.timeout_s or defaults.timeout_s,
        price_source=source,
        cache_read_per_mtok=_cached_rate(m, entry, "cache_read_per_mtok"),
        cache_write_per_mtok=_cached_rate(m, entry, "cache_write_per_mtok"),
    )


def _cached_rate(m: ModelConfig, entry: PriceEntry | None, field: str) -> Any:
    """A prompt-cache rate: the YAML's, else the price map's, else None (then
    billed at the input rate: no discount graph-dispatch cannot show)."""
    value = getattr(m.price, field) if m.price is not None else None
    if value is None and entry is not None:
        value = getattr(entry, field)
    return value
