"""Which encoder each `dispatch eval capability` router reads, and which
labelled files it refuses."""

from __future__ import annotations

import pytest

from dispatch.errors import ConfigError
from dispatch.eval.capability import encoder_layers, evaluate_capability
from dispatch.routing.features import CAPABILITY_LAYERS
from dispatch.routing.replay import ReplayRecord
from dispatch.testing import FakeEncoder


@pytest.mark.parametrize("router", ["learned", "hybrid"])
def test_the_classifier_reads_the_layers_a_trained_artefact_reads(router: str) -> None:
    assert encoder_layers(router) == CAPABILITY_LAYERS


@pytest.mark.parametrize("router", ["semantic", "rules"])
def test_the_baselines_read_the_plain_sentence_vector(router: str) -> None:
    assert encoder_layers(router) == ()


def test_an_unknown_router_is_named_with_the_choices() -> None:
    with pytest.raises(ConfigError, match="knn") as info:
        encoder_layers("knn")
    assert "learned, semantic, rules, hybrid" in str(info.value)


def test_data_labels_that_train_never_labels_are_refused_before_any_work() -> None:
    """A typo'd or foreign label would score as a class no router can predict
    (recall 0); the error names it, the first line that has it, and TRAIN's labels."""
    train = [
        ReplayRecord(id=f"t{i}", prompt=f"prompt {i}", capability=c, source="s")
        for i, c in enumerate(["coding", "search"] * 3)
    ]
    data = [
        ReplayRecord(id="d1", prompt="write a loop", capability="coding", source="s"),
        ReplayRecord(id="d2", prompt="sum 2 and 2", capability="Maths", source="s"),
    ]
    encoder = FakeEncoder()
    with pytest.raises(ConfigError, match="TRAIN never labels") as info:
        evaluate_capability(data, train, encoder)
    message = str(info.value)
    assert "'Maths'" in message and "'d2'" in message and "coding, search" in message
    assert encoder.calls == 0
