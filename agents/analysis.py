"""The analysis specialist and its tools: safe arithmetic and descriptive statistics."""

from __future__ import annotations

import ast
import math
import operator
import statistics
import sys
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
MAX_ROUND_DIGITS = 400
"""Most digits `round` takes either way. Within float range (below 1e309, above
5e-324) rounding to more digits changes nothing and to fewer gives 0, so nothing is
lost; and an integer rounded to ``-n`` digits costs a ``10**n`` (``round(1,
-20000000)`` held the GIL for 75 s, so no timeout could fire)."""


def _round(value: float, ndigits: int | None = None) -> float:
    """`round`, refusing an `ndigits` beyond `MAX_ROUND_DIGITS` before any work."""
    if ndigits is None:
        return round(value)
    if isinstance(ndigits, int) and abs(ndigits) > MAX_ROUND_DIGITS:
        raise ToolException(
            f"calculate: round() takes ndigits from -{MAX_ROUND_DIGITS} to "
            f"{MAX_ROUND_DIGITS}, got {ndigits}"
        )
    return round(value, ndigits)


_FUNCTIONS: dict[str, tuple[Callable[..., float], int, int | None]] = {
    "sqrt": (math.sqrt, 1, 1),
    "log": (math.log, 1, 2),
    "log10": (math.log10, 1, 1),
    "exp": (math.exp, 1, 1),
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "min": (lambda *a: min(a), 1, None),
    "max": (lambda *a: max(a), 1, None),
}
"""Name -> (function, fewest arguments, most arguments or None for any number)."""
_CONSTANTS = {"pi": math.pi, "e": math.e}
MAX_EXPONENT = 1000
MAX_EXPRESSION_CHARS = 500
MAX_VALUES = 100_000
"""Most numbers `statistics` takes: bounds its time (an O(n log n) median at most)."""
MAX_INT_BITS = sys.float_info.max_exp
"""Integers stay within float range (about 1.8e308): the result is shown as a float,
and the bound keeps every operation fast (``((10**1000)**1000)**1000`` ran 90 s)."""


def evaluate(expression: str) -> float:
    """Evaluate arithmetic safely: numbers, + - * / // % ** (^ too), parentheses,
    ``sqrt log log10 exp abs round min max``, ``pi`` and ``e``. Nothing else.

    Every intermediate value stays within float range, and the exponent of ``**``
    and the digits of ``round`` are capped, so the work is bounded by the
    expression's length (at most 500 characters), not by what it computes.

    Raises:
        ToolException: anything else, division by zero, a huge exponent, a value
            beyond float range, a complex result, ``round`` to more than 400
            digits either way, or a function given the wrong number of arguments.
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
    except OverflowError:
        raise ToolException(
            f"calculate: {expression!r} is beyond float range "
            f"(about {sys.float_info.max:.3g})"
        ) from None
    except ValueError as exc:
        raise ToolException(f"calculate: {exc} in {expression!r}") from None
    except RecursionError:
        raise ToolException(f"calculate: {expression!r} is nested too deeply") from None


def _bounded(value: object, node: ast.expr) -> float:
    """`value` if it is a real number within float range, else a clear error."""
    if isinstance(value, complex):
        raise ToolException(
            f"calculate: {ast.unparse(node)!r} is not a real number ({value})"
        )
    if isinstance(value, int) and not _fits_float(value):
        raise ToolException(
            f"calculate: {ast.unparse(node)!r} is beyond float range "
            f"(about {sys.float_info.max:.3g})"
        )
    return value  # type: ignore[return-value]


def _fits_float(value: int) -> bool:
    if value.bit_length() > MAX_INT_BITS:
        return False
    try:
        float(value)
    except OverflowError:
        return False
    return True


def _power(left: float, right: float, node: ast.expr) -> float:
    if abs(right) > MAX_EXPONENT:
        raise ToolException(f"calculate: exponent {right} exceeds {MAX_EXPONENT}")
    if isinstance(left, int) and isinstance(right, int) and right > 0:
        # Decide from the sizes, before computing a number with millions of digits.
        if (abs(left).bit_length() - 1) * right > MAX_INT_BITS:
            raise ToolException(
                f"calculate: {ast.unparse(node)!r} is beyond float range "
                f"(about {sys.float_info.max:.3g})"
            )
    return _bounded(operator.pow(left, right), node)


def _call(node: ast.Call) -> float:
    name = node.func.id  # type: ignore[attr-defined]
    func, fewest, most = _FUNCTIONS[name]
    given = len(node.args)
    if given < fewest or (most is not None and given > most):
        if most is None:
            wanted = f"at least {fewest}"
        else:
            wanted = f"{fewest}" if fewest == most else f"{fewest} or {most}"
        raise ToolException(
            f"calculate: {name}() takes {wanted} argument{'s' * (most is not None and most > 1)}, "
            f"got {given} in {ast.unparse(node)!r}"
        )
    args = [_eval(a) for a in node.args]
    try:
        return _bounded(func(*args), node)
    except TypeError as exc:
        raise ToolException(f"calculate: {ast.unparse(node)!r}: {exc}") from None


def _eval(node: ast.expr) -> float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _bounded(node.value, node)
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _eval(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            return _power(left, right, node)
        return _bounded(_BINARY[type(node.op)](left, right), node)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        return _call(node)
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
    if len(values) > MAX_VALUES:
        raise ToolException(
            f"statistics: {len(values)} values, the limit is {MAX_VALUES}"
        )
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
    names = [n for n in table if len(values) > 1 or n not in ("stdev", "variance")]
    try:
        if measure != "summary":
            return f"{measure} = {table[measure](values):.6g}"
        return f"n = {len(values)}; " + "; ".join(
            f"{n} = {table[n](values):.6g}" for n in names
        )
    except OverflowError:
        raise ToolException(
            "statistics: the values are too large to combine (beyond float range)"
        ) from None


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
