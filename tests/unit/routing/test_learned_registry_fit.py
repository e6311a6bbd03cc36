"""A learned artefact over a registry that does not hold (all of) its models, or
holds them for free: refused at load time naming the file, or routed without a
division by zero, never a crash in the first hop."""

from __future__ import annotations

import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dispatch import ConfigError, Hop
from dispatch.policy import select
from dispatch.registry import Registry
from dispatch.routing.heads import LinearHeads
from dispatch.routing.learned import (
    LearnedArtefact,
    LearnedRouter,
)
from dispatch.routing.learned_loading import load_learned_router
from dispatch.testing import FakeEncoder
from dispatch.types import ModelSpec, RouteDecision

DIM = 16
TIERS = [("small", 0.5), ("medium", 0.7), ("large", 0.85)]


def spec(model_id: str, tier: str, price: str) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        tier=tier,
        quality={"general": 0.9},
        input_per_mtok=Decimal(price),
        output_per_mtok=Decimal(price),
        context_window=100_000,
        max_output_tokens=4096,
    )


def registry(*specs: ModelSpec) -> Registry:
    return Registry(list(specs), tiers=TIERS, capabilities=["general"])


PRICED = registry(
    spec("p:cheap", "small", "0.1"),
    spec("p:mid", "medium", "1"),
    spec("p:dear", "large", "10"),
)
FREE = registry(
    spec("p:cheap", "small", "0"),
    spec("p:mid", "medium", "0"),
    spec("p:dear", "large", "0"),
)


def artefact(
    models: tuple[str, ...], probabilities: tuple[float, ...], bar: float = 0.5
) -> LearnedArtefact:
    """A utility-bar artefact predicting `probabilities` for every prompt."""
    p = np.asarray(probabilities, dtype=np.float32)
    return LearnedArtefact(
        encoder=FakeEncoder(DIM).id,
        models=models,
        quality=LinearHeads(
            weights=np.zeros((DIM, len(p)), dtype=np.float32),
            bias=np.log(p / (1 - p)).astype(np.float32),
        ),
        bar=bar,
        bar_mode="utility",
    )


def saved(tmp_path: Path, art: LearnedArtefact) -> Path:
    path = tmp_path / "router.npz"
    art.save(path)
    return path


