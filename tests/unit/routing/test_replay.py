from __future__ import annotations

import json
from pathlib import Path

import pytest

from dispatch import ConfigError
from dispatch.routing.replay import Outcome, read_models, read_replay


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps(
    {
        "id": "rb-1",
        "prompt": "Write a function to add two numbers.",
        "capability": "coding",
        "source": "routerbench/mbpp",
        "outcomes": {"gpt-4": {"quality": 1.0, "cost_usd": 0.002}},
    }
)


def test_a_valid_outcome_line_is_read_with_its_outcomes(tmp_path: Path) -> None:
    [record] = read_replay(write(tmp_path, GOOD, ""), need_outcomes=True)
    assert (record.id, record.capability, record.source) == (
        "rb-1",
        "coding",
        "routerbench/mbpp",
    )
    assert record.outcomes == {"gpt-4": Outcome(quality=1.0, cost_usd=0.002)}


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("{not json", "line 2: not valid JSON"),
        ("[1, 2]", "line 2: not a JSON object"),
        ('{"capability": "coding"}', "line 2: 'prompt' must be a non-empty string"),
        ('{"prompt": "x", "capability": 3}', "line 2: 'capability' must be a string"),
        ('{"prompt": "x"}', "line 2: 'outcomes' is missing or empty"),
        (
            '{"prompt": "x", "outcomes": {"m": {"quality": 2, "cost_usd": 0}}}',
            "line 2: outcomes['m'] out of range",
        ),
        (
            '{"prompt": "x", "outcomes": {"m": {"quality": 1}}}',
            "line 2: outcomes['m'] is malformed",
        ),
    ],
)
def test_a_malformed_line_names_the_file_the_line_and_the_problem(
    tmp_path: Path, line: str, what: str
) -> None:
    path = write(tmp_path, GOOD, line)
    with pytest.raises(
        ConfigError, match=rf"data\.jsonl: {__import__('re').escape(what)}"
    ):
        read_replay(path, need_outcomes=True)


def test_capability_files_need_labels_only_when_asked(tmp_path: Path) -> None:
    path = write(tmp_path, '{"prompt": "hello", "capability": null}')
    assert read_replay(path)[0].capability is None
    with pytest.raises(ConfigError, match="line 1: 'capability' is missing"):
        read_replay(path, need_capability=True)


def test_missing_and_empty_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        read_replay(tmp_path / "absent.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(ConfigError, match="no records"):
        read_replay(empty)


def test_models_file_entries_need_tier_and_provider(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"gpt-4": {"tier": "large"}}))
    with pytest.raises(ConfigError, match="models.json: gpt-4: malformed model entry"):
        read_models(path)
