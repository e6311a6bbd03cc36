from __future__ import annotations

import dataclasses
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dispatch import ConfigError, Hop
from dispatch.policy import select
from dispatch.registry import Registry
from dispatch.routing.heads import CapabilityHead, KnnHeads, LinearHeads
from dispatch.routing.learned import LearnedArtefact, LearnedRouter
from dispatch.testing import FakeEncoder
from dispatch.types import ModelSpec, RouterLayer

DIM = 16
MODELS = ("p:cheap", "p:mid", "p:dear")


def spec(model_id: str, tier: str, price: str) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        tier=tier,
        quality={"general": 0.9, "coding": 0.9},  # priors: everyone clears any bar
        input_per_mtok=Decimal(price),
        output_per_mtok=Decimal(price),
        context_window=100_000,
        max_output_tokens=4096,
    )


REGISTRY = Registry(
    [
        spec("p:cheap", "small", "0.1"),
        spec("p:mid", "medium", "1"),
        spec("p:dear", "large", "10"),
    ],
    tiers=[("small", 0.5), ("medium", 0.7), ("large", 0.85)],
    capabilities=["coding", "general"],
)


def constant_heads(probabilities: tuple[float, ...]) -> LinearHeads:
    """Heads that predict `probabilities` for every prompt."""
    p = np.asarray(probabilities, dtype=np.float32)
    return LinearHeads(
        weights=np.zeros((DIM, len(p)), dtype=np.float32),
        bias=np.log(p / (1 - p)).astype(np.float32),
    )


def artefact(
    probabilities: tuple[float, ...], mode: str, bar: float
) -> LearnedArtefact:
    return LearnedArtefact(
        encoder=FakeEncoder(DIM).id,
        models=MODELS,
        quality=constant_heads(probabilities),
        bar=bar,
        bar_mode=mode,
    )


def route(art: LearnedArtefact) -> tuple[str, float | None]:
    router = LearnedRouter(art, FakeEncoder(DIM), specs=REGISTRY, tiers=REGISTRY.tiers)
    hop = Hop(
        specialist="s", prompt="anything", input_tokens=100, max_output_tokens=100
    )
    decision = router.decide(hop)
    assert decision.router is RouterLayer.LEARNED
    assert decision.quality is not None and set(decision.quality) == set(MODELS)
    return select(decision, hop, REGISTRY).model.id, decision.bar


def test_policy_takes_the_cheapest_model_whose_prediction_clears_an_absolute_bar() -> (
    None
):
    assert route(artefact((0.5, 0.8, 0.95), "absolute", 0.75))[0] == "p:mid"
    assert route(artefact((0.5, 0.8, 0.95), "absolute", 0.9))[0] == "p:dear"
    # Priors say every model is 0.9; the predictions, not the priors, decide.
    assert route(artefact((0.5, 0.8, 0.95), "absolute", 0.3))[0] == "p:cheap"


def test_when_no_model_clears_the_bar_the_best_prediction_is_chosen() -> None:
    model, bar = route(artefact((0.2, 0.4, 0.3), "absolute", 0.9))
    assert model == "p:mid"
    assert bar == pytest.approx(0.4)


def test_relative_bar_scales_with_the_best_prediction() -> None:
    assert route(artefact((0.50, 0.58, 0.60), "relative", 0.95))[0] == "p:mid"
    assert route(artefact((0.50, 0.58, 0.60), "relative", 0.8))[0] == "p:cheap"


def test_utility_bar_trades_predicted_quality_against_price() -> None:
    # Prices 0.1 : 1 : 10 -> costs scaled by the dearest: 0.01, 0.1, 1.
    probs = (0.60, 0.80, 0.90)
    assert route(artefact(probs, "utility", 0.0))[0] == "p:dear"  # money is no object
    assert (
        route(artefact(probs, "utility", 0.05))[0] == "p:dear"
    )  # 0.90-0.05 > 0.80-0.005
    assert (
        route(artefact(probs, "utility", 0.5))[0] == "p:mid"
    )  # 0.80-0.05 > 0.60-0.005
    assert route(artefact(probs, "utility", 50.0))[0] == "p:cheap"


def test_the_decision_names_the_lowest_tier_with_an_eligible_model() -> None:
    router = LearnedRouter(
        artefact((0.5, 0.8, 0.95), "absolute", 0.75), FakeEncoder(DIM), specs=REGISTRY
    )
    assert router.decide(Hop(specialist="s", prompt="x")).tier == "medium"


