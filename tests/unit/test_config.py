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


def test_a_registry_that_is_not_utf8_is_a_config_error_naming_the_file(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(
        SMALL_REGISTRY.replace("version: 1", "# caf\xe9\nversion: 1").encode("latin-1")
    )
    with pytest.raises(ConfigError, match="not UTF-8") as info:
        load_config(bad)
    assert str(bad) in str(info.value)


def _priced_from_file(tmp_path: Path, entry: object) -> Path:
    (tmp_path / "prices.json").write_text(json.dumps({"model": entry}))
    text = SMALL_REGISTRY.replace(
        "prices: {source: none}", "prices: {file: prices.json}"
    ).replace("    price: {input_per_mtok: 1, output_per_mtok: 4}\n", "")
    return write(tmp_path, text)


GOOD_ENTRY = {"input_cost_per_token": 1e-06, "output_cost_per_token": 4e-06}


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("input_cost_per_token", float("nan"), "finite number"),
        ("input_cost_per_token", -1e-06, ">= 0"),
        ("output_cost_per_token", "cheap", "finite number"),
        ("output_cost_per_token", True, "finite number"),
        ("output_cost_per_token", float("inf"), "finite number"),
        ("output_cost_per_token", 10**400, "finite number"),  # no float holds it
        ("max_input_tokens", -5, "whole number of tokens in 1.."),
        ("max_input_tokens", 1.5, "whole number of tokens in 1.."),
        ("max_output_tokens", 10**400, "whole number of tokens in 1.."),
        ("max_output_tokens", 10**10, "whole number of tokens in 1.."),
    ],
)
def test_price_file_values_are_validated_like_yaml_prices(
    tmp_path: Path, field: str, value: object, expected: str
) -> None:
    path = _priced_from_file(tmp_path, {**GOOD_ENTRY, field: value})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(tmp_path / "prices.json") in message
    assert f"model.{field}" in message
    assert expected in message


def test_a_price_file_entry_that_is_not_an_object_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"prices\.json: model"):
        load_config(_priced_from_file(tmp_path, [1, 2]))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"model": {"max_input_tokens": 1' + "0" * 5000 + "}}", "too long"),
        ('{"model": ' * 100_000, "nested too deeply"),
    ],
)
def test_a_price_file_python_cannot_parse_names_the_file(
    tmp_path: Path, text: str, reason: str
) -> None:
    path = _priced_from_file(tmp_path, GOOD_ENTRY)
    (tmp_path / "prices.json").write_text(text)
    with pytest.raises(ConfigError, match=reason) as info:
        load_config(path)
    assert str(tmp_path / "prices.json") in str(info.value)


def test_a_price_file_that_is_not_utf8_names_the_file(tmp_path: Path) -> None:
    path = _priced_from_file(tmp_path, GOOD_ENTRY)
    (tmp_path / "prices.json").write_bytes(b'{"caf\xe9": {}}')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_valid_price_file_values_price_the_model_exactly(tmp_path: Path) -> None:
    _, specs = load_config(_priced_from_file(tmp_path, GOOD_ENTRY))
    mid = next(s for s in specs if s.id == "mid:model")
    assert (mid.input_per_mtok, mid.output_per_mtok) == (Decimal(1), Decimal(4))


def test_unused_price_map_entries_are_not_inspected(tmp_path: Path) -> None:
    path = _priced_from_file(tmp_path, GOOD_ENTRY)
    (tmp_path / "prices.json").write_text(
        json.dumps({"model": GOOD_ENTRY, "other": {"input_cost_per_token": "odd"}})
    )
    load_config(path)
