from __future__ import annotations

import time
from pathlib import Path

import pytest
from langchain_core.tools import ToolException
from pydantic import BaseModel

from dispatch.agents import calculate, run_python, search_tool, statistics_tool
from dispatch.agents._tools import MAX_RESULT_CHARS, safe_tool
from dispatch.agents.analysis import evaluate, summarize
from dispatch.agents.coding import execute_python
from dispatch.agents.search import DocumentIndex


def test_run_python_returns_stdout() -> None:
    assert run_python().invoke({"code": "print(sum(range(10)))"}).strip() == "45"


def test_run_python_reports_a_failing_program_without_raising() -> None:
    out = run_python().invoke({"code": "raise SystemExit('boom')"})
    assert out.startswith("exit status 1")
    assert "boom" in out


def test_run_python_times_out_with_a_clear_message() -> None:
    out = run_python(timeout=1).invoke({"code": "while True: pass"})
    assert "timed out after 1 s" in out


def test_run_python_memory_limit_stops_a_hog() -> None:
    out = execute_python(
        "x = bytearray(2_000_000_000)\nprint('allocated')", memory_mb=256
    )
    assert "MemoryError" in out
    assert "allocated" not in out


def test_run_python_runs_isolated_in_an_empty_directory() -> None:
    out = execute_python("import os; print(os.listdir('.'))")
    assert out.strip() == "[]"


def test_run_python_rejects_empty_and_oversized_code() -> None:
    with pytest.raises(ToolException, match="empty"):
        execute_python("   ")
    with pytest.raises(ToolException, match="limit is 20000"):
        execute_python("x" * 20_001)
    # Through the tool, bad input becomes an error message, never an exception.
    assert "empty" in run_python().invoke({"code": ""})


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("(310 - 182) / 182 * 100", 70.32967032967034),
        ("2^10", 1024),
        ("sqrt(16) + pi*0", 4),
        ("-3 + +2", -1),
        ("max(1, 5, 3)", 5),
        ("7 // 2 + 7 % 2", 4),
    ],
)
def test_calculate_evaluates_arithmetic(expression: str, value: float) -> None:
    assert evaluate(expression) == pytest.approx(value)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os').system('true')", "not allowed"),
        ("1/0", "division by zero"),
        ("9**9**9", "exceeds 1000"),
        ("2 +", "not arithmetic"),
        ("", "empty"),
        ("x + 1", "not allowed"),
        ("1" * 600, "longer than 500"),
    ],
)
def test_calculate_rejects_bad_input_clearly(expression: str, message: str) -> None:
    with pytest.raises(ToolException, match=message):
        evaluate(expression)
    assert message in calculate().invoke({"expression": expression})


def test_statistics_summary_and_single_measures() -> None:
    assert summarize([1, 2, 3, 4], "mean") == "mean = 2.5"
    out = summarize([182, 190, 175, 240, 310, 295, 188])
    assert out.startswith("n = 7; mean = 225.714")
    assert "median = 190" in out
    assert summarize([5.0]) == "n = 1; mean = 5; median = 5; min = 5; max = 5; sum = 5"


def test_statistics_rejects_bad_input_clearly() -> None:
    with pytest.raises(ToolException, match="empty"):
        summarize([])
    with pytest.raises(ToolException, match="at least 2"):
        summarize([1.0], "stdev")
    with pytest.raises(ToolException, match="finite"):
        summarize([1.0, float("nan")])
    out = statistics_tool().invoke({"values": "abc"})
    assert out.startswith(
        "error: invalid arguments: values: Input should be a valid list"
    )


def test_search_finds_the_slo_in_the_demo_corpus() -> None:
    out = search_tool().invoke({"query": "checkout latency SLO p95"})
    assert out.startswith("[checkout-runbook.md]")
    assert "250 ms" in out


def test_search_bad_input_and_missing_folder(tmp_path: Path) -> None:
    assert "empty" in search_tool().invoke({"query": "  "})
    assert "between 1 and 20" in search_tool().invoke({"query": "slo", "k": 0})
    assert "does not exist" in search_tool(tmp_path / "nope").invoke({"query": "x"})
    assert "no .md/.txt/.rst files" in search_tool(tmp_path).invoke({"query": "x"})
    assert DocumentIndex(tmp_path).folder == tmp_path


