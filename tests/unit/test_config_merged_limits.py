"""Limits checked on a model's final values, wherever each came from: an
output cap above the context window is refused when the price map gave
either number (not only when the YAML gave both), and a YAML token limit
above `MAX_TOKENS` is refused as a price map's is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import SMALL_REGISTRY

from dispatch import ConfigError
from dispatch.config import load_config
from dispatch.types import MAX_TOKENS

MID_LIMITS = "    context_window: 100000\n    max_output_tokens: 8000\n"


def load_with_map(tmp_path: Path, entry: dict[str, Any], limits: str) -> None:
    """Load SMALL_REGISTRY with mid:model's limits replaced by `limits` and a
    price map (``prices.json``) holding `entry` for it."""
    (tmp_path / "prices.json").write_text(json.dumps({"model": entry}))
    text = SMALL_REGISTRY.replace(
        "prices: {source: none}", "prices: {file: prices.json}"
    ).replace(MID_LIMITS, limits)
    path = tmp_path / "registry.yaml"
    path.write_text(text)
    load_config(path)


@pytest.mark.parametrize(
    ("entry", "limits", "sources"),
    [
        (
            {"max_input_tokens": 64000},
            "    max_output_tokens: 150000\n",
            "output cap from the YAML larger than the context window "
            "from the price map 'prices.json'",
        ),
        (
            {"max_output_tokens": 150000},
            "    context_window: 64000\n",
            "output cap from the price map 'prices.json' larger than the context "
            "window from the YAML",
        ),
        (
            {"max_input_tokens": 64000, "max_output_tokens": 150000},
            "",
            "output cap from the price map 'prices.json' larger than the context "
            "window from the price map 'prices.json'",
        ),
    ],
    ids=["window-from-map", "cap-from-map", "both-from-map"],
)
def test_an_output_cap_above_the_window_is_refused_wherever_the_numbers_came_from(
    tmp_path: Path, entry: dict[str, Any], limits: str, sources: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_with_map(tmp_path, entry, limits)
    message = str(info.value)
    assert "registry.yaml: models[1].max_output_tokens: model 'mid:model': " in message
    assert sources in message
    assert (
        "(found 150000, expected at most the context_window of mid:model (64000))"
    ) in message


def test_an_output_cap_the_merged_window_holds_is_accepted(tmp_path: Path) -> None:
    load_with_map(
        tmp_path, {"max_input_tokens": 64000}, "    max_output_tokens: 64000\n"
    )


def test_when_the_yaml_gives_both_numbers_the_message_names_no_source(
    tmp_path: Path,
) -> None:
    limits = "    context_window: 64000\n    max_output_tokens: 150000\n"
    with pytest.raises(ConfigError) as info:
        load_with_map(tmp_path, {"max_input_tokens": 1_000_000}, limits)
    assert "output cap larger than the context window (found 150000" in str(info.value)


@pytest.mark.parametrize("field", ["context_window", "max_output_tokens"])
def test_a_yaml_token_limit_above_max_tokens_is_refused_like_a_price_maps(
    tmp_path: Path, field: str
) -> None:
    limits = MID_LIMITS.replace(
        f"{field}: {100000 if field == 'context_window' else 8000}",
        f"{field}: {MAX_TOKENS + 1}",
    )
    if field == "max_output_tokens":  # keep the cap within the window
        limits = limits.replace(
            "context_window: 100000", f"context_window: {MAX_TOKENS}"
        )
    with pytest.raises(ConfigError) as info:
        load_with_map(tmp_path, {}, limits)
    message = str(info.value)
    assert f"models[1].{field}: model 'mid:model'" in message
    assert "too large to be real" in message
    assert "1..1,000,000,000" in message
