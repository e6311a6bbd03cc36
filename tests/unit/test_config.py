from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import SMALL_REGISTRY

from dispatch import ConfigError, Registry
from dispatch.config import load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


def test_default_registry_loads_with_three_providers_and_a_local_model() -> None:
    registry = Registry.from_config()
    providers = {m.provider for m in registry}
    assert {"openai", "anthropic", "google_genai"} <= providers
    assert any(m.local for m in registry)
    assert registry.tiers == ("small", "medium", "large")
    assert registry.baseline.id == "openai:gpt-5.5"


def test_yaml_floats_become_exact_decimals(registry: Registry) -> None:
    assert registry.get("tiny:model").input_per_mtok == Decimal("0.1")


@pytest.mark.parametrize(
    ("old", "new", "path", "found"),
    [
        ("tier: medium", "tier: huge", "models[1].tier", "huge"),
        (
            "input_per_mtok: 1,",
            "input_per_mtok: -1,",
            "models[1].price.input_per_mtok",
            "-1",
        ),
        ("general: 0.8,", "gnrl: 0.8,", "models[1].capabilities.gnrl", "gnrl"),
        ("latency_ms: 300", "latency: 300", "models[1].latency", "300"),
        (
            "context_window: 100000",
            "context_window: lots",
            "models[1].context_window",
            "lots",
        ),
        ("id: mid:model", "id: midmodel", "models[1]", "midmodel"),
        (
            "{name: large, min_quality: 0.85}",
            "{name: large, min_quality: 0.6}",
            "tiers[2].min_quality",
            "0.6",
        ),
    ],
)
def test_bad_file_error_names_file_path_and_found_value(
    tmp_path: Path, old: str, new: str, path: str, found: str
) -> None:
    assert old in SMALL_REGISTRY
    bad = write(tmp_path, SMALL_REGISTRY.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    message = str(info.value)
    assert str(bad) in message
    assert path in message
    assert found in message


def test_missing_required_field_says_it_is_required(tmp_path: Path) -> None:
    bad = write(tmp_path, SMALL_REGISTRY.replace("    tier: large\n", "", 1))
    with pytest.raises(ConfigError, match=re.escape("models[2].tier")) as info:
        load_config(bad)
    assert "required" in str(info.value)


def test_not_yaml_and_not_a_mapping_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "models: [unclosed"))
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "absent.yaml")


def test_missing_price_without_price_map_names_the_field(tmp_path: Path) -> None:
    text = SMALL_REGISTRY.replace(
        "    price: {input_per_mtok: 1, output_per_mtok: 4}\n", "", 1
    )
    with pytest.raises(ConfigError, match=re.escape("models[1].price.input_per_mtok")):
        load_config(write(tmp_path, text))


def test_price_map_in_litellm_format_fills_what_yaml_leaves_out(tmp_path: Path) -> None:
    (tmp_path / "prices.json").write_text(
        json.dumps(
            {
                "model": {
                    "input_cost_per_token": 1.5e-06,
                    "output_cost_per_token": 6e-06,
                    "max_input_tokens": 64000,
                    "max_output_tokens": 4096,
                },
            }
        )
    )
    text = SMALL_REGISTRY.replace(
        "prices: {source: none}", "prices: {file: prices.json}"
    ).replace(
        "    price: {input_per_mtok: 1, output_per_mtok: 4}\n"
        "    context_window: 100000\n",
        "",
    )
    _, specs = load_config(write(tmp_path, text))
    mid = next(s for s in specs if s.id == "mid:model")
    assert mid.input_per_mtok == Decimal("1.5")
    assert mid.output_per_mtok == Decimal("6")
    assert mid.context_window == 64000
    assert mid.max_output_tokens == 8000  # explicit YAML wins over the map
    assert mid.price_source == "prices.json"
    tiny = next(s for s in specs if s.id == "tiny:model")
    assert tiny.price_source == "yaml"
