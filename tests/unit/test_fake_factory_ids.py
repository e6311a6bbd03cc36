"""`fake_factory` keyed by an id no registered model has is refused when the
dispatcher is built, naming the id and the registered ones: such a fake is a typo
that would never serve (the hop would quietly get the default model instead)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from dispatch import ConfigError, Dispatcher, Hop, Registry
from dispatch.testing import FakeChatModel, fake_factory


def test_a_fake_under_an_unregistered_id_is_refused_naming_it(
    registry: Registry,
) -> None:
    factory = fake_factory(
        {"tiny:model": FakeChatModel(), "tiny:modle": FakeChatModel()}
    )
    with pytest.raises(ConfigError) as refused:
        Dispatcher(registry, model_factory=factory)
    message = str(refused.value)
    assert "fake_factory" in message and "'tiny:modle'" in message
    assert "'tiny:model'" not in message.split("registered")[0]  # the good id is fine
    registered = ", ".join(spec.id for spec in registry)
    assert message.endswith(f"expected registered ids: {registered})")


def test_every_unknown_id_is_named_at_once(registry: Registry) -> None:
    factory = fake_factory({"a:typo": FakeChatModel(), "b:typo": FakeChatModel()})
    with pytest.raises(ConfigError, match=r"'a:typo', 'b:typo'"):
        Dispatcher(registry, model_factory=factory)


def test_from_config_checks_the_fakes_against_the_file_s_registry(
    registry_file: Path,
) -> None:
    with pytest.raises(ConfigError, match="'openai:gpt-5.4-mini'"):
        # a shipped-registry id, but this file does not register it
        Dispatcher.from_config(
            registry_file,
            model_factory=fake_factory({"openai:gpt-5.4-mini": FakeChatModel()}),
        )


def test_registered_ids_and_a_default_only_factory_build_and_serve(
    registry: Registry,
) -> None:
    tiny = FakeChatModel(replies=[AIMessage(content="from the fake")])
    dispatcher = Dispatcher(registry, model_factory=fake_factory({"tiny:model": tiny}))
    result = dispatcher.call(Hop(specialist="s", prompt="hi"), [HumanMessage("hi")])
    assert result.record.model == "tiny:model"
    assert result.message.content == "from the fake"
    Dispatcher(registry, model_factory=fake_factory(default=lambda spec: tiny))


def test_faulty_factory_checks_its_per_model_ids_and_its_base_fakes(
    registry: Registry,
) -> None:
    from dispatch.testing_faults import Fault, faulty_factory

    typo = faulty_factory(0.0, per_model={"tiny:modle": (1.0, [Fault.RATE_LIMIT])})
    with pytest.raises(ConfigError, match=r"faulty_factory per_model.*'tiny:modle'"):
        Dispatcher(registry, model_factory=typo)
    wrapped = faulty_factory(0.0, base=fake_factory({"big:modle": FakeChatModel()}))
    with pytest.raises(ConfigError, match=r"fake_factory.*'big:modle'"):
        Dispatcher(registry, model_factory=wrapped)
    Dispatcher(
        registry,
        model_factory=faulty_factory(
            0.5, per_model={"tiny:model": (1.0, [Fault.RATE_LIMIT])}
        ),
    )
