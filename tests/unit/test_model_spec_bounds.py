"""A `ModelSpec` built in code is held to the bounds a registry file is: a
timeout, price, token limit, quality, latency or rate limit the YAML would
refuse is refused by the constructor, naming the model, the field and the value."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import SMALL_REGISTRY

from dispatch import ConfigError
from dispatch.config import load_config
from dispatch.errors import InvalidModelSpec
from dispatch.types import MAX_TIMEOUT_S, MAX_TOKENS, MAX_USD, ModelSpec

GOOD: dict[str, Any] = {
    "id": "p:model",
    "tier": "small",
    "quality": {"general": 0.8},
    "input_per_mtok": Decimal("0.15"),
    "output_per_mtok": Decimal("0.6"),
    "context_window": 128_000,
    "max_output_tokens": 4096,
}


def spec(**changes: Any) -> ModelSpec:
    return ModelSpec(**{**GOOD, **changes})


@pytest.mark.parametrize(
    ("timeout", "issue"),
    [
        (float("nan"), "not finite"),
        (float("inf"), "not finite"),
        (-1.0, "not positive"),
        (0, "not positive"),
        (MAX_TIMEOUT_S + 0.5, "longer than 3600 s"),
        (1e9, "longer than 3600 s"),
        pytest.param(10**400, "longer than 3600 s", id="10**400"),  # no float holds it
        ("30", "not a number"),
        (True, "not a number"),
    ],
)
def test_a_timeout_from_code_must_be_finite_positive_and_at_most_an_hour(
    timeout: Any, issue: str
) -> None:
    with pytest.raises(ConfigError) as info:
        spec(timeout_s=timeout)
    message = str(info.value)
    assert message.startswith(f"timeout_s: model 'p:model': timeout {issue}"), message
    assert f"found {timeout!r}"[:40] in message
    assert "at most 3600" in message


@pytest.mark.parametrize("timeout", [None, 0.5, 120, MAX_TIMEOUT_S])
def test_no_timeout_or_one_up_to_an_hour_is_accepted(timeout: float | None) -> None:
    assert spec(timeout_s=timeout).timeout_s == timeout


@pytest.mark.parametrize("seconds", [MAX_TIMEOUT_S, MAX_TIMEOUT_S + 0.5])
def test_code_and_the_registry_file_agree_on_the_longest_timeout(
    tmp_path: Path, seconds: float
) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(
        SMALL_REGISTRY.replace(
            "    latency_ms: 300\n", f"    latency_ms: 300\n    timeout_s: {seconds}\n"
        )
    )
    outcomes = []
    for build in (lambda: load_config(path), lambda: spec(timeout_s=seconds)):
        try:
            build()
            outcomes.append("accepted")
        except ConfigError:
            outcomes.append("refused")
    assert outcomes[0] == outcomes[1], outcomes


def test_a_changed_copy_is_checked_too() -> None:
    with pytest.raises(ConfigError, match="timeout_s"):
        dataclasses.replace(spec(), timeout_s=float("inf"))


@pytest.mark.parametrize(
    ("field", "value", "issue"),
    [
        ("input_per_mtok", Decimal("NaN"), "price not finite"),
        ("output_per_mtok", Decimal("Infinity"), "price not finite"),
        ("input_per_mtok", Decimal("-0.01"), "price negative"),
        ("output_per_mtok", MAX_USD + 1, "price too large to be real"),
        ("input_per_mtok", 0.15, "price not a Decimal"),
        ("cache_read_per_mtok", Decimal("-1"), "price negative"),
        ("cache_write_per_mtok", Decimal("1E+400"), "price too large to be real"),
    ],
)
def test_a_price_from_code_must_be_a_finite_decimal_up_to_max_usd(
    field: str, value: object, issue: str
) -> None:
    with pytest.raises(ConfigError) as info:
        spec(**{field: value})
    message = str(info.value)
    assert message.startswith(f"{field}: model 'p:model': {issue}"), message
    assert "at most 1,000,000,000 USD per million tokens" in message


@pytest.mark.parametrize(
    ("field", "value", "issue"),
    [
        ("context_window", 0, "context window not a positive whole number"),
        ("context_window", MAX_TOKENS + 1, "context window too large to be real"),
        ("context_window", 128_000.0, "context window not a positive whole number"),
        ("max_output_tokens", -5, "output cap not a positive whole number"),
        ("max_output_tokens", True, "output cap not a positive whole number"),
    ],
)
def test_a_token_limit_from_code_must_be_a_whole_number_up_to_max_tokens(
    field: str, value: object, issue: str
) -> None:
    with pytest.raises(ConfigError) as info:
        spec(**{field: value})
    message = str(info.value)
    assert message.startswith(f"{field}: model 'p:model': {issue}"), message
    assert "1..1,000,000,000" in message


def test_an_output_cap_from_code_above_the_context_window_names_both_numbers() -> None:
    with pytest.raises(ConfigError) as info:
        spec(context_window=8000, max_output_tokens=9000)
    assert str(info.value) == (
        "max_output_tokens: model 'p:model': output cap larger than the context "
        "window (found 9000, expected at most the context_window of p:model (8000))"
    )


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"id": "no-provider"}, "id"),
        ({"id": ":model"}, "id"),
        ({"quality": {"general": 1.5}}, "quality.general"),
        ({"quality": {"coding": float("nan")}}, "quality.coding"),
        ({"latency_ms": 0}, "latency_ms"),
        ({"rpm": 0}, "rpm"),
        ({"tpm": -100}, "tpm"),
    ],
)
def test_other_values_the_registry_file_refuses_are_refused_in_code(
    changes: dict[str, Any], path: str
) -> None:
    with pytest.raises(InvalidModelSpec) as info:
        spec(**changes)
    assert info.value.path == path
    assert info.value.model == changes.get("id", "p:model")
    assert isinstance(info.value, ConfigError)  # one type for every bad config


def test_values_at_every_bound_are_accepted() -> None:
    edge = spec(
        input_per_mtok=MAX_USD,
        output_per_mtok=Decimal(0),
        cache_read_per_mtok=Decimal(0),
        cache_write_per_mtok=MAX_USD,
        context_window=MAX_TOKENS,
        max_output_tokens=MAX_TOKENS,
        quality={"general": 0.0, "coding": 1},
        timeout_s=MAX_TIMEOUT_S,
        rpm=1,
        tpm=1,
        latency_ms=1,
    )
    assert edge.max_output_tokens == edge.context_window == MAX_TOKENS
