"""Loading MiniLM draws none of transformers' bars or logging on stderr, and the
libraries' own switches are as the caller left them afterwards."""

from __future__ import annotations

import logging
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from huggingface_hub import utils as hub
from transformers.utils import logging as hf_logging

from dispatch.routing._st import (
    SentenceTransformerEncoder,
    default_model_path,
    quiet_model_loading,
)


def _loads_like_transformers() -> None:
    """What transformers does while it loads weights: a tqdm bar and a warning."""
    for _ in hf_logging.tqdm(range(3), desc="Loading weights"):
        pass
    hf_logging.get_logger("transformers.modeling_utils").warning("some weights unused")
    logging.getLogger("sentence_transformers.models").warning("no pooling config")


@pytest.fixture(autouse=True)
def libraries_as_they_were() -> Iterator[None]:
    """Each test's changes to the libraries' global switches are undone."""
    bars, hub_bars = (
        hf_logging.is_progress_bar_enabled(),
        not hub.are_progress_bars_disabled(),
    )
    verbosity = hf_logging.get_verbosity()
    yield
    hf_logging.set_verbosity(verbosity)
    (hf_logging.enable_progress_bar if bars else hf_logging.disable_progress_bar)()
    (hub.enable_progress_bars if hub_bars else hub.disable_progress_bars)()


def test_a_load_inside_the_block_writes_nothing_to_stderr(
    capfd: pytest.CaptureFixture[str],
) -> None:
    hf_logging.enable_progress_bar()
    _loads_like_transformers()
    assert "Loading weights" in capfd.readouterr().err  # the bar this mutes
    with quiet_model_loading():
        _loads_like_transformers()
    assert capfd.readouterr().err == ""


def test_the_caller_s_bars_and_verbosity_are_back_after_the_block() -> None:
    hf_logging.enable_progress_bar()
    hf_logging.set_verbosity_info()
    with quiet_model_loading():
        assert not hf_logging.is_progress_bar_enabled()
        assert hub.are_progress_bars_disabled()
        assert hf_logging.get_verbosity() == logging.ERROR
    assert hf_logging.is_progress_bar_enabled()
    assert not hub.are_progress_bars_disabled()
    assert hf_logging.get_verbosity() == logging.INFO
    assert logging.getLogger("sentence_transformers").level == logging.NOTSET


def test_bars_the_caller_had_switched_off_stay_off_even_after_an_error() -> None:
    hf_logging.enable_progress_bar()
    hub.disable_progress_bars()
    with pytest.raises(OSError), quiet_model_loading():
        raise OSError("model folder unreadable")
    assert hf_logging.is_progress_bar_enabled()
    assert hub.are_progress_bars_disabled()


def test_the_torch_encoder_loads_its_model_inside_the_block(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    hf_logging.enable_progress_bar()
    loaded: list[str] = []

    class NoisySentenceTransformer:
        def __init__(self, path: str, device: str) -> None:
            _loads_like_transformers()
            loaded.append(path)

    fake = types.ModuleType("sentence_transformers")
    fake.SentenceTransformer = NoisySentenceTransformer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentence_transformers", fake)
    model_path: Path = default_model_path()
    SentenceTransformerEncoder(model_path)._load()
    assert loaded == [str(model_path)]
    assert capfd.readouterr().err == ""
