"""Which encoder each `dispatch eval capability` router reads."""

from __future__ import annotations

import pytest

from dispatch.errors import ConfigError
from dispatch.eval.capability import encoder_layers
from dispatch.routing.features import CAPABILITY_LAYERS


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
