from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from dispatch import ConfigError, Dispatcher, Hop, Registry
from dispatch.cli.support import (
    Mode,
    checkpoint_store,
    dispatcher_from_env,
    summarize,
)
from dispatch.testing import FakeChatModel, fake_factory


def test_no_credentials_means_the_simulator() -> None:
    assert dispatcher_from_env(env={}).simulate


def test_credentials_narrow_the_registry_to_reachable_providers() -> None:
    dispatcher = dispatcher_from_env(env={"ANTHROPIC_API_KEY": "x"})
    assert not dispatcher.simulate
    assert {m.provider for m in dispatcher.registry} == {"anthropic"}
    # the configured baseline (an OpenAI model) is gone: the dearest large one stands in
    assert dispatcher.registry.baseline.provider == "anthropic"


def test_forced_modes() -> None:
    assert dispatcher_from_env(mode=Mode.SIM, env={"OPENAI_API_KEY": "x"}).simulate
    with pytest.raises(ConfigError, match="needs provider credentials"):
        dispatcher_from_env(mode=Mode.LIVE, env={})


def test_missing_usage_is_estimated_and_marked(registry: Registry) -> None:
    quiet = FakeChatModel(replies=[AIMessage(content="x" * 40)], report_usage=False)
    dispatcher = Dispatcher(registry, model_factory=fake_factory({"tiny:model": quiet}))
    result = dispatcher.call(Hop(specialist="s", prompt="hi"), [HumanMessage("a" * 40)])
    assert result.record.estimated
    assert (result.record.input_tokens, result.record.output_tokens) == (14, 10)


def test_summary_totals_and_saving(registry: Registry) -> None:
    dispatcher = Dispatcher(
        registry, model_factory=fake_factory({}, default=lambda s: FakeChatModel())
    )
    records = [
        dispatcher.call(Hop(specialist="s", prompt=p), [HumanMessage(p)]).record
        for p in [
            "hello",
            "Design a distributed cache step by step, edge cases and trade-offs",
        ]
    ]
    summary = summarize(records, registry)
    assert summary.hops == 2
    assert summary.tiers == ("small", "large")
    assert summary.total_cost_usd == sum((r.cost_usd for r in records), Decimal(0))
    assert summary.saving_usd == summary.baseline_cost_usd - summary.total_cost_usd
    assert 0 < summary.saving_ratio < 1


def test_a_postgres_url_selects_postgres_and_anything_else_is_a_sqlite_path() -> None:
    url = "postgresql://dispatch@db/dispatch"
    assert checkpoint_store({"DISPATCH_CHECKPOINTS": url}) == url
    assert (
        checkpoint_store({"DISPATCH_CHECKPOINTS": "postgres://h/d"}) == "postgres://h/d"
    )
    assert checkpoint_store({"DISPATCH_CHECKPOINTS": "/tmp/c.sqlite"}) == Path(
        "/tmp/c.sqlite"
    )
    assert checkpoint_store({"XDG_STATE_HOME": "/s"}) == Path(
        "/s/graph-dispatch/checkpoints.sqlite"
    )
