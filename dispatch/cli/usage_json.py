"""Usage errors as ``--json`` output.

Click reports a usage error itself (a flag value it cannot convert, a choice
not offered, a missing argument, an unknown option): its usage text on stderr,
exit 2, and nothing on stdout. Every other error of a ``--json`` command also
prints ``{"status": "error", "exit_code": 2, "reason": ...}`` on stdout
(`dispatch.cli.render.fail`), so a script never reads empty output; this group
class does the same for click's own errors, and leaves its stderr text as is.
"""

from __future__ import annotations

import json
from typing import Any

from typer.core import TyperGroup

# Recent typer runs its own copy of click (``typer._click``), whose exceptions
# are not the ``click`` package's: catching ``click.UsageError`` would catch
# nothing there. Older typer (``typer>=0.12`` is allowed) uses ``click`` itself.
try:
    from typer._click.core import Context
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - typer without a vendored click
    from click import Context, UsageError  # type: ignore[assignment]

__all__ = ("JsonUsageErrors",)

_WANTS_JSON = "dispatch.wants_json"
"""`Context.meta` key: ``--json`` was on the command line."""


class JsonUsageErrors(TyperGroup):
    """The top-level ``dispatch`` group: a usage error under ``--json`` also
    prints the error object on stdout (the meta is shared with subcommands'
    contexts, which click builds inside `invoke`)."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        ctx.meta[_WANTS_JSON] = "--json" in args
        try:
            return super().parse_args(ctx, args)
        except UsageError as exc:
            _print_if_json(ctx, exc)
            raise

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            _print_if_json(ctx, exc)
            raise


def _print_if_json(ctx: Context, exc: UsageError) -> None:
    if not ctx.meta.get(_WANTS_JSON):
        return
    from dispatch._redact import redact  # noqa: PLC0415

    reason = redact(" ".join(exc.format_message().split()))
    print(json.dumps({"status": "error", "exit_code": exc.exit_code, "reason": reason}))
