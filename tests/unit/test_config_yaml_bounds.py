"""A registry YAML that is legal but hostile or absurd: aliases that expand
past any real config ("billion laughs"), an alias inside itself, prices and
budgets too large to be real. Each is a `ConfigError` naming the file and
where in it, raised in well under a second; errors never echo the document."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import SMALL_REGISTRY

from dispatch import ConfigError
from dispatch._yaml import load_yaml
from dispatch.config import MAX_USD, load_config, parse_config

TINY_CAPS = "capabilities: {general: 0.6, search: 0.6, analysis: 0.55, coding: 0.5}"
MID_CAPS = "capabilities: {general: 0.8, search: 0.75, analysis: 0.75, coding: 0.78}"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def laughs(levels: int = 7) -> str:
    """Anchors each listing nine aliases of the one before: 9**7 (4.8 million)
    values from seven lines (nine levels would be the classic billion)."""
    lines = [
        '  l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'
    ]
    for n in range(1, levels):
        lines.append(f"  l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "where", ["x-bomb:\n{laughs}", "x-bomb:\n{laughs}budget: {{limit_usd: *l6}}\n"]
)
def test_an_alias_bomb_is_refused_quickly_naming_the_file_and_line(
    tmp_path: Path, where: str
) -> None:
    path = write(tmp_path, SMALL_REGISTRY + where.format(laughs=laughs()))
    started = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert time.perf_counter() - started < 2
    message = str(info.value)
    assert message.startswith(f"{path}: line "), message
    assert "too large once its aliases are expanded" in message
    assert "lol" not in message


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, SMALL_REGISTRY + "x-loop: &loop [1, *loop]\n")
    with pytest.raises(ConfigError, match="refers to a node that contains it"):
        load_config(path)


def test_ordinary_anchors_aliases_and_merge_keys_still_load(tmp_path: Path) -> None:
    text = SMALL_REGISTRY.replace(TINY_CAPS, TINY_CAPS.replace(": {", ": &caps {"))
    text = text.replace(MID_CAPS, "capabilities: {<<: *caps, coding: 0.9}")
    _, specs = load_config(write(tmp_path, text))
    mid = next(s for s in specs if s.id == "mid:model")
    assert mid.quality == {
        "general": 0.6,
        "search": 0.6,
        "analysis": 0.55,
        "coding": 0.9,
    }


def test_a_missing_top_level_field_names_it_without_echoing_the_document(
    tmp_path: Path,
) -> None:
    text = SMALL_REGISTRY.replace(
        "capabilities: [coding, search, analysis, general]\n", ""
    )
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: capabilities: a required field is missing"


@pytest.mark.parametrize(
    ("text", "found"),
    [("- a\n- b\n", "a list"), ("", "nothing"), ("just text\n", "a str")],
)
def test_a_top_level_that_is_not_a_mapping_says_what_it_is(
    tmp_path: Path, text: str, found: str
) -> None:
    with pytest.raises(
        ConfigError, match=f"top level must be a mapping .found {found},"
    ):
        load_config(write(tmp_path, text))


def test_a_long_bad_value_is_cut_short(tmp_path: Path) -> None:
    path = write(
        tmp_path, SMALL_REGISTRY.replace("tier: medium", "tier: " + "x" * 5000)
    )
    with pytest.raises(ConfigError, match=r"models\[1\]\.tier") as info:
        load_config(path)
    assert len(str(info.value)) < 300


def test_a_yaml_syntax_error_is_one_line_naming_line_and_column(tmp_path: Path) -> None:
    secret = "sk-" + "a1B2" * 8
    text = SMALL_REGISTRY.replace("tier: medium", f"tier: [medium  # {secret}")
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: line "), message
    assert "not valid YAML" in message
    assert "\n" not in message and secret not in message
    assert "<unicode string>" not in message


@pytest.mark.parametrize(
    "price", ["1e400", "1" + "0" * 400, "1.0e+10", str(MAX_USD + 1)]
)
def test_a_price_too_large_to_be_real_names_the_model_and_the_field(
    tmp_path: Path, price: str
) -> None:
    text = SMALL_REGISTRY.replace("input_per_mtok: 1,", f"input_per_mtok: {price},")
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(
        f"{path}: models[1].price.input_per_mtok: model 'mid:model': price"
    ), message
    assert "at most 1,000,000,000 USD per million tokens" in message
    assert len(message) < 300, message


def test_the_largest_allowed_price_loads(tmp_path: Path) -> None:
    text = SMALL_REGISTRY.replace("input_per_mtok: 1,", f"input_per_mtok: {MAX_USD},")
    _, specs = load_config(write(tmp_path, text))
    assert next(s for s in specs if s.id == "mid:model").input_per_mtok == MAX_USD


def test_a_price_map_value_too_large_names_the_model_and_the_map(
    tmp_path: Path,
) -> None:
    (tmp_path / "prices.json").write_text(
        json.dumps(
            {"model": {"input_cost_per_token": 1e300, "output_cost_per_token": 1e-6}}
        )
    )
    text = SMALL_REGISTRY.replace(
        "prices: {source: none}", "prices: {file: prices.json}"
    )
    text = text.replace("    price: {input_per_mtok: 1, output_per_mtok: 4}\n", "")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert (
        "models[1].price.input_per_mtok: model 'mid:model': price from the price "
        "map 'prices.json' too large"
    ) in str(info.value)


@pytest.mark.parametrize("limit", ["1e400", "1" + "0" * 400])
def test_a_budget_too_large_to_be_real_is_refused(tmp_path: Path, limit: str) -> None:
    path = write(tmp_path, SMALL_REGISTRY + f"budget: {{limit_usd: {limit}}}\n")
    with pytest.raises(ConfigError, match=r"budget\.limit_usd: budget too large"):
        load_config(path)


def test_a_key_written_twice_is_refused_naming_both_lines() -> None:
    text = "version: 1\nbudget:\n  limit_usd: 5\n  mode: hard\n  limit_usd: 500\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, label="reg.yaml")
    message = str(info.value)
    assert "'limit_usd' appears twice" in message
    assert "first at line 3, column 3" in message
    assert "line 5, column 3" in message


def test_merge_keys_may_repeat_and_are_overridden_as_yaml_says() -> None:
    raw = load_yaml(
        "base: &b {a: 1, b: 2}\nmore: &m {c: 3}\nuse:\n  <<: *b\n  <<: *m\n  a: 9\n",
        "x.yaml",
    )
    assert raw["use"] == {"a": 9, "b": 2, "c": 3}
