"""Choosing a verifier's escalation threshold from graded data.

Pure and model-free, so ``python -m bench.verifier_calibration`` and a
user's own graded scores go through the same code. The constraint is the
escalation budget, not accuracy: every escalation is a call on a dearer
tier, so the user fixes how often that may happen and gets the best catch
rate within it (see `dispatch.verify` for the measured numbers).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ("ThresholdChoice", "choose_threshold")


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdChoice:
    """A calibrated threshold and what it does on the calibration data."""

    threshold: float
    """Escalate when the verifier's score is below this."""
    escalation_rate: float
    """Share of all answers escalated."""
    catch_rate: float
    """Share of wrong answers escalated."""
    false_escalation_rate: float
    """Share of right answers escalated (wasted escalations)."""


def choose_threshold(
    scores: Sequence[float], wrong: Sequence[bool], *, max_escalation: float = 0.3
) -> ThresholdChoice:
    """The threshold catching the most wrong answers within `max_escalation`.

    Escalating when ``score < t`` catches more wrong answers as `t` grows, so the
    best feasible `t` is the largest candidate (a distinct score, or above all of
    them) whose escalation rate is at most `max_escalation`.

    Args:
        scores: the verifier's score for each cheap answer.
        wrong: whether that answer was actually wrong (graded), same order.
        max_escalation: the largest share of answers that may escalate.

    Returns:
        The threshold and its escalation, catch and false-escalation rates
        on this data. Catch rate is 1.0 when nothing was wrong.

    Raises:
        ValueError: `scores` and `wrong` differ in length or are empty.
    """
    if len(scores) != len(wrong) or not scores:
        raise ValueError(
            "choose_threshold needs equally long, non-empty scores and wrong"
        )
    n, n_wrong = len(scores), sum(wrong)
    ordered = sorted(scores)
    wrong_scores = sorted(s for s, w in zip(scores, wrong, strict=True) if w)
    best: ThresholdChoice | None = None
    for t in [*sorted(set(scores)), float("inf")]:
        escalated = bisect.bisect_left(ordered, t)
        if escalated / n > max_escalation:
            break
        caught = bisect.bisect_left(wrong_scores, t)
        best = ThresholdChoice(
            threshold=t,
            escalation_rate=escalated / n,
            catch_rate=caught / n_wrong if n_wrong else 1.0,
            false_escalation_rate=(escalated - caught) / (n - n_wrong)
            if n > n_wrong
            else 0.0,
        )
    assert best is not None  # the lowest score escalates nothing
    return best