def test_artefact_round_trips_through_npz_without_pickle(tmp_path: Path) -> None:
    art = LearnedArtefact(
        encoder="enc",
        models=MODELS,
        quality=KnnHeads(
            points=np.eye(3, DIM, dtype=np.float32),
            targets=np.eye(3, dtype=np.float32),
            k=1,
        ),
        capabilities=("coding", "general"),
        capability=CapabilityHead(
            classes=("coding", "general"),
            embedding_weights=np.ones((DIM, 2), dtype=np.float32),
            bias=np.zeros(2, dtype=np.float32),
        ),
        bar=0.12,
        bar_mode="utility",
        meta={"scores": {"auc": 0.7}},
    )
    path = tmp_path / "router.npz"
    art.save(path)
    with zipfile.ZipFile(path) as z:
        assert all(name.endswith(".npy") for name in z.namelist())
    back = LearnedArtefact.load(path)
    assert (back.encoder, back.models, back.bar, back.bar_mode) == (
        "enc",
        MODELS,
        0.12,
        "utility",
    )
    assert back.meta == {"scores": {"auc": 0.7}}
    x = np.eye(3, DIM, dtype=np.float32)
    np.testing.assert_array_equal(back.quality.predict(x), art.quality.predict(x))
    assert back.capability is not None and back.capabilities == ("coding", "general")


def test_loading_checks_the_file_and_the_encoder(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="bad.npz: cannot read artefact"):
        LearnedArtefact.load(bad)
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.zeros(3))
    with pytest.raises(ConfigError, match="not a graph-dispatch artefact"):
        LearnedArtefact.load(other)
    art = artefact((0.5, 0.6, 0.7), "absolute", 0.5)
    with pytest.raises(ConfigError, match="trained with another encoder"):
        LearnedRouter(art, FakeEncoder(DIM * 2), specs=REGISTRY)


def test_a_capability_hint_wins_and_the_head_decides_otherwise() -> None:
    head = CapabilityHead(
        classes=("coding", "general"),
        embedding_weights=np.zeros((DIM, 2), dtype=np.float32),
        bias=np.array([2.0, 0.0], dtype=np.float32),
    )
    art = LearnedArtefact(
        encoder=FakeEncoder(DIM).id,
        models=MODELS,
        quality=constant_heads((0.5, 0.6, 0.7)),
        capabilities=("coding", "general"),
        capability=head,
        bar=0.5,
        bar_mode="absolute",
    )
    router = LearnedRouter(art, FakeEncoder(DIM), specs=REGISTRY)
    decision = router.decide(Hop(specialist="s", prompt="x"))
    assert decision.capability == "coding"
    assert decision.confidence == pytest.approx(1 / (1 + np.exp(-2.0)), abs=1e-3)
    hinted = router.decide(Hop(specialist="s", prompt="x", capability_hint="general"))
    assert (hinted.capability, hinted.confidence) == ("general", 1.0)


def test_the_config_names_the_artefact_loaded_at_start_up(tmp_path: Path) -> None:
    from conftest import SMALL_REGISTRY

    from dispatch.routing.learned_loading import learned_router_from_config

    art = LearnedArtefact(
        encoder=FakeEncoder(DIM).id,
        models=("tiny:model", "mid:model", "big:model"),
        quality=constant_heads((0.3, 0.9, 0.95)),
        bar=0.8,
        bar_mode="absolute",
    )
    art.save(tmp_path / "router.npz")
    config = tmp_path / "registry.yaml"
    config.write_text(SMALL_REGISTRY + "routing: {artefact: router.npz}\n")
    registry = Registry.from_config(config)
    router = learned_router_from_config(config, registry, encoder=FakeEncoder(DIM))
    assert router is not None and router.bar == 0.8
    hop = Hop(specialist="s", prompt="anything")
    assert select(router.decide(hop), hop, registry).model.id == "mid:model"
    plain = tmp_path / "plain.yaml"
    plain.write_text(SMALL_REGISTRY)
    assert learned_router_from_config(plain, registry, encoder=FakeEncoder(DIM)) is None


