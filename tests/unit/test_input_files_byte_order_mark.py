"""A replay, models or plan file saved with a UTF-8 byte order mark (Windows Notepad,
PowerShell's ``Out-File``) reads as the same file without it.

The BOM made line 1 "not valid JSON: Unexpected UTF-8 BOM (decode using
utf-8-sig)", a hint about Python's codecs the user of ``dispatch train`` cannot
act on. A BOM anywhere but at the start of the file is still an error.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dispatch import ConfigError
from dispatch.cli.inputs import read_plan_file
from dispatch.routing.replay import read_models, read_replay

BOM = "\ufeff"
LINES = [
    {
        "id": "a",
        "prompt": "Write a function to add two numbers.",
        "capability": "coding",
    },
    {"id": "b", "prompt": "Who won the 1998 world cup?", "capability": "search"},
]
MODELS = {
    "m": {
        "tier": "small",
        "provider": "p",
        "price_in_per_mtok": 1,
        "price_out_per_mtok": 2,
    }
}


def jsonl(*rows: object) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def test_a_replay_file_starting_with_a_bom_reads_like_one_without(
    tmp_path: Path,
) -> None:
    plain, marked = tmp_path / "plain.jsonl", tmp_path / "marked.jsonl"
    plain.write_text(jsonl(*LINES), encoding="utf-8")
    marked.write_text(BOM + jsonl(*LINES), encoding="utf-8")
    read = read_replay(marked, need_capability=True)
    assert [(r.id, r.prompt, r.line) for r in read] == [
        (r.id, r.prompt, r.line) for r in read_replay(plain, need_capability=True)
    ]


def test_a_bad_byte_after_a_bom_is_named_with_its_own_value(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(BOM.encode() + b'{"prompt": "caf\xe9"}\n')
    with pytest.raises(ConfigError, match="line 1: not valid UTF-8: byte 0xe9"):
        read_replay(path)


def test_a_bom_on_a_later_line_is_still_named_as_bad_json(tmp_path: Path) -> None:
    path = tmp_path / "later.jsonl"
    path.write_text(jsonl(LINES[0]) + BOM + jsonl(LINES[1]), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"later\.jsonl: line 2: not valid JSON"):
        read_replay(path)


def test_a_models_file_starting_with_a_bom_reads_like_one_without(
    tmp_path: Path,
) -> None:
    path = tmp_path / "models.json"
    path.write_text(BOM + json.dumps(MODELS), encoding="utf-8")
    assert read_models(path) == MODELS


def test_a_plan_file_starting_with_a_bom_reads_like_one_without(
    tmp_path: Path,
) -> None:
    plan = [{"id": "a", "prompt": "say hi"}]
    path = tmp_path / "plan.json"
    path.write_text(BOM + json.dumps(plan), encoding="utf-8")
    assert read_plan_file(path) == plan