def chosen(router: LearnedRouter, reg: Registry) -> str:
    """The model the policy picks for one hop, with numpy warnings as errors."""
    hop = Hop(specialist="s", prompt="anything", input_tokens=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return select(router.decide(hop), hop, reg).model.id


def test_an_artefact_none_of_whose_models_is_registered_is_refused_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = saved(tmp_path, artefact(("x:one", "x:two"), (0.6, 0.9)))

    def no_encoder(**_: object) -> None:
        raise AssertionError("the encoder is built only for an artefact that fits")

    monkeypatch.setattr("dispatch.routing.features.default_encoder", no_encoder)
    with pytest.raises(ConfigError) as caught:
        load_learned_router(path, PRICED)
    assert str(caught.value) == (
        f"{path}: none of the artefact's models (x:one, x:two) is in the "
        "registry (p:cheap, p:mid, p:dear)"
    )


def test_a_long_list_of_model_ids_is_cut_short_in_the_message(tmp_path: Path) -> None:
    models = tuple(f"x:m{i}" for i in range(11))
    path = saved(tmp_path, artefact(models, (0.5,) * 11))
    with pytest.raises(ConfigError, match=r"x:m7 and 3 more\) is in the registry"):
        load_learned_router(path, PRICED, encoder=FakeEncoder(DIM))


def test_a_router_built_or_narrowed_over_none_of_its_models_is_refused() -> None:
    art = artefact(("p:cheap", "p:dear"), (0.6, 0.9))
    with pytest.raises(ConfigError, match=r"none of the artefact's models"):
        LearnedRouter(art, FakeEncoder(DIM), specs=registry(spec("q:x", "small", "1")))
    router = LearnedRouter(art, FakeEncoder(DIM), specs=PRICED, tiers=PRICED.tiers)
    with pytest.raises(ConfigError, match=r"is in the narrowed registry \(p:mid\)"):
        router.over(PRICED.restrict(["p:mid"]))


def test_a_partly_registered_artefact_loads_and_never_proposes_the_others(
    tmp_path: Path,
) -> None:
    # x:best is predicted best and would win at bar 0; it is not registered.
    art = artefact(("p:cheap", "p:dear", "x:best"), (0.6, 0.8, 0.99), bar=0.0)
    reg = registry(spec("p:cheap", "small", "0.1"), spec("p:dear", "large", "10"))
    router = load_learned_router(saved(tmp_path, art), reg, encoder=FakeEncoder(DIM))
    assert chosen(router, reg) == "p:dear"
    decision = router.decide(Hop(specialist="s", prompt="anything"))
    assert decision.bar == pytest.approx(0.8)


@pytest.mark.parametrize("bar", [0.0, 0.5, 50.0])
def test_when_every_registered_model_is_free_the_best_prediction_wins(
    tmp_path: Path, bar: float
) -> None:
    # Free models cost nothing to weigh against quality: the cost scale is 1
    # and every scaled cost 0, so the bar (willingness to pay) changes nothing.
    art = artefact(("p:cheap", "p:mid", "p:dear"), (0.6, 0.8, 0.9), bar=bar)
    router = load_learned_router(saved(tmp_path, art), FREE, encoder=FakeEncoder(DIM))
    assert chosen(router, FREE) == "p:dear"


def test_free_models_next_to_an_unregistered_one_route_without_nan() -> None:
    art = artefact(("p:cheap", "p:mid", "x:gone"), (0.6, 0.8, 0.99), bar=5.0)
    reg = registry(spec("p:cheap", "small", "0"), spec("p:mid", "medium", "0"))
    router = LearnedRouter(art, FakeEncoder(DIM), specs=reg, tiers=reg.tiers)
    assert chosen(router, reg) == "p:mid"
    hop = Hop(specialist="s", prompt="x", input_tokens=0, max_output_tokens=0)
    with np.errstate(all="raise"):  # zero tokens: no 0 * inf anywhere either
        assert router.decide(hop).bar == pytest.approx(0.8)


def test_a_priced_registry_still_trades_quality_against_price() -> None:
    art = artefact(("p:cheap", "p:mid", "p:dear"), (0.6, 0.8, 0.9), bar=50.0)
    router = LearnedRouter(art, FakeEncoder(DIM), specs=PRICED, tiers=PRICED.tiers)
    assert chosen(router, PRICED) == "p:cheap"


def test_a_bar_that_is_not_finite_is_refused() -> None:
    art = artefact(("p:cheap", "p:dear"), (0.6, 0.9))
    with pytest.raises(ConfigError, match=r"finite bars >= 0"):
        LearnedRouter(art, FakeEncoder(DIM), specs=PRICED, bar=float("inf"))


def test_loading_makes_one_decision_and_names_the_file_when_it_cannot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = saved(tmp_path, artefact(("p:cheap", "p:mid", "p:dear"), (0.6, 0.8, 0.9)))
    calls: list[str] = []
    decision = LearnedRouter.decision

    def spy(self: LearnedRouter, hop: Hop, *args: Any, **kw: Any) -> RouteDecision:
        calls.append(hop.prompt)
        return decision(self, hop, *args, **kw)

    monkeypatch.setattr(LearnedRouter, "decision", spy)
    load_learned_router(path, PRICED, encoder=FakeEncoder(DIM))
    assert len(calls) == 1

    def divides_by_zero(self: LearnedRouter, *args: Any, **kw: Any) -> Any:
        return np.float64(1.0) / np.float64(0.0)  # a warning unless checked

    monkeypatch.setattr(LearnedRouter, "decision", divides_by_zero)
    with pytest.raises(ConfigError, match=r"router\.npz: .*cannot route over"):
        load_learned_router(path, PRICED, encoder=FakeEncoder(DIM))