def test_a_bar_mix_routes_its_share_of_prompts_at_each_bar_always_the_same_way() -> (
    None
):
    from dispatch.routing.learned import prompt_unit

    # Utility bar 0 takes the best prediction (dear); 10 takes the cheapest model.
    mixed = LearnedArtefact(
        encoder=FakeEncoder(DIM).id,
        models=MODELS,
        quality=constant_heads((0.5, 0.8, 0.95)),
        bar=0.0,
        alt_bar=10.0,
        share=0.3,
    )
    router = LearnedRouter(mixed, FakeEncoder(DIM), specs=REGISTRY)
    prompts = [f"question number {i}" for i in range(400)]
    chosen = []
    for prompt in prompts:
        hop = Hop(specialist="s", prompt=prompt, input_tokens=100)
        chosen.append(select(router.decide(hop), hop, REGISTRY).model.id)
        assert router.bar_for(prompt) == (0.0 if prompt_unit(prompt) < 0.3 else 10.0)
    assert chosen.count("p:dear") + chosen.count("p:cheap") == len(prompts)
    assert chosen.count("p:dear") / len(prompts) == pytest.approx(0.3, abs=0.06)
    again = LearnedRouter(mixed, FakeEncoder(DIM), specs=REGISTRY)
    assert [again.bar_for(p) for p in prompts] == [router.bar_for(p) for p in prompts]
    assert "for 30% of prompts, else 10.000" in router.describe()
    # An explicit bar (a sweep) replaces the mix for every prompt.
    swept = LearnedRouter(mixed, FakeEncoder(DIM), specs=REGISTRY, bar=10.0)
    assert {swept.bar_for(p) for p in prompts} == {10.0}


def test_prompt_unit_is_stable_and_spread_over_the_unit_interval() -> None:
    from dispatch.routing.learned import prompt_unit

    # BLAKE2b, not hash(): the same value in every process and on every machine.
    assert prompt_unit("hello") == pytest.approx(0.65514, abs=1e-5)
    units = np.array([prompt_unit(f"prompt {i}") for i in range(2000)])
    assert ((units >= 0) & (units < 1)).all()
    assert np.histogram(units, bins=4, range=(0, 1))[0].min() > 400


def test_a_mix_round_trips_and_a_version_1_artefact_still_loads(
    tmp_path: Path,
) -> None:
    import json

    art = LearnedArtefact(
        encoder="enc",
        models=MODELS,
        quality=constant_heads((0.5, 0.8, 0.95)),
        bar=0.05,
        alt_bar=0.2,
        share=0.4,
    )
    art.save(tmp_path / "mix.npz")
    back = LearnedArtefact.load(tmp_path / "mix.npz")
    assert (back.bar, back.alt_bar, back.share) == (0.05, 0.2, 0.4)

    with np.load(tmp_path / "mix.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(arrays.pop("header").tobytes())
    header["format"] = "graph-dispatch.learned/1"
    del header["alt_bar"], header["share"]
    raw = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(tmp_path / "v1.npz", header=raw, **arrays)
    old = LearnedArtefact.load(tmp_path / "v1.npz")
    assert (old.bar, old.alt_bar, old.share) == (0.05, None, 1.0)


def test_a_mix_with_a_share_outside_the_unit_interval_is_refused() -> None:
    bad = LearnedArtefact(
        encoder=FakeEncoder(DIM).id,
        models=MODELS,
        quality=constant_heads((0.5, 0.8, 0.95)),
        bar=0.05,
        alt_bar=0.2,
        share=1.5,
    )
    with pytest.raises(ConfigError, match=r"share of a bar mix must be in \[0, 1\]"):
        LearnedRouter(bad, FakeEncoder(DIM), specs=REGISTRY)


def test_over_another_registry_the_bar_comes_from_the_models_it_holds() -> None:
    # With every model, the dear one is predicted best (no cheaper one reaches
    # 0.9); over the models whose credentials are present it is never proposed.
    art = artefact((0.5, 0.8, 0.95), "absolute", 0.9)
    encoder = FakeEncoder(DIM)
    router = LearnedRouter(art, encoder, specs=REGISTRY, tiers=REGISTRY.tiers, bar=0.75)
    reachable = REGISTRY.restrict(["p:cheap", "p:mid"])
    narrowed = router.over(reachable)
    assert narrowed.encoder is encoder and narrowed.artefact is art
    assert narrowed.bar == 0.75  # an explicit bar stays explicit
    hop = Hop(specialist="s", prompt="x", input_tokens=100, max_output_tokens=100)
    assert select(narrowed.decide(hop), hop, reachable).model.id == "p:mid"
    calibrated = LearnedRouter(art, encoder, specs=REGISTRY, tiers=REGISTRY.tiers)
    assert calibrated.over(reachable).bar == 0.9


def test_quality_heads_read_the_sentence_vector_of_a_layered_row() -> None:
    # a trained artefact's encoder appends hidden states for the capability
    # head; the quality heads were fitted on the sentence vector alone and
    # read its leading columns, whatever follows them
    rng = np.random.default_rng(0)
    sentence = rng.normal(size=(4, DIM)).astype(np.float32)
    layered = np.hstack([sentence, rng.normal(size=(4, 2 * DIM)).astype(np.float32)])
    linear = LinearHeads(
        weights=rng.normal(size=(DIM, 3)).astype(np.float32),
        bias=np.zeros(3, dtype=np.float32),
    )
    knn = KnnHeads(
        points=rng.normal(size=(5, DIM)).astype(np.float32),
        targets=rng.random((5, 3)).astype(np.float32),
        k=2,
    )
    for head in (linear, knn):
        plain = LearnedArtefact(
            encoder=FakeEncoder(DIM).id, models=MODELS, quality=head
        )
        wide = dataclasses.replace(plain, encoder=f"{plain.encoder}:layers-2-4")
        np.testing.assert_array_equal(
            wide.predict_quality(layered), plain.predict_quality(sentence)
        )
        np.testing.assert_array_equal(
            plain.predict_quality(sentence), head.predict(sentence)
        )


@pytest.mark.parametrize(
    ("layers", "problem"), [("layers-2-9", "out of range"), ("layers-x", "malformed")]
)
def test_an_artefact_naming_an_encoder_that_cannot_be_built_is_refused_naming_the_file(
    tmp_path: Path, layers: str, problem: str
) -> None:
    # a hand-edited or corrupt header: the error says which file and which id
    from dispatch.routing._st import SentenceTransformerEncoder
    from dispatch.routing.learned_loading import load_learned_router

    encoder_id = f"{SentenceTransformerEncoder().id}:{layers}"
    path = tmp_path / "router.npz"
    dataclasses.replace(
        artefact((0.5, 0.6, 0.7), "absolute", 0.5), encoder=encoder_id
    ).save(path)
    with pytest.raises(ConfigError, match=problem) as caught:
        load_learned_router(path, REGISTRY)
    assert "router.npz" in str(caught.value)
    assert encoder_id in str(caught.value)


def saved(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray], dict[str, object]]:
    """A valid artefact on disk (quality and capability heads), its arrays and header."""
    import json

    art = dataclasses.replace(
        artefact((0.5, 0.6, 0.7), "absolute", 0.5),
        capabilities=("coding", "general"),
        capability=CapabilityHead(
            classes=("coding", "general"),
            embedding_weights=np.ones((DIM, 2), dtype=np.float32),
            bias=np.zeros(2, dtype=np.float32),
        ),
    )
    path = tmp_path / "router.npz"
    art.save(path)
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(arrays.pop("header").tobytes())
    return path, arrays, header