def test_search_with_no_match_says_so(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("apples and pears")
    assert "no document" in search_tool(tmp_path).invoke({"query": "zebra"})


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("((10**1000)**1000)**1000", "beyond float range"),
        ("10**400", "beyond float range"),
        ("2**1000 * 2**1000", "beyond float range"),
        ("10.0**400", "beyond float range"),
        ("exp(1000)", "beyond float range"),
        ("sqrt(1, 2)", "sqrt() takes 1 argument, got 2"),
        ("min()", "min() takes at least 1 argument, got 0"),
        ("log()", "log() takes 1 or 2 arguments, got 0"),
        ("round(1.5, 2.5)", "cannot be interpreted as an integer"),
        ("(-8) ** 0.5", "not a real number"),
        ("round(1, -20000000)", "ndigits from -400 to 400, got -20000000"),
        ("round(1, -10**300)", "ndigits from -400 to 400"),
        ("round(2**1000, -401)", "ndigits from -400 to 400, got -401"),
        ("round(1.5, 401)", "ndigits from -400 to 400, got 401"),
    ],
)
def test_calculate_bounds_size_and_arity_with_clear_errors(
    expression: str, message: str
) -> None:
    start = time.perf_counter()
    out = calculate().invoke({"expression": expression})
    assert message in out
    assert time.perf_counter() - start < 0.5  # the tower of powers took 90 s


def test_calculate_still_handles_large_values_within_float_range() -> None:
    assert evaluate("10**308") == 10**308
    assert evaluate("max(3)") == 3
    assert evaluate("log(8, 2)") == pytest.approx(3)


def test_calculate_round_within_its_digit_bound_loses_nothing() -> None:
    # round(1, -20000000) computed 10**20000000 for 75 s holding the GIL: the
    # event loop froze and no timeout could fire. At +-400 digits every value
    # within float range is already unchanged (or 0), so the bound costs nothing.
    assert evaluate("round(1234.5678, 2)") == pytest.approx(1234.57)
    assert evaluate("round(1234, -2)") == 1200
    assert evaluate("round(2.5)") == 2
    assert evaluate("round(10**308, -400)") == 0
    assert evaluate("round(10**308, 400)") == 10**308
    assert evaluate("round(1e-320, 400)") == 1e-320


@pytest.mark.parametrize(
    "expression",
    [
        # The most work each operator and function can be made to do: operands
        # stay within float range (1024 bits) and exponents within 1000.
        "(8**341 - 1) // 3 * 2 % (8**340 + 7) * (8**170 + 1) // (8**169)",
        "3**1000",
        "(8**341) ** 1000",
        "(-8**341) ** -1000",
        "(1 + 1e-15) ** 1000",
        "sqrt(8**341) + log(8**341, 3) + log10(8**341) + exp(709)",
        "round(8**341, -400) + round(8**341, 400) + round(1e308, -308)",
        "max(" + ", ".join(["8**341"] * 45) + ")",
        "((((((((((((((((((((8**341))))))))))))))))))))",
    ],
)
def test_calculate_worst_cases_finish_at_once(expression: str) -> None:
    start = time.perf_counter()
    calculate().invoke({"expression": expression})
    assert time.perf_counter() - start < 0.5


def test_statistics_bounds_count_and_magnitude() -> None:
    with pytest.raises(ToolException, match="limit is 100000"):
        summarize([1.0] * 100_001)
    with pytest.raises(ToolException, match="beyond float range"):
        summarize([1e308, 1e308], "sum")


def test_every_tool_result_is_cut_at_the_cap() -> None:
    out = run_python().invoke({"code": "print('x' * 3000)\nraise SystemExit(3)"})
    assert len(out) < MAX_RESULT_CHARS + 100
    tool = safe_tool(
        lambda text: text * 10_000,
        name="echo",
        description="Repeat.",
        args_schema=_EchoArgs,
    )
    out = tool.invoke({"text": "ab"})
    assert len(out) == MAX_RESULT_CHARS + len("\n[12000 more characters cut]")
    assert out.endswith("[12000 more characters cut]")


def test_search_refuses_folders_too_big_to_index(tmp_path: Path) -> None:
    (tmp_path / "huge.md").write_bytes(b"needle " * 300_000)  # 2.1 MB: head only
    assert "[huge.md]" in search_tool(tmp_path).invoke({"query": "needle"})
    for i in range(3):
        (tmp_path / f"d{i}").mkdir()
    big = DocumentIndex(tmp_path)
    assert big.search("needle", 1)[0][0] == "huge.md"
    sprawling = tmp_path / "sprawl"
    sprawling.mkdir()
    for i in range(11):
        (sprawling / f"{i}.bin").touch()
    with pytest.raises(ToolException, match="more than 10 entries"):
        DocumentIndex(sprawling, max_entries=10).search("x")


class _EchoArgs(BaseModel):
    text: str
