"""Live start-up decided in `dispatcher_from_env`: a missing provider package is a
first-line error with its install command, and one local Ollama model runs the
whole demo with the quality bars relaxed, and says so."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from conftest import PROVIDER_KEYS, registry_from_text
from test_providers import ProviderServer, server  # noqa: F401 - the fixture
from typer.testing import CliRunner

import dispatch._chat_models
from dispatch import ConfigError, Registry, hop_records
from dispatch.cli.app import app
from dispatch.cli.support import Mode, dispatcher_from_env, relax_to_serve
from dispatch.graphs import DEMO_PLAN, DEMO_REQUEST, build_orchestrator


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(dispatch._chat_models, "ALLOW_PROVIDER_MODELS", True)
    for key in PROVIDER_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("DISPATCH_CHECKPOINTS", str(tmp_path / "checkpoints.sqlite"))


def test_missing_provider_package_is_an_error_naming_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "langchain_openai", None)  # not installed
    with pytest.raises(ConfigError, match=r"pip install 'graph-dispatch\[openai\]'"):
        dispatcher_from_env(env={"OPENAI_API_KEY": "sk-test"})
    # the simulator needs no provider package
    assert dispatcher_from_env(env={"OPENAI_API_KEY": "sk"}, mode=Mode.SIM).simulate


def test_cli_prints_the_install_command_as_its_first_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "langchain_anthropic", None)
    result = CliRunner().invoke(app, ["demo"], env={"ANTHROPIC_API_KEY": "sk-ant"})
    assert result.exit_code == 2
    first = result.output.strip().splitlines()[0]
    assert first.startswith("error: provider package missing for anthropic")
    said = " ".join(result.output.split())  # the console wraps long lines
    assert "pip install 'graph-dispatch[anthropic]'" in said
    assert "--mode sim" in said


def test_relaxing_keeps_a_registry_that_already_serves_everything() -> None:
    full = Registry.from_config()
    relaxed, notes = relax_to_serve(full)
    assert relaxed is full
    assert notes == []


def test_google_alone_has_no_large_model_so_the_large_bar_is_lowered() -> None:
    full = Registry.from_config()
    google = full.restrict(m.id for m in full if m.provider == "google_genai")
    relaxed, notes = relax_to_serve(google)
    assert relaxed.bar("small") == full.bar("small")  # already met: kept
    assert relaxed.bar("large") < full.bar("large")
    assert relaxed.tiers == full.tiers
    assert any("large 0.85->" in n for n in notes)


def test_only_ollama_reachable_runs_the_whole_demo_on_it(
    server: ProviderServer,  # noqa: F811 - the fixture
) -> None:
    notes: list[str] = []
    dispatcher = dispatcher_from_env(
        env={"OLLAMA_HOST": server.url}, notify=notes.append
    )
    assert not dispatcher.simulate
    assert [m.id for m in dispatcher.registry] == ["ollama:qwen2.5-coder:7b"]
    assert any("search" in n for n in notes)  # no prior declared: said so
    assert any("quality bars relaxed" in n for n in notes)
    graph = build_orchestrator(dispatcher)
    state = asyncio.run(
        graph.ainvoke({"request": DEMO_REQUEST, "tasks": list(DEMO_PLAN)})
    )
    records = hop_records(state)
    assert {r.model for r in records} == {"ollama:qwen2.5-coder:7b"}
    assert all(r.error is None for r in records)
    assert {r.tier for r in records} >= {"small", "large"}
    assert len(records) == len(DEMO_PLAN) + 1
    assert all(req.path == "/api/chat" for req in server.requests)
    assert sum(r.input_tokens for r in records) == 14 * len(records)  # read back
    assert state["answer"] == "hi"


def test_live_mode_without_credentials_names_the_variables() -> None:
    with pytest.raises(ConfigError, match="OLLAMA_HOST"):
        dispatcher_from_env(env={}, mode=Mode.LIVE)


def test_a_capability_nobody_declares_gets_the_weakest_prior() -> None:
    one = registry_from_text(
        """
        version: 1
        capabilities: [coding, search]
        tiers: [{name: small, min_quality: 0.5}, {name: large, min_quality: 0.9}]
        prices: {source: none}
        models:
          - id: local:coder
            tier: small
            price: {input_per_mtok: 0, output_per_mtok: 0}
            context_window: 8000
            max_output_tokens: 2000
            capabilities: {coding: 0.7}
        """
    )
    relaxed, notes = relax_to_serve(one)
    assert relaxed.get("local:coder").quality == {"coding": 0.7, "search": 0.7}
    assert (relaxed.bar("small"), relaxed.bar("large")) == (0.5, 0.7)
    assert len(notes) == 2


def test_a_model_without_its_key_fails_naming_the_variable_to_set() -> None:
    from langchain_core.messages import HumanMessage

    from dispatch import Dispatcher, Hop
    from dispatch.errors import ModelUnavailable

    registry = Registry.from_config()
    claude = next(m for m in registry if m.provider == "anthropic")
    with pytest.raises(
        ModelUnavailable, match="no key in the environment: set ANTHROPIC_API_KEY"
    ):
        dispatch._chat_models.build_chat_model(claude, simulate=False, env={})
    gemini = next(m for m in registry if m.provider == "google_genai")
    with pytest.raises(ModelUnavailable, match="GOOGLE_API_KEY or GEMINI_API_KEY"):
        dispatch._chat_models.build_chat_model(gemini, simulate=False, env={})
    assert dispatch._chat_models.build_chat_model(
        claude, simulate=False, env={"ANTHROPIC_API_KEY": "sk-ant-test"}
    )

    # a library user who forgot every key reads which one to set on each record
    hop = Hop(specialist="w", prompt="hi", capability_hint="general", tier_hint="large")
    result = Dispatcher(registry).call(hop, [HumanMessage("hi")])
    assert not result.ok
    errors = [r.error or "" for r in result.records]
    assert errors, "no attempt recorded"
    assert all("ModelUnavailable" in e and "set " in e for e in errors), errors
    assert any("ANTHROPIC_API_KEY" in e or "OPENAI_API_KEY" in e for e in errors)