def resave(path: Path, arrays: dict[str, np.ndarray], header: object) -> None:
    import json

    raw = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    everything: dict[str, Any] = {"header": raw, **arrays}
    np.savez(path, **everything)


@pytest.mark.parametrize("cut", [0, 10, 0.5])
def test_a_truncated_artefact_is_refused_naming_the_file(
    tmp_path: Path, cut: float
) -> None:
    path, _, _ = saved(tmp_path)
    raw = path.read_bytes()
    path.write_bytes(raw[: int(cut * len(raw)) if cut < 1 else int(cut)])
    with pytest.raises(ConfigError, match=r"router\.npz: cannot read artefact"):
        LearnedArtefact.load(path)


def test_a_text_file_is_not_an_artefact_and_unpickling_is_never_suggested(
    tmp_path: Path,
) -> None:
    path = tmp_path / "router.npz"
    path.write_text("hello")
    with pytest.raises(ConfigError, match="not an .npz archive") as caught:
        LearnedArtefact.load(path)
    assert "pickle" not in str(caught.value)


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda h: [h], "not a graph-dispatch artefact"),
        (lambda h: {k: v for k, v in h.items() if k != "encoder"}, "encoder"),
        (lambda h: {k: v for k, v in h.items() if k != "models"}, "models"),
        (lambda h: {k: v for k, v in h.items() if k != "window"}, "window"),
        (lambda h: {**h, "encoder": 5}, "encoder"),
        (lambda h: {**h, "models": "p:cheap"}, "models"),
        (lambda h: {**h, "capabilities": "coding"}, "capabilities"),
        (lambda h: {**h, "bar": "high"}, "bar"),
        (lambda h: {**h, "alt_bar": "x"}, "alt_bar"),
        (lambda h: {**h, "share": "x"}, "share"),
        (lambda h: {**h, "window": "abc"}, "window"),
        (lambda h: {**h, "window": -5}, "window"),
        (lambda h: {**h, "meta": [1]}, "meta"),
        (lambda h: {**h, "bar_mode": "steep"}, "bar_mode: unsupported bar mode"),
    ],
)
def test_a_tampered_header_is_refused_naming_the_file_and_the_key(
    tmp_path: Path, edit: object, problem: str
) -> None:
    path, arrays, header = saved(tmp_path)
    resave(path, arrays, edit(header))  # type: ignore[operator]
    with pytest.raises(ConfigError, match=rf"router\.npz: .*{problem}"):
        LearnedArtefact.load(path)


