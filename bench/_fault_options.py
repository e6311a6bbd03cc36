"""Argument parsers of `bench.faults`' command line (argparse types).

Each raises `argparse.ArgumentTypeError` naming the option and the bad text,
so a typo is a one-line usage error (exit 2), not a traceback.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ("dispatcher_option", "positive", "rates")


def rates(text: str) -> list[float]:
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--rates: expected comma-separated numbers, got {text!r}"
        ) from None
    bad = [r for r in rates if not 0.0 <= r <= 1.0]
    if not rates or bad:
        raise argparse.ArgumentTypeError(
            f"--rates: expected rates within 0..1, got {text!r}"
        )
    return rates


def positive(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a number, got {text!r}"
            ) from None
        if value <= 0:
            raise argparse.ArgumentTypeError(
                f"expected a positive number, got {text!r}"
            )
        return value

    return parse


def dispatcher_option(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(
            f"--dispatcher-option: expected NAME=VALUE, got {text!r}"
        )
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return name, value
