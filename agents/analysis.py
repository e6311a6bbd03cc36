"""The analysis specialist and its tools: safe arithmetic and descriptive statistics."""

from __future__ import annotations

import ast
import math
import operator
import statistics
from collections.abc import Callable
from typing import Literal

from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, Field

from dispatch import Specialist
from dispatch.agents._tools import safe_tool

__all__ = (
    "analysis_specialist",
    "calculate",
    "evaluate",
    "statistics_tool",
    "summarize",
)

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt,
    "log": math.log,
    "log10": math.log10,
    "exp": math.exp,
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
}
_CONSTANTS = {"pi": math.pi, "e": math.e}
MAX_EXPONENT = 1000
MAX_EXPRESSION_CHARS = 500


def evaluate(expression: str) -> float:
    """Evaluate arithmetic safely: numbers, + - * / // % ** (^ too), parentheses,
    ``sqrt log log10 exp abs round min max``, ``pi`` and ``e``. Nothing else.

    Raises:
        ToolException: anything else, division by zero, or a huge exponent.
    """
    text = expression.strip().replace("^", "**").replace("×", "*").replace("÷", "/")
    if not text:
        raise ToolException("calculate: `expression` is empty")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ToolException(
            f"calculate: expression longer than {MAX_EXPRESSION_CHARS} chars"
        )
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ToolException(
            f"calculate: {expression!r} is not arithmetic ({exc.msg})"
        ) from None
    try:
        return _eval(tree.body)
    except ZeroDivisionError:
        raise ToolException(f"calculate: division by zero in {expression!r}") from None
    except (OverflowError, ValueError) as exc:
        raise ToolException(f"calculate: {exc} in {expression!r}") from None


def _eval(node: ast.expr) -> float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value  # type: ignore[no-any-return]
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _eval(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ToolException(f"calculate: exponent {right} exceeds {MAX_EXPONENT}")
        return _BINARY[type(node.op)](left, right)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        return _FUNCTIONS[node.func.id](*(_eval(a) for a in node.args))
    raise ToolException(
        f"calculate: {ast.unparse(node)!r} is not allowed (numbers, + - * / // % **, "
        f"parentheses and {', '.join(_FUNCTIONS)} only)"
    )


Measure = Literal["summary", "mean", "median", "stdev", "variance", "min", "max", "sum"]


def summarize(values: list[float], measure: Measure = "summary") -> str:
    """Descriptive statistics of `values` (``summary``: all of them).

    Raises:
        ToolException: no values, a non-finite value, or a measure that needs
            more values than given.
    """
    if not values:
        raise ToolException("statistics: `values` is empty")
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        raise ToolException(f"statistics: values must be finite numbers, got {bad[:3]}")
    if measure in ("stdev", "variance") and len(values) < 2:
        raise ToolException(f"statistics: {measure} needs at least 2 values")
    table: dict[str, Callable[[list[float]], float]] = {
        "mean": statistics.fmean,
        "median": statistics.median,
        "stdev": statistics.stdev,
        "variance": statistics.variance,
        "min": min,
        "max": max,
        "sum": math.fsum,
    }
    if measure != "summary":
        return f"{measure} = {table[measure](values):.6g}"
    names = [n for n in table if len(values) > 1 or n not in ("stdev", "variance")]
    return f"n = {len(values)}; " + "; ".join(
        f"{n} = {table[n](values):.6g}" for n in names
    )


class _CalcArgs(BaseModel):
    expression: str = Field(description="Arithmetic, e.g. '(1200 - 950) / 950 * 100'.")


class _StatsArgs(BaseModel):
    values: list[float] = Field(description="The numbers.")
    measure: Measure = Field(default="summary", description="Which statistic.")


def calculate() -> BaseTool:
    """The `calculate` tool."""
    return safe_tool(
        lambda expression: f"{expression} = {evaluate(expression):.10g}",
        name="calculate",
        description="Evaluate an arithmetic expression exactly as written.",
        args_schema=_CalcArgs,
    )


def statistics_tool() -> BaseTool:
    """The `statistics` tool."""
    return safe_tool(
        summarize,
        name="statistics",
        description="Descriptive statistics (mean, median, stdev, ...) of a list of numbers.",
        args_schema=_StatsArgs,
    )


def analysis_specialist() -> Specialist:
    """Quantitative reasoning with exact tools."""
    return Specialist(
        name="analysis",
        capability="analysis",
        prompt=(
            "You are a quantitative analyst. Never do arithmetic in your head: use "
            "the statistics and calculate tools, then state the result and what it means."
        ),
        tools=(statistics_tool(), calculate()),
    )