@pytest.mark.parametrize(
    ("key", "change"),
    [
        ("quality.linear.bias", lambda a: a[:1]),
        ("quality.linear.weights", lambda a: a[:, :1]),
        ("quality.linear.weights", lambda a: a[:, 0]),
        ("quality.linear.weights", lambda a: np.full_like(a, np.nan)),
        ("quality.linear.softmax", lambda a: a[:0]),
        ("capability.bias", lambda a: a[:1]),
    ],
)
def test_arrays_of_the_wrong_shape_or_not_finite_are_refused_naming_the_file(
    tmp_path: Path, key: str, change: object
) -> None:
    path, arrays, header = saved(tmp_path)
    resave(path, {**arrays, key: change(arrays[key])}, header)  # type: ignore[operator]
    with pytest.raises(ConfigError, match=r"router\.npz: "):
        LearnedArtefact.load(path)


def test_a_header_naming_other_models_or_capabilities_than_the_heads_is_refused(
    tmp_path: Path,
) -> None:
    path, arrays, header = saved(tmp_path)
    resave(path, arrays, {**header, "models": [*MODELS, "p:extra"]})
    with pytest.raises(ConfigError, match=r"router\.npz: .*3 models"):
        LearnedArtefact.load(path)
    resave(path, arrays, {**header, "capabilities": ["coding"]})
    with pytest.raises(ConfigError, match=r"router\.npz: .*capabilit"):
        LearnedArtefact.load(path)


def test_loading_names_the_file_when_the_encoder_or_its_width_does_not_fit(
    tmp_path: Path,
) -> None:
    from dispatch.routing.learned_loading import load_learned_router

    path, arrays, header = saved(tmp_path)
    with pytest.raises(ConfigError, match=r"router\.npz: .*another encoder"):
        load_learned_router(path, REGISTRY, encoder=FakeEncoder(DIM * 2))
    narrow = {
        k: v[: DIM // 2] if k.endswith("weights") else v for k, v in arrays.items()
    }
    resave(path, narrow, header)
    with pytest.raises(ConfigError, match=r"router\.npz: .*do not fit"):
        load_learned_router(path, REGISTRY, encoder=FakeEncoder(DIM))
    resave(path, arrays, {**header, "bar": -1.0})
    with pytest.raises(ConfigError, match=r"router\.npz: .*bars >= 0"):
        load_learned_router(path, REGISTRY, encoder=FakeEncoder(DIM))


def test_saving_onto_a_directory_is_a_config_error_naming_the_file(
    tmp_path: Path,
) -> None:
    art = artefact((0.5, 0.6, 0.7), "absolute", 0.5)
    (tmp_path / "router.npz").mkdir()
    with pytest.raises(ConfigError, match=r"router\.npz: cannot write artefact"):
        art.save(tmp_path / "router.npz")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"cannot write artefact"):
        art.save(tmp_path / "file" / "router.npz")


def test_a_failed_save_leaves_no_partial_file_and_keeps_the_old_artefact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "router.npz"
    old = artefact((0.5, 0.6, 0.7), "absolute", 0.5)
    old.save(path)
    before = path.read_bytes()

    def disk_full(handle: object, **arrays: object) -> None:
        handle.write(b"PK\x03\x04 half an archive")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", disk_full)
    with pytest.raises(ConfigError, match="No space left on device"):
        artefact((0.1, 0.2, 0.3), "absolute", 0.5).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["router.npz"]
    with pytest.raises(ConfigError):
        old.save(tmp_path / "new.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["router.npz"]


def test_saving_writes_through_a_symlink_with_the_usual_permissions(
    tmp_path: Path,
) -> None:
    import os
    import stat

    versioned = tmp_path / "router-v1.npz"
    link = tmp_path / "router.npz"
    link.symlink_to(versioned)
    artefact((0.5, 0.6, 0.7), "absolute", 0.5).save(link)
    assert link.is_symlink() and LearnedArtefact.load(versioned).models == MODELS
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(versioned.stat().st_mode) == 0o666 & ~umask
