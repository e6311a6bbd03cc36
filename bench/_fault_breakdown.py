"""Where a faulted run's extra cost goes, hop by hop (pure, no I/O).

The fault bench reports one ratio per rate: the mean cost of a completed
workflow against the fault-free run's. `extra_cost_by_cause` splits the
difference into causes, so a ratio above target says what to fix:

- ``usage anomaly billed at the bound``: the provider reported impossible usage
  (missing, negative, non-numeric, absurd), so the hop is billed at what was
  reserved (its input estimate and output cap). That is the hard-budget safety
  rule, not a defect: its share is reported, never weakened.
- ``failover to another model``: the hop that served the step ran on a
  different model than the fault-free run used, right after a failure in the
  same hop (`HopRecord.fallback_from`).
- ``other model (pin, circuit, headroom)``: a different model with no failure
  in this hop: the specialist's pin moved to it earlier in the workflow (a
  failover re-pins), or the policy skipped an open circuit / a saturated model.
- ``paid failed attempts``: attempts that failed but were billed (an empty
  reply is paid for).
- ``extra tool rounds``: rounds of a specialist's tool loop the fault-free run
  never needed (a call to an unknown tool or with invalid arguments costs one
  more round); ``rounds not needed`` are the fault-free run's rounds a faulted
  workflow skipped (negative).
- ``verification``: records of a cascade's verifier.
- ``same model``: the step ran where the fault-free run ran it; what is left
  is token-count noise.

The attribution is exact: per workflow, each fault-free step (step, round)
contributes its mean fault-free cost, subtracted from whatever served that step
in the faulted workflow, so the causes sum to the mean difference.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal

from dispatch.types import HopRecord

__all__ = ("CAUSES", "extra_cost_by_cause")

ANOMALY = "usage anomaly billed at the bound"
FAILOVER = "failover to another model"
OTHER_MODEL = "other model (pin, circuit, headroom)"
PAID_FAILURE = "paid failed attempts"
EXTRA_ROUNDS = "extra tool rounds"
FEWER_ROUNDS = "rounds not needed"
VERIFY = "verification"
SAME = "same model"

CAUSES: tuple[str, ...] = (
    ANOMALY,
    FAILOVER,
    OTHER_MODEL,
    PAID_FAILURE,
    EXTRA_ROUNDS,
    FEWER_ROUNDS,
    VERIFY,
    SAME,
)
"""Every cause, in the order reports list them."""

_Key = tuple[str, int]


def _served(records: Iterable[HopRecord]) -> dict[_Key, HopRecord]:
    """The successful model record of each (step, round); the last one wins
    (a cascade's escalated answer replaces the first)."""
    return {
        (r.step, r.round): r
        for r in records
        if r.error is None and not r.refused and not r.model.startswith("verify:")
    }


def _baseline(
    workflows: Sequence[Sequence[HopRecord]],
) -> tuple[dict[_Key, Decimal], dict[_Key, str]]:
    """Per (step, round): its mean cost per fault-free workflow, and the model
    that served it most often."""
    total: dict[_Key, Decimal] = defaultdict(Decimal)
    models: dict[_Key, Counter[str]] = defaultdict(Counter)
    for records in workflows:
        for key, r in _served(records).items():
            total[key] += r.cost_usd
            models[key][r.model] += 1
    n = len(workflows)
    mean = {k: v / n for k, v in total.items()}
    return mean, {k: c.most_common(1)[0][0] for k, c in models.items()}


def _cause(record: HopRecord, usual_model: str | None) -> str:
    if usual_model is None:
        return EXTRA_ROUNDS
    if record.usage_anomaly:
        return ANOMALY
    if record.model != usual_model:
        return FAILOVER if record.fallback_from else OTHER_MODEL
    return SAME


def extra_cost_by_cause(
    baseline: Sequence[Sequence[HopRecord]],
    faulted: Sequence[Sequence[HopRecord]],
) -> dict[str, float]:
    """Mean extra USD per faulted workflow, by cause (see the module docstring).

    Args:
        baseline: the hop records of each completed fault-free workflow.
        faulted: the hop records of each completed faulted workflow.

    Returns:
        Cause -> mean extra USD per workflow (causes with no share left out);
        the values sum to the faulted mean cost minus the baseline mean cost.
    """
    if not baseline or not faulted:
        return {}
    mean, usual = _baseline(baseline)
    extra: dict[str, Decimal] = defaultdict(Decimal)
    for records in faulted:
        served = _served(records)
        for r in records:
            if r.model.startswith("verify:"):
                extra[VERIFY] += r.cost_usd
            elif r.error is not None or r.refused:
                extra[PAID_FAILURE] += r.cost_usd
        for key, r in served.items():
            cause = _cause(r, usual.get(key))
            extra[cause] += r.cost_usd - mean.get(key, Decimal(0))
        for key, cost in mean.items():
            if key not in served:
                extra[FEWER_ROUNDS] -= cost
    n = len(faulted)
    return {c: float(extra[c] / n) for c in CAUSES if extra.get(c)}
