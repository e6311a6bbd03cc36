"""A learned artefact over part of the registry: registered models it has no
prediction for never win on their static prior (a typed-in number, not a
learned probability); they serve a hop only when every predicted model is
out (context, circuit, privacy, budget), and the decision's reason says so.
Loading such an artefact warns once, naming the models and the file."""

from __future__ import annotations

import warnings
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from _general_specs import general_spec

from dispatch import Hop
from dispatch.policy import BudgetView, select
from dispatch.registry import Registry
from dispatch.routing.heads import LinearHeads
from dispatch.routing.learned import (
    LearnedArtefact,
    LearnedRouter,
)
from dispatch.routing.learned_loading import (
    UnpredictedModelsWarning,
    load_learned_router,
)
from dispatch.testing import FakeEncoder
from dispatch.types import ModelSpec, Pin, PinChange

DIM = 16
PREDICTED = ("p:cheap", "p:mid", "p:dear")


spec = general_spec


def registry(*extra: ModelSpec) -> Registry:
    """The artefact's three models, plus `extra` models it does not predict."""
    return Registry(
        [
            spec("p:cheap", "small", "0.1", 0.9, context_window=8_000),
            spec("p:mid", "medium", "1", 0.9, context_window=8_000),
            spec("p:dear", "large", "10", 0.9, context_window=8_000),
            *extra,
        ],
        tiers=[("small", 0.5), ("medium", 0.7), ("large", 0.85)],
        capabilities=["general"],
    )


# Cheaper than every predicted model, with a prior (0.95) that clears any bar.
UNPREDICTED = spec("u:new", "small", "0.05", 0.95, context_window=200_000, local=True)
# An unpredicted model whose prior is below even the small tier's bar (0.5).
WEAK = spec("u:weak", "small", "0.01", 0.4, context_window=200_000, local=True)


def artefact() -> LearnedArtefact:
    """Predicts 0.5, 0.8, 0.95 for p:cheap, p:mid, p:dear; absolute bar 0.75."""
    p = np.asarray((0.5, 0.8, 0.95), dtype=np.float32)
    return LearnedArtefact(
        encoder=FakeEncoder(DIM).id,
        models=PREDICTED,
        quality=LinearHeads(
            weights=np.zeros((DIM, len(p)), dtype=np.float32),
            bias=np.log(p / (1 - p)).astype(np.float32),
        ),
        bar=0.75,
        bar_mode="absolute",
    )


def router(reg: Registry) -> LearnedRouter:
    return LearnedRouter(artefact(), FakeEncoder(DIM), specs=reg, tiers=reg.tiers)


def hop(**kw: object) -> Hop:
    return Hop(specialist="s", prompt="anything", **kw)  # type: ignore[arg-type]


def test_an_unpredicted_model_does_not_win_on_its_registry_prior() -> None:
    reg = registry(UNPREDICTED)
    h = hop(input_tokens=100)
    decision = router(reg).decide(h)
    # u:new is cheaper than p:mid and its prior 0.95 clears the learned bar
    # 0.75, but 0.95 is a typed-in prior, not a prediction for this prompt.
    choice = select(decision, h, reg)
    assert choice.model.id == "p:mid"
    assert "prior" not in choice.decision.reason


def test_with_every_registered_model_predicted_the_choice_is_unchanged() -> None:
    reg = registry()
    h = hop(input_tokens=100)
    choice = select(router(reg).decide(h), h, reg)
    assert choice.model.id == "p:mid"
    assert (
        choice.reason
        == "cheapest of 2 eligible for general/medium (bar 0.750 predicted)"
    )


