"""Choose the RouterBench quality head and calibration by cross-validation
within one training file, through the production path.

Each of 5 folds of TRAIN is held out once: `evaluate_outcomes` trains and
calibrates on the other four (its own inner out-of-fold calibration) and routes
the held-out fold through `LearnedRouter.decide` + `dispatch.policy.select`.
The folds are pooled: the calibrated operating point (quality ratio, cost
ratio, distance of the quality from the target) and the curve's cost ratio at
the target, single-bar and mixed. No prompt outside TRAIN is read.

Run: ``python -m bench.rb_heads /tmp/rb.train.jsonl [--routers learned,mf,...]``
(after ``python -m bench.split ../shared/data/routerbench_train.jsonl /tmp/rb``).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from sklearn.model_selection import KFold

from dispatch.eval.metrics import (
    CurvePoint,
    cost_ratio_at_quality,
    mixed_cost_ratio_at_quality,
)
from dispatch.eval.outcomes import evaluate_outcomes
from dispatch.routing.features import default_encoder
from dispatch.routing.replay import read_models, read_replay

MODELS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def pooled(reports: list[dict[str, Any]], target: float) -> dict[str, Any]:
    """Pool per-fold reports into one operating point and one curve."""
    ref_q = sum(r["n"] * r["reference"]["quality"] for r in reports)
    ref_c = sum(r["n"] * r["reference"]["cost_usd"] for r in reports)
    quality = sum(r["n"] * r["result"]["quality"] for r in reports) / ref_q
    cost = sum(r["n"] * r["result"]["cost_usd"] for r in reports) / ref_c
    by_bar: dict[float, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for r in reports:
        for p in r["curve"]:
            acc = by_bar[p["threshold"]]
            acc[0] += p["quality_ratio"] * r["n"] * r["reference"]["quality"]
            acc[1] += p["cost_ratio"] * r["n"] * r["reference"]["cost_usd"]
    curve = [CurvePoint(t, q / ref_q, c / ref_c) for t, (q, c) in by_bar.items()]
    return {
        "quality_ratio": round(quality, 4),
        "cost_ratio": round(cost, 4),
        "landing_points": round(100 * (quality - target), 2),
        "folds_quality": [round(r["result"]["quality_ratio"], 4) for r in reports],
        "curve_cost_at_target": cost_ratio_at_quality(curve, target),
        "mixed_cost_at_target": mixed_cost_ratio_at_quality(curve, target),
    }


def main() -> None:
    """Print one pooled line per router configuration (JSON)."""
    parser = argparse.ArgumentParser(prog="python -m bench.rb_heads")
    parser.add_argument("train", type=Path)
    parser.add_argument("--models", type=Path, default=MODELS / "benchmark_models.json")
    parser.add_argument("--routers", default="learned,logreg-conservative,mf,knn")
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    records = read_replay(args.train, need_outcomes=True)
    models = read_models(args.models)
    encoder = default_encoder()
    folds = list(KFold(5, shuffle=True, random_state=args.seed).split(records))
    for router in args.routers.split(","):
        reports = [
            evaluate_outcomes(
                [records[i] for i in test],
                [records[i] for i in train],
                models,
                encoder,
                router=router,
                target=args.target,
            )
            for train, test in folds
        ]
        print(
            json.dumps({"router": router, **pooled(reports, args.target)}), flush=True
        )


if __name__ == "__main__":
    main()
