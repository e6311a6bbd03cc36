"""`dispatch route` and a config's learned artefact, as a user meets them: the
artefact the config names decides unless --router says otherwise, an artefact
that does not fit the registry is one `error:` line (exit 2) in every command
that loads it, and the prompt is checked and cleaned like a request.

In-process through typer's runner; the learned and semantic layers get a
`FakeEncoder` (no MiniLM), installed where the CLI builds its encoder."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _cli import cli, flat
from conftest import PROVIDER_KEYS, SMALL_REGISTRY
from langchain_core.messages import HumanMessage

from dispatch.cost import reserved_input_tokens
from dispatch.routing.heads import LinearHeads
from dispatch.routing.learned import LearnedArtefact
from dispatch.routing.learned_loading import UnpredictedModelsWarning
from dispatch.testing import FakeEncoder

DIM = 16


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """No provider keys, checkpoints in `tmp_path`, and a fake encoder wherever
    the CLI asks for the default one; returns the encoder ids asked for."""
    for key in PROVIDER_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DISPATCH_CHECKPOINTS", str(tmp_path / "ck.sqlite"))
    asked: list[str] = []

    def fake_encoder(*, encoder_id: str | None = None, **_: object) -> FakeEncoder:
        asked.append(encoder_id or "default")
        return FakeEncoder(DIM)

    monkeypatch.setattr("dispatch.routing.features.default_encoder", fake_encoder)
    return asked


def learned_config(
    tmp_path: Path, models: tuple[str, ...], routing: str = "artefact: router.npz"
) -> Path:
    """A registry (tiny, mid, big) whose config names an artefact over `models`:
    0.3 for the first, 0.9 for the second, 0.95 for the third; absolute bar 0.8."""
    p = np.asarray((0.3, 0.9, 0.95)[: len(models)], dtype=np.float32)
    LearnedArtefact(
        encoder=FakeEncoder(DIM).id,
        models=models,
        quality=LinearHeads(
            weights=np.zeros((DIM, len(p)), dtype=np.float32),
            bias=np.log(p / (1 - p)).astype(np.float32),
        ),
        bar=0.8,
        bar_mode="absolute",
    ).save(tmp_path / "router.npz")
    config = tmp_path / "registry.yaml"
    config.write_text(SMALL_REGISTRY + f"routing: {{{routing}}}\n")
    return config


REGISTERED = ("tiny:model", "mid:model", "big:model")


def test_route_decides_with_the_artefact_the_config_names(tmp_path: Path) -> None:
    config = learned_config(tmp_path, REGISTERED)
    code, out, err = cli("route", "Sort this list", "-c", str(config), "--json")
    assert code == 0, err
    data = json.loads(out)
    # the priors would take tiny:model (it clears the small tier's bar)
    assert (data["router"], data["model"]) == ("learned", "mid:model")
    assert "predicted" in data["reason"]


def test_route_sizes_the_hop_by_the_prompt(tmp_path: Path) -> None:
    # the cost and the context-window check are the prompt's, as a run's hop
    # would reserve them, not the registry's typical 800-token input
    config = learned_config(tmp_path, REGISTERED)
    code, out, err = cli("route", "Sort this list", "-c", str(config), "--json")
    assert code == 0, err
    short = json.loads(out)
    tokens = reserved_input_tokens([HumanMessage("Sort this list")], None, 1.2)
    # mid:model: $1 in, $4 out per million; the default 1,024-token output cap
    assert short["expected_cost_usd"] == pytest.approx((tokens + 4 * 1024) / 1e6)
    huge = "." * 90_000  # 90,000 tokens, 108,005 reserved: beyond mid's 100,000
    code, out, err = cli("route", huge, "-c", str(config), "--json")
    assert code == 0, err
    long = json.loads(out)
    assert long["model"] == "big:model"
    assert long["expected_cost_usd"] == pytest.approx((108_005 * 5 + 1024 * 25) / 1e6)


def test_route_applies_the_config_s_bar_over_the_artefact_s(tmp_path: Path) -> None:
    config = learned_config(
        tmp_path, REGISTERED, routing="artefact: router.npz, bar: 0.92"
    )
    code, out, err = cli("route", "Sort this list", "-c", str(config), "--json")
    assert code == 0, err
    assert json.loads(out)["model"] == "big:model"


def test_an_explicit_router_is_used_instead_of_the_config_s_artefact(
    tmp_path: Path, offline: list[str]
) -> None:
    config = learned_config(tmp_path, REGISTERED)
    code, out, err = cli(
        "route", "Sort this list", "-c", str(config), "--router", "rules", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["router"] == "rules"
    assert offline == []  # the artefact (and its encoder) was not loaded
    _, help_text, _ = cli("route", "--help")
    assert "learned router when the config names routing.artefact" in flat(help_text)


def test_router_learned_names_the_config_s_artefact_explicitly(
    tmp_path: Path, offline: list[str]
) -> None:
    config = learned_config(tmp_path, REGISTERED)
    code, out, err = cli(
        "route", "Sort this list", "-c", str(config), "--router", "learned", "--json"
    )
    assert code == 0, err
    assert (json.loads(out)["router"], json.loads(out)["model"]) == (
        "learned",
        "mid:model",
    )
    assert offline == [FakeEncoder(DIM).id]


def test_router_learned_without_an_artefact_is_exit_2_saying_so(
    tmp_path: Path, offline: list[str]
) -> None:
    config = tmp_path / "registry.yaml"
    config.write_text(SMALL_REGISTRY)
    code, _, err = cli(
        "route", "Sort this list", "-c", str(config), "--router", "learned"
    )
    assert code == 2
    assert "Traceback" not in err
    assert flat(err) == (
        f"error: --router: learned needs a trained artefact, and {config} names "
        "none in routing.artefact (dispatch train writes one)"
    )
    code, out, _ = cli("route", "x", "--router", "learned", "--json")
    assert code == 2
    assert json.loads(out) == {
        "status": "error",
        "exit_code": 2,
        "reason": "--router: learned needs a trained artefact, and the shipped "
        "registry names none in routing.artefact (dispatch train writes one)",
    }
    assert offline == []


def test_a_registered_model_the_artefact_does_not_predict_warns_and_stays_out(
    tmp_path: Path,
) -> None:
    # Predicted: mid 0.3, big 0.9 at bar 0.5. tiny:model has no prediction; its
    # prior (general 0.6) clears 0.5 and it is the cheapest, but a prior is not
    # a prediction for this prompt.
    config = learned_config(
        tmp_path, ("mid:model", "big:model"), routing="artefact: router.npz, bar: 0.5"
    )
    with pytest.warns(UnpredictedModelsWarning) as caught:
        code, out, err = cli("route", "Sort this list", "-c", str(config), "--json")
    assert code == 0, err
    assert json.loads(out)["model"] == "big:model"
    assert [str(w.message) for w in caught] == [
        f"{tmp_path / 'router.npz'}: the learned artefact has no predictions for "
        "1 registered model (tiny:model); they serve a hop only when none of the "
        "models it predicts (mid:model, big:model) is eligible"
    ]


def test_without_an_artefact_route_uses_the_rules(tmp_path: Path) -> None:
    config = tmp_path / "registry.yaml"
    config.write_text(SMALL_REGISTRY)
    code, out, err = cli("route", "Sort this list", "-c", str(config), "--json")
    assert code == 0, err
    assert json.loads(out)["router"] == "rules"


@pytest.mark.parametrize("command", [("route", "Sort this list"), ("demo",)])
def test_an_artefact_over_other_models_is_exit_2_naming_the_file(
    tmp_path: Path, command: tuple[str, ...], offline: list[str]
) -> None:
    config = learned_config(tmp_path, ("x:one", "x:two"))
    code, _, err = cli(*command, "-c", str(config))
    assert code == 2, err
    assert err.startswith("error:") and "Traceback" not in err
    assert flat(err) == flat(
        f"error: {tmp_path / 'router.npz'}: none of the artefact's models "
        "(x:one, x:two) is in the registry (tiny:model, mid:model, big:model)"
    )
    assert offline == []  # refused before any encoder was built
    code, out, _ = cli(*command, "-c", str(config), "--json")
    assert code == 2
    data = json.loads(out)
    assert data["status"] == "error"
    assert "none of the artefact's models" in data["reason"]


def test_the_demo_runs_on_an_artefact_whose_registered_models_are_free(
    tmp_path: Path,
) -> None:
    # A utility bar over models priced 0 (pytest makes numpy's division
    # warnings errors): money is no object, the best prediction wins every hop.
    config = learned_config(tmp_path, REGISTERED)
    art = LearnedArtefact.load(tmp_path / "router.npz")
    LearnedArtefact(
        encoder=art.encoder, models=art.models, quality=art.quality, bar=0.5
    ).save(tmp_path / "router.npz")
    free, n = re.subn(
        r"price: \{[^}]*\}",
        "price: {input_per_mtok: 0, output_per_mtok: 0}",
        config.read_text(),
    )
    assert n == 3
    config.write_text(free)
    code, out, err = cli("demo", "-c", str(config), "--json")
    assert code == 0, err
    hops = json.loads(out)["hops"]
    assert hops and {h["router"] for h in hops} == {"learned"}
    assert {h["model"] for h in hops} == {"big:model"}


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t "])
def test_an_empty_prompt_is_refused(prompt: str) -> None:
    code, _, err = cli("route", prompt)
    assert code == 2
    assert flat(err) == "error: PROMPT: the prompt is empty"
    code, out, _ = cli("route", prompt, "--json")
    assert code == 2
    assert json.loads(out) == {
        "status": "error",
        "exit_code": 2,
        "reason": "PROMPT: the prompt is empty",
    }


def test_bytes_that_are_not_utf8_reach_the_router_cleaned() -> None:
    import importlib.util

    if importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip("the semantic router needs sentence-transformers")
    # what Python's argv decoding makes of `dispatch route $'\xed\xa0\x80...'`
    typed = os.fsdecode(b"\xed\xa0\x80 sort this list")
    assert typed.startswith("\udced")  # a lone surrogate: no encoder takes it
    code, out, err = cli("route", typed, "--router", "semantic", "--json")
    assert code == 0, err
    assert json.loads(out)["router"] in ("semantic", "rules")


def test_a_cold_process_routes_bad_argv_bytes_and_refuses_a_blank_prompt() -> None:
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS}
    proc = subprocess.run(
        [sys.executable, "-m", "dispatch", "route", b"\xed\xa0\x80", "--json"],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout)["router"] == "rules"
    blank = subprocess.run(
        [sys.executable, "-m", "dispatch", "route", b" \t"],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert blank.returncode == 2
    assert blank.stderr.decode().startswith("error: PROMPT: the prompt is empty")