def test_when_the_circuit_excludes_every_predicted_model_an_unpredicted_one_serves() -> (
    None
):
    reg = registry(UNPREDICTED, WEAK)
    h = hop(input_tokens=100)
    choice = select(router(reg).decide(h), h, reg, exclude=frozenset(PREDICTED))
    # u:weak is cheaper, but its prior (0.4) is below the medium tier's bar
    assert choice.model.id == "u:new"
    assert choice.decision.reason.endswith(
        "; no model the learned router predicts is eligible: chosen by registry "
        "prior at the tier's bar among the models it has no prediction for"
    )
    assert choice.reason == "cheapest of 1 eligible for general/medium (bar 0.7)"


def test_when_the_input_fits_no_predicted_model_an_unpredicted_one_serves() -> None:
    reg = registry(UNPREDICTED)
    h = hop(input_tokens=50_000)  # predicted models hold 8,000
    choice = select(router(reg).decide(h), h, reg)
    assert choice.model.id == "u:new"
    assert "no model the learned router predicts is eligible" in (
        choice.decision.reason
    )


def test_a_sensitive_input_may_go_to_an_unpredicted_local_model() -> None:
    reg = registry(UNPREDICTED)
    h = hop(input_tokens=100, sensitive=frozenset({"email"}))
    choice = select(router(reg).decide(h), h, reg)
    assert choice.model.id == "u:new"
    assert "registry prior" in choice.decision.reason


def test_with_no_eligible_model_at_all_the_error_is_unchanged() -> None:
    from dispatch.errors import NoEligibleModel

    reg = registry(WEAK)
    h = hop(input_tokens=100)
    with pytest.raises(NoEligibleModel):
        select(router(reg).decide(h), h, reg, exclude=frozenset(PREDICTED))


def test_a_soft_budget_steps_down_among_predicted_models_first() -> None:
    reg = registry(UNPREDICTED)
    h = hop(input_tokens=1000, max_output_tokens=1000)
    decision = router(reg).decide(h)
    # 2000 tokens: p:cheap $0.0002, u:new $0.0001, p:mid $0.002
    enough_for_cheap = BudgetView(remaining=Decimal("0.0005"), mode="soft")
    choice = select(decision, h, reg, budget=enough_for_cheap)
    assert choice.model.id == "p:cheap"
    assert choice.pin_change is PinChange.DOWNGRADED
    only_unpredicted = BudgetView(remaining=Decimal("0.00015"), mode="soft")
    choice = select(decision, h, reg, budget=only_unpredicted)
    assert choice.model.id == "u:new"
    assert "registry prior" in choice.decision.reason
    assert choice.reason.startswith("budget: $0.000150 left")


def test_a_pin_on_an_unpredicted_model_is_replaced_saying_why() -> None:
    reg = registry(UNPREDICTED)
    h = hop(input_tokens=100)
    pin = Pin(model="u:new", tier="small", reason="pinned before the artefact")
    choice = select(router(reg).decide(h), h, reg, pin=pin)
    assert choice.model.id == "p:mid"
    assert choice.pin_change is PinChange.REPLACED
    assert choice.repinned_from == "u:new"
    assert choice.reason == "re-pinned: the learned router has no prediction for u:new"


def saved(tmp_path: Path) -> Path:
    path = tmp_path / "router.npz"
    artefact().save(path)
    return path


def test_loading_warns_once_naming_the_unpredicted_models_and_the_file(
    tmp_path: Path,
) -> None:
    path = saved(tmp_path)
    reg = registry(WEAK, UNPREDICTED)
    with pytest.warns(UnpredictedModelsWarning) as caught:
        load_learned_router(path, reg, encoder=FakeEncoder(DIM))
    assert [str(w.message) for w in caught] == [
        f"{path}: the learned artefact has no predictions for 2 registered "
        "models (u:weak, u:new); they serve a hop only when none of the models "
        "it predicts (p:cheap, p:mid, p:dear) is eligible"
    ]
    assert issubclass(UnpredictedModelsWarning, UserWarning)


def test_loading_an_artefact_that_predicts_every_registered_model_is_silent(
    tmp_path: Path,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_learned_router(saved(tmp_path), registry(), encoder=FakeEncoder(DIM))
