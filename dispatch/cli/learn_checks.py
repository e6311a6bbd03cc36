"""Checks of `dispatch train` / `dispatch eval` input that name the option or file.

Each runs before any embedding or training, so a bad option or a file too small
to cross-validate fails in a second with an error naming what to fix, instead
of a scikit-learn message after minutes of work.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dispatch.errors import ConfigError

if TYPE_CHECKING:
    from dispatch.routing.replay import ReplayRecord

__all__ = ("check_folds", "check_output", "check_prompt_sizes", "check_target")


def check_target(target: float) -> None:
    """``--target-quality`` is a share of the reference model's quality."""
    if not 0.0 < target <= 1.0:  # NaN fails too
        raise ConfigError(
            "the quality ratio to reach, as a share of the reference model's",
            path="--target-quality",
            found=target,
            expected="a number in (0, 1], e.g. 0.95",
        )


def check_output(path: Path, what: str) -> None:
    """`path` can be written: not a directory, under a folder (or one that can
    be created), writable. Checked before the work that produces it, so a typo
    in ``-o`` or ``--plot`` fails in a second, not after minutes of training.

    Args:
        path: the file to be written.
        what: how the error names it, e.g. ``"artefact"``, ``"the --plot"``.

    Raises:
        ConfigError: the file cannot be written; names it and why.
    """
    target = path.resolve()
    reason = None
    if target.is_dir():
        reason = "a directory"
    else:
        folder = target.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent  # the nearest folder that exists
        if not folder.is_dir():
            reason = f"{folder.name} is a file, not a folder"
        elif not os.access(folder, os.W_OK | os.X_OK):
            reason = f"no permission to write in {folder}"
    if reason is not None:
        raise ConfigError(f"cannot write {what}: {reason}", file=str(path))


def check_folds(
    records: Sequence[ReplayRecord],
    path: Path,
    labels: Sequence[ReplayRecord],
    labels_path: Path,
    folds: int,
) -> None:
    """Enough prompts for the cross-validation training runs (scikit-learn's own
    error names neither the file nor the fix)."""
    if len(records) < folds:
        raise ConfigError(
            f"too few prompts for {folds}-fold cross-validation",
            file=str(path),
            found=len(records),
            expected=f"at least {folds} lines",
        )
    counts = Counter(str(r.capability) for r in labels if r.capability)
    if len(counts) >= 2 and max(counts.values()) < folds:
        raise ConfigError(
            "too few labelled prompts for the capability classifier's "
            f"{folds}-fold cross-validation",
            file=str(labels_path),
            found=dict(counts),
            expected=f"at least {folds} prompts of one capability",
        )


def check_prompt_sizes(records: Sequence[ReplayRecord], path: Path) -> None:
    """Every replayed prompt fits the benchmark registry's context window.

    The policy would refuse such a prompt only in the calibration sweep, after
    every prompt was embedded, with a message that names neither file nor line.
    """
    from dispatch.cost import estimate_tokens  # noqa: PLC0415 - light, on demand
    from dispatch.eval.models import CONTEXT_WINDOW  # noqa: PLC0415

    for record in records:
        tokens = estimate_tokens(record.prompt)  # as the replayed hop counts it
        if tokens > CONTEXT_WINDOW:
            raise ConfigError(
                "prompt too long to replay: over the benchmark models' "
                f"{CONTEXT_WINDOW:,}-token context window",
                file=str(path),
                path=f"line {record.line}",
                found=f"~{tokens:,} tokens ({len(record.prompt):,} characters)",
                expected=f"at most {CONTEXT_WINDOW:,} tokens",
            )
