"""`outcome_models`: every model with outcomes, each on every line; a model on
some lines only is an error naming it and the first line that lacks it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dispatch import ConfigError
from dispatch.eval.models import outcome_models
from dispatch.eval.outcomes import evaluate_outcomes
from dispatch.routing.replay import Outcome, ReplayRecord, read_replay
from dispatch.testing import FakeEncoder


def line(i: int, *models: str) -> str:
    outcomes = {m: {"quality": 1.0, "cost_usd": 0.01} for m in models}
    return json.dumps({"id": f"p{i}", "prompt": f"prompt {i}", "outcomes": outcomes})


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "outcomes.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_models_on_every_line_come_in_first_seen_order(tmp_path: Path) -> None:
    records = read_replay(
        write(tmp_path, line(1, "b", "a"), line(2, "a", "b")), need_outcomes=True
    )
    assert outcome_models(records) == ["b", "a"]


def test_a_model_missing_on_a_later_line_names_that_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, line(1, "a", "b", "c"), line(2, "a", "b", "c"), line(3, "a", "b")
    )
    with pytest.raises(ConfigError) as info:
        outcome_models(read_replay(path, need_outcomes=True))
    assert str(info.value).startswith(
        f"{path}: line 3: no outcome for model 'c', which has outcomes on line 1"
    )


def test_a_model_appearing_late_names_the_first_line_without_it(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path, line(1, "a", "b"), line(2, "a", "b"), line(3, "a", "b", "late")
    )
    with pytest.raises(ConfigError) as info:
        outcome_models(read_replay(path, need_outcomes=True))
    assert str(info.value).startswith(
        f"{path}: line 1: no outcome for model 'late', which has outcomes on line 3"
    )


def test_records_built_in_code_are_named_by_id() -> None:
    def record(rid: str, *models: str) -> ReplayRecord:
        return ReplayRecord(
            id=rid,
            prompt="p",
            capability=None,
            source="s",
            outcomes={m: Outcome(quality=1.0, cost_usd=0.01) for m in models},
        )

    with pytest.raises(ConfigError, match=r"^id 'q2': no outcome for model 'b'"):
        outcome_models([record("q1", "a", "b"), record("q2", "a")])


@pytest.mark.parametrize("partial", ["train", "data"])
def test_eval_outcomes_refuses_a_partial_model_in_either_file(
    tmp_path: Path, partial: str
) -> None:
    files = {}
    for name in ("train", "data"):
        rows = [line(i, "a", "b", "c") for i in range(6)]
        if name == partial:
            rows[4] = line(4, "a", "b")  # 'c' has no outcome on line 5
        files[name] = tmp_path / f"{name}.jsonl"
        files[name].write_text("\n".join(rows) + "\n", encoding="utf-8")
    train, data = (read_replay(files[n], need_outcomes=True) for n in ("train", "data"))
    with pytest.raises(ConfigError) as info:
        evaluate_outcomes(data, train, {}, FakeEncoder(8))
    assert str(info.value).startswith(
        f"{files[partial]}: line 5: no outcome for model 'c'"
    )
