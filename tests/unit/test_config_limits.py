"""Limits a registry file cannot set: an endless timeout, an output cap the
model's context window cannot hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import SMALL_REGISTRY

from dispatch import ConfigError
from dispatch.config import load_config


def load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(text)
    load_config(path)


def with_model_timeout(value: str) -> str:
    return SMALL_REGISTRY.replace(
        "    latency_ms: 300\n", f"    latency_ms: 300\n    timeout_s: {value}\n", 1
    )


def with_default_timeout(value: str) -> str:
    return SMALL_REGISTRY.replace(
        "defaults: {baseline_model: big:model}",
        f"defaults: {{baseline_model: big:model, timeout_s: {value}}}",
        1,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (".inf", "a finite number"),
        (".nan", "a finite number"),
        ("1e9", "less than or equal to 3600"),
        ("3600.5", "less than or equal to 3600"),
        ("0", "greater than 0"),
    ],
)
@pytest.mark.parametrize(
    ("place", "path"),
    [(with_model_timeout, "models[1].timeout_s"), (with_default_timeout, "defaults.timeout_s")],
)  # fmt: skip
def test_a_timeout_must_be_a_finite_number_of_seconds_up_to_an_hour(
    tmp_path: Path, place: object, path: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(path)) as info:
        load(tmp_path, place(value))  # type: ignore[operator]
    assert expected in str(info.value)


def test_an_hour_is_the_longest_timeout_accepted(tmp_path: Path) -> None:
    load(tmp_path, with_model_timeout("3600"))
    load(tmp_path, with_default_timeout("3600"))


def test_an_output_cap_beyond_the_context_window_names_the_model_and_both_numbers(
    tmp_path: Path,
) -> None:
    text = SMALL_REGISTRY.replace(
        "max_output_tokens: 8000", "max_output_tokens: 150000"
    )
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    message = str(info.value)
    assert "models[1].max_output_tokens" in message
    assert "mid:model" in message
    assert "150000" in message and "100000" in message


def test_an_output_cap_equal_to_the_context_window_is_accepted(tmp_path: Path) -> None:
    text = SMALL_REGISTRY.replace(
        "max_output_tokens: 8000", "max_output_tokens: 100000"
    )
    load(tmp_path, text)


def test_a_non_finite_learned_router_bar_is_refused(tmp_path: Path) -> None:
    text = SMALL_REGISTRY + "routing: {bar: .inf}\n"
    with pytest.raises(ConfigError, match=re.escape("routing.bar")):
        load(tmp_path, text)
