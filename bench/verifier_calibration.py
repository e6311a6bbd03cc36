"""Calibrate the self-consistency agreement threshold on RouterBench Winogrande.

Run: ``python -m bench.verifier_calibration [--max-escalation 0.3] [--json]``.

RouterBench records 0/1 correctness per model, not the answers. On Winogrande
(two options) that is enough: two models give the same answer iff both are right
or both are wrong, so the agreement of k sampler models with the cheap model's
answer is exact. The cheap model answers; escalation goes to GPT-4. Printed per
candidate threshold: escalation rate, share of the cheap model's wrong answers
caught, accuracy and cost of the cascade (cheap + samplers + GPT-4 when
escalated) against always-GPT-4, and the threshold `choose_threshold` picks.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from dispatch.verify import choose_threshold

DATA = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "data"
    / "routerbench_train.jsonl"
)
CHEAP = "mistralai/mistral-7b-chat"
SAMPLERS = (
    "WizardLM/WizardLM-13B-V1.2",
    "mistralai/mixtral-8x7b-chat",
    "meta/code-llama-instruct-34b-chat",
    "zero-one-ai/Yi-34B-Chat",
)
STRONG = "gpt-4-1106-preview"


@dataclass(frozen=True, slots=True)
class Row:
    agreement: float
    cheap_right: bool
    strong_right: bool
    cheap_cost: float
    sample_cost: float
    strong_cost: float


def load(path: Path = DATA) -> list[Row]:
    """Winogrande rows as (agreement, correctness, costs)."""
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            item = json.loads(line)
            if item["source"] != "routerbench/winogrande":
                continue
            out = item["outcomes"]
            cheap = out[CHEAP]["quality"] >= 0.5
            same = [(out[m]["quality"] >= 0.5) == cheap for m in SAMPLERS]
            rows.append(
                Row(
                    agreement=sum(same) / len(same),
                    cheap_right=cheap,
                    strong_right=out[STRONG]["quality"] >= 0.5,
                    cheap_cost=out[CHEAP]["cost_usd"],
                    sample_cost=sum(out[m]["cost_usd"] for m in SAMPLERS),
                    strong_cost=out[STRONG]["cost_usd"],
                )
            )
    return rows


def evaluate(rows: list[Row], threshold: float) -> dict[str, float]:
    """Escalation, catch rate, accuracy and cost ratio of the cascade at `threshold`."""
    esc = [r.agreement < threshold for r in rows]
    wrong = [not r.cheap_right for r in rows]
    right = sum(
        (r.strong_right if e else r.cheap_right) for r, e in zip(rows, esc, strict=True)
    )
    cost = sum(
        r.cheap_cost + r.sample_cost + (r.strong_cost if e else 0.0)
        for r, e in zip(rows, esc, strict=True)
    )
    strong_cost = sum(r.strong_cost for r in rows)
    return {
        "threshold": threshold,
        "escalation_rate": sum(esc) / len(rows),
        "catch_rate": sum(e and w for e, w in zip(esc, wrong, strict=True))
        / max(1, sum(wrong)),
        "accuracy": right / len(rows),
        "cost_vs_strong": cost / strong_cost,
    }


def main(argv: list[str] | None = None) -> None:
    """Print the calibration table (or JSON)."""
    parser = argparse.ArgumentParser(prog="python -m bench.verifier_calibration")
    parser.add_argument("--max-escalation", type=float, default=0.3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not DATA.exists():
        raise SystemExit(f"calibration data not found: {DATA}")
    rows = load()
    choice = choose_threshold(
        [r.agreement for r in rows],
        [not r.cheap_right for r in rows],
        max_escalation=args.max_escalation,
    )
    table = [evaluate(rows, t) for t in (0.25, 0.5, 0.75, 1.0, float("inf"))]
    baseline = {
        "cheap_accuracy": sum(r.cheap_right for r in rows) / len(rows),
        "strong_accuracy": sum(r.strong_right for r in rows) / len(rows),
    }
    if args.json:
        print(
            json.dumps(
                {
                    "rows": len(rows),
                    "chosen": choice.threshold,
                    **baseline,
                    "table": table,
                }
            )
        )
        return
    print(
        f"RouterBench Winogrande, {len(rows)} prompts; cheap={CHEAP}, k={len(SAMPLERS)} samplers"
    )
    print(
        f"cheap alone accuracy {baseline['cheap_accuracy']:.3f}, "
        f"{STRONG} {baseline['strong_accuracy']:.3f}"
    )
    print("threshold  escalated  caught  accuracy  cost/strong")
    for t in table:
        print(
            f"{t['threshold']:>9.2f}  {t['escalation_rate']:>9.1%}  {t['catch_rate']:>6.1%}"
            f"  {t['accuracy']:>8.3f}  {t['cost_vs_strong']:>11.3f}"
        )
    print(
        f"chosen (escalation <= {args.max_escalation:.0%}): agreement < {choice.threshold:g} "
        f"escalates {choice.escalation_rate:.1%}, catches {choice.catch_rate:.1%} of wrong answers"
    )


if __name__ == "__main__":
    main()
