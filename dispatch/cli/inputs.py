"""What the user typed, checked before anything runs.

Every function here turns a flag, a file or stdin into a plain value or raises
`ConfigError` naming the flag or file, what was found and what was expected,
so that bad input is one ``error:`` line (exit 2) rather than a traceback from
deep inside the run. Request text is decoded here, once, from the bytes the
user gave, with bytes that are not UTF-8 replaced by U+FFFD: provider clients
cannot encode the lone surrogates Python would otherwise keep for them.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any, BinaryIO

from dispatch.errors import ConfigError

__all__ = (
    "check_budget",
    "check_start_flags",
    "check_thread",
    "read_plan_file",
    "read_prompt",
    "read_request",
)


def read_request(
    request: str | None, request_file: Path | None, stdin: BinaryIO | None = None
) -> str:
    """The request text: the argument, stdin (argument ``-``) or ``--request-file``.

    A file or stdin has no size limit (an argument is capped by the OS at
    128 KiB); its bytes are decoded as UTF-8 with undecodable bytes replaced.

    Raises:
        ConfigError: none or both given, an unreadable file, or empty text.
    """
    if request_file is not None and request not in (None, ""):
        raise ConfigError(
            "give the request once",
            path="REQUEST / --request-file",
            found=f"both {request!r} and {str(request_file)!r}",
            expected="an argument, '-' for stdin, or --request-file PATH",
        )
    if request_file is not None:
        try:
            raw = request_file.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the request: {exc.strerror}", file=str(request_file)
            ) from exc
        where = "--request-file"
    elif request == "-":
        raw = (stdin or sys.stdin.buffer).read()
        where = "stdin"
    elif request is None:
        raise ConfigError(
            "no request",
            path="REQUEST",
            expected="an argument, '-' for stdin, or --request-file PATH",
        )
    else:
        raw, where = _argv_bytes(request), "REQUEST"
    text = raw.decode("utf-8", "replace").strip()
    if not text:
        raise ConfigError("the request is empty", path=where)
    return text


def read_prompt(prompt: str) -> str:
    """The PROMPT argument of ``dispatch route``, decoded as a request is.

    Raises:
        ConfigError: the prompt is empty or only whitespace.
    """
    text = _argv_bytes(prompt).decode("utf-8", "replace").strip()
    if not text:
        raise ConfigError("the prompt is empty", path="PROMPT")
    return text


def _argv_bytes(arg: str) -> bytes:
    # argv arrives decoded with surrogateescape; this gives back the bytes typed.
    try:
        return os.fsencode(arg)
    except UnicodeEncodeError:  # a surrogate that no byte maps to
        return arg.encode("utf-8", "replace")


def read_plan_file(path: Path) -> Any:
    """The decoded JSON of a plan file (validated later by the plan model).

    A byte order mark opening the file (Notepad, PowerShell) is skipped.

    Raises:
        ConfigError: unreadable, not UTF-8, or not JSON, naming the file.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read plan: {exc.strerror}", file=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"plan is not UTF-8 text (byte {exc.start}: {exc.reason})", file=str(path)
        ) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"plan is not valid JSON: {exc}", file=str(path)) from exc


def check_budget(budget: float | None) -> float | None:
    """`--budget` as given, when it is a finite number of USD >= 0.

    Raises:
        ConfigError: naming the flag (not the run config key it ends up in).
    """
    if budget is not None and not (math.isfinite(budget) and budget >= 0):
        raise ConfigError(
            "invalid budget",
            path="--budget",
            found=budget,
            expected="a number of USD >= 0",
        )
    return budget


def check_thread(thread: str | None) -> str | None:
    """`--thread` as given, when it is valid UTF-8 (it keys the checkpoint store).

    A thread id is an identity, so it is refused rather than cleaned: a
    cleaned id would silently name a different conversation.

    Raises:
        ConfigError: the id holds bytes that are not UTF-8, or is empty.
    """
    if thread is None:
        return None
    try:
        thread.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(
            "thread id is not valid UTF-8",
            path="--thread",
            found=_argv_bytes(thread),
            expected="a UTF-8 text id",
        ) from None
    if not thread.strip():
        raise ConfigError("empty thread id", path="--thread", expected="a non-empty id")
    return thread


def check_start_flags(*, strict: bool, allow_partial: bool) -> None:
    """`--strict` and `--allow-partial` together are a usage error."""
    if strict and allow_partial:
        raise ConfigError(
            "--strict and --allow-partial contradict each other: --strict refuses "
            "to start unless the worst case fits, --allow-partial starts regardless",
            path="--strict",
        )
