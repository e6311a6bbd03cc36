"""A plan is validated once, by its pydantic model, with errors like the registry's."""

from __future__ import annotations

from typing import Any

import pytest

from dispatch import ConfigError
from dispatch.graphs.plan import clean_text, parse_plan

TIERS = ("small", "medium", "large")


def error(raw: Any) -> str:
    with pytest.raises(ConfigError) as info:
        parse_plan(raw, tiers=TIERS, file="plan.json")
    return str(info.value)


def test_a_valid_plan_keeps_only_the_fields_given() -> None:
    tasks = parse_plan(
        [
            {"id": "a", "prompt": "Find the SLO."},
            {
                "id": "b",
                "prompt": "Analyse it.",
                "tier": "large",
                "depends_on": ["a"],
                "max_output_tokens": 300,
                "specialist": "analysis",
            },
        ],
        tiers=TIERS,
    )
    assert tasks[0] == {"id": "a", "prompt": "Find the SLO."}
    assert tasks[1]["depends_on"] == ["a"] and tasks[1]["max_output_tokens"] == 300


@pytest.mark.parametrize(
    ("raw", "path", "found", "expected"),
    [
        ([{"prompt": "x"}], "tasks[0].id", "{'prompt': 'x'}", "required"),
        (
            [
                {"id": "a", "prompt": "x"},
                {"id": "b", "prompt": "y", "max_output_tokens": "lots"},
            ],
            "tasks[1].max_output_tokens",
            "'lots'",
            "a valid integer",
        ),
        (
            [{"id": "a", "prompt": "x", "max_output_tokens": -1}],
            "tasks[0].max_output_tokens",
            "-1",
            "greater than 0",
        ),
        (
            [{"id": "a", "prompt": "x", "max_output_tokens": True}],
            "tasks[0].max_output_tokens",
            "True",
            "integer",
        ),
        (
            [{"id": "a", "prompt": "x", "tier": "huge"}],
            "tasks[0].tier",
            "'huge'",
            "small, medium, large",
        ),
        ([{"id": 7, "prompt": "x"}], "tasks[0].id", "7", "a valid string"),
        (
            [{"id": "a", "prompt": "x", "depend_on": ["b"]}],
            "tasks[0].depend_on",
            "['b']",
            "no such field",
        ),
        ([{"id": "a", "prompt": ""}], "tasks[0].prompt", "''", "at least 1 character"),
        ({"id": "a"}, "tasks", "{'id': 'a'}", "a JSON list of tasks"),
    ],
)
def test_errors_name_the_file_task_field_found_and_expected(
    raw: Any, path: str, found: str, expected: str
) -> None:
    message = error(raw)
    assert message.startswith("plan.json: " + path), message
    assert found in message and expected in message


def test_tiers_are_not_checked_without_a_registry() -> None:
    assert parse_plan([{"id": "a", "prompt": "x", "tier": "xl"}])[0]["tier"] == "xl"


def test_prompts_are_cleaned_of_text_no_provider_can_encode() -> None:
    tasks = parse_plan([{"id": "a", "prompt": "caf\udce9 \ud800 ok"}])
    prompt = tasks[0]["prompt"]
    prompt.encode("utf-8")  # would raise UnicodeEncodeError before cleaning
    assert prompt == "caf\ufffd \ufffd ok"


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("plain ascii", "plain ascii"),
        ("caf\u00e9 \u4e2d\u6587", "caf\u00e9 \u4e2d\u6587"),
        ("caf\udcc3\udca9", "caf\u00e9"),  # escaped bytes that were UTF-8 after all
        ("bad \udcff byte", "bad \ufffd byte"),
    ],
)
def test_clean_text(text: str, clean: str) -> None:
    assert clean_text(text) == clean
