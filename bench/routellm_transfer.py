"""RouteLLM's question: trained on MMLU only, does the router transfer to other tasks?

Trains the learned layer on ``routellm_mmlu.jsonl`` (GPT-4 vs Mixtral, a
deterministic sample of ``--n`` prompts: embedding all 14k takes long on two
cores), calibrates it for 95 % of GPT-4's quality there, and routes RouterBench's
ARC/MBPP/Winogrande prompts between the same two models (RouterBench names
Mixtral ``mistralai/mixtral-8x7b-chat``; the MMLU file ``...Instruct-v0.1``).
Prints the quality ratio, the share of GPT-4 calls and the curve summary.

Run: ``python -m bench.routellm_transfer [--n 3000]``
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from dispatch.eval.outcomes import evaluate_outcomes
from dispatch.routing.features import default_encoder
from dispatch.routing.replay import ReplayRecord, read_models, read_replay

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
GPT4 = "gpt-4-1106-preview"
MIXTRAL = "mistralai/Mixtral-8x7B-Instruct-v0.1"


def _keep(records: list[ReplayRecord], n: int) -> list[ReplayRecord]:
    ranked = sorted(records, key=lambda r: hashlib.sha1(r.id.encode()).hexdigest())
    return ranked[:n]


def main() -> None:
    """Train on MMLU, evaluate on RouterBench (two models)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    args = parser.parse_args()
    mmlu = _keep(read_replay(DATA / "routellm_mmlu.jsonl", need_outcomes=True), args.n)
    bench = []
    for r in read_replay(DATA / "routerbench_train.jsonl", need_outcomes=True):
        outcomes = {
            GPT4: r.outcomes[GPT4],
            MIXTRAL: r.outcomes["mistralai/mixtral-8x7b-chat"],
        }
        bench.append(dataclasses.replace(r, outcomes=outcomes))
    models = read_models(DATA / "benchmark_models.json")
    report = evaluate_outcomes(bench, mmlu, models, default_encoder(), reference=GPT4)
    result = report["result"]
    calls = result["calls_by_model"]
    summary = {
        "train": f"routellm_mmlu ({len(mmlu)} prompts)",
        "data": f"routerbench ({len(bench)} prompts, GPT-4 vs Mixtral)",
        "quality_ratio": result["quality_ratio"],
        "cost_ratio": result["cost_ratio"],
        "gpt4_call_share": calls.get(GPT4, 0) / report["n"],
        "calibration": report["calibration"],
        "cost_ratio_at_quality": report["cost_ratio_at_quality"],
        "apgr": report["apgr"],
        "mixtral_alone_quality_ratio": report["single_models"][MIXTRAL][
            "quality_ratio"
        ],
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
