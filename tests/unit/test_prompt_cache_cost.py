"""Prompt-cache reads and writes are billed at the provider's cached rates."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import SMALL_REGISTRY, registry_from_text
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from dispatch import ConfigError, Registry
from dispatch.config import load_config
from dispatch.cost import call_cost, usage_of
from dispatch.hop import settle_hop
from dispatch.policy import select
from dispatch.records import HopRecord
from dispatch.sim import SimChatModel
from dispatch.types import Hop, RouteDecision, RouterLayer, Usage
from dispatch.usage import checked_usage

TINY_PRICE = "price: {input_per_mtok: 0.1, output_per_mtok: 0.4}"
CACHED = registry_from_text(
    SMALL_REGISTRY.replace(
        TINY_PRICE,
        "price: {input_per_mtok: 0.1, output_per_mtok: 0.4,"
        " cache_read_per_mtok: 0.01, cache_write_per_mtok: 0.125}",
    )
)
HOP = Hop(specialist="w", prompt="p", input_tokens=2000, max_output_tokens=50)
REQUEST = [HumanMessage("hello there")]
SMALL = RouteDecision(
    capability="general",
    tier="small",
    confidence=1.0,
    router=RouterLayer.FIXED,
    reason="fixed",
)


def reply(details: dict[str, object], input_tokens: int = 1000) -> AIMessage:
    msg = AIMessage(content="ok")
    msg.usage_metadata = {
        "input_tokens": input_tokens,
        "output_tokens": 20,
        "total_tokens": input_tokens + 20,
        "input_token_details": details,  # type: ignore[typeddict-item]
    }
    return msg


def test_cached_input_is_billed_at_the_cache_rates_and_the_rest_at_the_input_rate() -> (
    None
):
    tiny = CACHED.get("tiny:model")
    # 600 uncached x 0.1 + 300 read x 0.01 + 100 written x 0.125 + 20 out x 0.4, per Mtok
    assert call_cost(
        tiny, 1000, 20, cache_read_tokens=300, cache_write_tokens=100
    ) == Decimal("0.0000835")
    assert call_cost(tiny, 1000, 20) == Decimal("0.000108")


def test_a_model_without_cache_rates_bills_cached_tokens_at_the_input_rate(
    registry: Registry,
) -> None:
    tiny = registry.get("tiny:model")
    assert tiny.cache_read_per_mtok is None and tiny.cache_read_rate == Decimal("0.1")
    assert call_cost(tiny, 1000, 20, cache_read_tokens=900) == call_cost(tiny, 1000, 20)


def test_usage_keeps_the_cache_details_apart_from_the_input_count() -> None:
    usage = usage_of(reply({"cache_read": 700, "cache_creation": 200}), REQUEST)
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == (
        1000,
        700,
        200,
    )
    plain = usage_of(reply({}), REQUEST)
    assert (plain.cache_read_tokens, plain.cache_write_tokens) == (0, 0)


def check(
    read: object, write: object, input_tokens: object = 1000
) -> tuple[Usage, str | None]:
    choice = select(SMALL, HOP, CACHED)
    usage = Usage(
        input_tokens=input_tokens,  # type: ignore[arg-type]
        output_tokens=20,
        cache_read_tokens=read,  # type: ignore[arg-type]
        cache_write_tokens=write,  # type: ignore[arg-type]
    )
    return checked_usage(usage, choice, REQUEST, sent_tokens=HOP.input_tokens)


def test_a_possible_split_is_kept() -> None:
    usage, anomaly = check(700, 300)
    assert (usage.cache_read_tokens, usage.cache_write_tokens, anomaly) == (
        700,
        300,
        None,
    )


@pytest.mark.parametrize(
    ("read", "write", "anomaly"),
    [
        (900, 200, "cache read 900 + cache creation 200 exceed input 1000"),
        (1500, 0, "cache read 1500 exceeds input 1000"),
        (-5, 0, "cache read -5 is negative"),
        ("most", 0, "cache read 'most' is not a number"),
        (0, float("nan"), "cache creation nan is not finite"),
    ],
)
def test_an_impossible_split_is_an_anomaly_billed_at_the_dearest_input_rate(
    read: object, write: object, anomaly: str
) -> None:
    usage, problem = check(read, write)
    assert problem == anomaly
    assert usage.estimated
    # tiny:model writes at 0.125 > reads 0.1: every input token billed as a write
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == (0, 1000)
    tiny = CACHED.get("tiny:model")
    cost = call_cost(
        tiny,
        usage.input_tokens,
        usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
    )
    assert cost > call_cost(tiny, 1000, 20)


def test_a_split_of_an_impossible_input_count_is_dropped() -> None:
    usage, problem = check(500, 0, input_tokens=-1)
    assert problem == "input -1 is negative"
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == (0, 0)


def test_settling_records_the_cached_tokens_and_prices_them() -> None:
    choice = select(SMALL, HOP, CACHED)
    record = settle_hop(
        HOP,
        choice,
        reply({"cache_read": 300, "cache_creation": 100}),
        REQUEST,
        CACHED,
        duration_ms=1.0,
    )
    assert (record.cache_read_tokens, record.cache_write_tokens) == (300, 100)
    assert record.cost_usd == Decimal("0.0000835")
    # the counterfactual model would have cached the same prefix (big:model has no
    # cache rates: billed at its input rate)
    big = CACHED.get("big:model")
    assert record.baseline_cost_usd == call_cost(big, 1000, 20)
    assert record.usage_anomaly is None
    again = HopRecord.from_dict(json.loads(json.dumps(record.as_dict())))
    assert again == record


def test_records_checkpointed_before_cache_fields_still_load() -> None:
    choice = select(SMALL, HOP, CACHED)
    record = settle_hop(HOP, choice, reply({}), REQUEST, CACHED, duration_ms=1.0)
    old = dict(record.as_dict())
    del old["cache_read_tokens"], old["cache_write_tokens"]  # type: ignore[misc]
    assert HopRecord.from_dict(old) == record


def _priced_from_file(tmp_path: Path, entry: dict[str, object]) -> Path:
    (tmp_path / "prices.json").write_text(json.dumps({"model": entry}))
    text = SMALL_REGISTRY.replace(
        "prices: {source: none}", "prices: {file: prices.json}"
    ).replace("    price: {input_per_mtok: 1, output_per_mtok: 4}\n", "")
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return path


LITELLM_ENTRY = {
    "input_cost_per_token": 3e-06,
    "output_cost_per_token": 1.5e-05,
    "cache_read_input_token_cost": 3e-07,
    "cache_creation_input_token_cost": 3.75e-06,
}


def test_the_price_map_supplies_the_cache_rates(tmp_path: Path) -> None:
    _, specs = load_config(_priced_from_file(tmp_path, LITELLM_ENTRY))
    mid = next(s for s in specs if s.id == "mid:model")
    assert (mid.cache_read_per_mtok, mid.cache_write_per_mtok) == (
        Decimal("0.3"),
        Decimal("3.75"),
    )


def test_yaml_cache_rates_win_over_the_map(tmp_path: Path) -> None:
    path = _priced_from_file(tmp_path, LITELLM_ENTRY)
    path.write_text(
        path.read_text().replace(
            "  - id: mid:model\n",
            "  - id: mid:model\n    price: {input_per_mtok: 2, output_per_mtok: 9,"
            " cache_read_per_mtok: 0.5}\n",
        )
    )
    _, specs = load_config(path)
    mid = next(s for s in specs if s.id == "mid:model")
    assert mid.input_per_mtok == Decimal("2")
    assert mid.cache_read_per_mtok == Decimal("0.5")
    assert mid.cache_write_per_mtok == Decimal("3.75")  # the YAML names none


def test_a_bad_cache_rate_in_the_map_names_the_field(tmp_path: Path) -> None:
    entry = {**LITELLM_ENTRY, "cache_read_input_token_cost": -1e-07}
    with pytest.raises(ConfigError, match="model.cache_read_input_token_cost"):
        load_config(_priced_from_file(tmp_path, entry))


def test_the_default_registry_carries_the_providers_cache_rates() -> None:
    registry = Registry.from_config()
    sonnet = registry.get("anthropic:claude-sonnet-4-6")
    assert (sonnet.cache_read_rate, sonnet.cache_write_rate) == (
        Decimal("0.30"),
        Decimal("3.75"),
    )
    mini = registry.get("openai:gpt-5.4-mini")
    # OpenAI charges nothing extra to write its automatic cache
    assert (mini.cache_read_rate, mini.cache_write_rate) == (
        Decimal("0.075"),
        mini.input_per_mtok,
    )


def test_the_simulator_reads_a_seen_prefix_from_its_cache_on_the_same_model() -> None:
    context = SystemMessage("the shared document " * 300)  # ~1,500 tokens
    first = [context, HumanMessage("first question")]
    model = SimChatModel(model="openai:gpt-5.4-mini")
    cold = model.invoke(first)
    assert cold.usage_metadata is not None
    assert "input_token_details" not in cold.usage_metadata
    warm = model.invoke([*first, cold, HumanMessage("second question")])
    assert warm.usage_metadata is not None
    assert warm.usage_metadata["input_token_details"] == {
        "cache_read": cold.usage_metadata["input_tokens"]
    }
    other = SimChatModel(model="anthropic:claude-haiku-4-5")
    switched = other.invoke([*first, cold, HumanMessage("second question")])
    assert switched.usage_metadata is not None
    assert "input_token_details" not in switched.usage_metadata  # a cold cache


def test_the_simulator_does_not_cache_short_prefixes() -> None:
    model = SimChatModel(model="openai:gpt-5.4-mini")
    request = [HumanMessage("short")]
    model.invoke(request)
    again = model.invoke(request)
    assert again.usage_metadata is not None
    assert "input_token_details" not in again.usage_metadata


def test_a_hard_budget_reserves_enough_for_every_input_token_written_to_the_cache() -> (
    None
):
    choice = select(SMALL, HOP, CACHED)
    all_written = reply({"cache_creation": HOP.input_tokens}, HOP.input_tokens)
    record = settle_hop(HOP, choice, all_written, REQUEST, CACHED, duration_ms=1.0)
    assert record.usage_anomaly is None
    assert record.cost_usd == choice.expected_cost_usd - Decimal("0.4") * 30 / 10**6
    assert record.cost_usd <= choice.expected_cost_usd  # never an overrun
