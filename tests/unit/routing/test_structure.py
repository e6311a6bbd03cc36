from __future__ import annotations

import time

import numpy as np

from dispatch.routing.structure import STRUCTURE_NAMES, structure, structure_matrix


def features(prompt: str) -> dict[str, float]:
    return dict(zip(STRUCTURE_NAMES, structure(prompt).tolist(), strict=True))


def test_code_shows_as_fences_punctuation_identifiers_and_keywords() -> None:
    code = features(
        "Fix this:\n```python\ndef load_rows(path):\n    return open(path)\n```"
    )
    prose = features("Write a short poem about the sea at dawn.")
    for name in ("code_fences", "code_punctuation", "identifiers", "code_keywords"):
        assert code[name] > prose[name] == 0.0, name


def test_a_stack_trace_and_latex_are_seen() -> None:
    assert (
        features('Traceback (most recent call last):\n  File "x.py"')["stack_trace"]
        == 1.0
    )
    maths = features(r"Solve $x^2 + 3x = 4$ and simplify \frac{1}{2}")
    assert maths["latex"] > 0 and maths["math_operators"] > 0 and maths["digits"] > 0


def test_the_shape_of_a_question_is_seen() -> None:
    search = features("who sang the song i will always love you")
    asked = features("What is kevlar made out of?")
    assert (search["question_word"], search["starts_lower_case"]) == (1.0, 1.0)
    assert search["has_question_mark"] == search["ends_with_question_mark"] == 0.0
    assert asked["ends_with_question_mark"] == asked["has_question_mark"] == 1.0
    assert asked["starts_lower_case"] == 0.0


def test_every_feature_is_bounded_and_non_latin_text_counts() -> None:
    for prompt in ("", "x", "напиши стихотворение о весне", "(" * 10_000):
        row = structure(prompt)
        assert row.shape == (len(STRUCTURE_NAMES),) and row.dtype == np.float32
        assert ((0.0 <= row) & (row <= 1.0)).all(), prompt[:20]
    assert features("напиши стихотворение")["non_ascii"] > 0.8


def test_a_huge_prompt_costs_what_its_two_ends_cost() -> None:
    start = time.perf_counter()
    structure("def f(x): return x**2 # é\n" * 40_000)  # ~1 MB
    assert time.perf_counter() - start < 0.05
    assert structure_matrix([]).shape == (0, len(STRUCTURE_NAMES))
    assert structure_matrix(["a", "b?"]).shape == (2, len(STRUCTURE_NAMES))
