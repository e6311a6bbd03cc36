"""RouteLLM's question: trained on MMLU only, does the router transfer to other tasks?

Trains on ``routellm_mmlu.jsonl`` (GPT-4-1106 vs Mixtral-8x7B; all 14,037
prompts, or a deterministic sample of ``--n``), calibrates for ``--target`` of
GPT-4's quality there, and routes RouterBench's ARC/MBPP/Winogrande prompts
between the same two models (RouterBench names Mixtral
``mistralai/mixtral-8x7b-chat``; the MMLU file ``...Instruct-v0.1``). No
RouterBench outcome is used to train or to choose anything.

Two routers, both through the production policy:

- ``old``: the learned layer (per-model logistic heads, utility bar calibrated
  in probability space on MMLU), `dispatch.eval.training.train_router`.
- ``share``: `ShareRouter` (strong-wins head, strong share calibrated on
  subject-grouped out-of-fold MMLU scores, running quantile over the
  RouterBench prompts as they arrive, in ``--order``).

For each: quality ratio and GPT-4 share at the calibrated operating point, the
curve's lowest cost ratio and GPT-4 share reaching 0.95, and APGR, pooled and
per RouterBench task. ``--bounds`` adds what the evidence needs and no router
may use: the task oracle (per-task gaps read from RouterBench outcomes) and a
head trained *in-domain* on RouterBench (5-fold cross-validated).

Run: ``python -m bench.routellm_transfer [--n 14037] [--order shuffled|file]
[--bounds] [--json]``
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from dispatch.eval.models import benchmark_registry, model_id
from dispatch.eval.replaying import hop_for
from dispatch.eval.training import HeadConfig, bar_grid, train_router
from dispatch.eval.transfer import (
    oof_share_scores,
    strong_wins,
    summarise,
    train_share_router,
)
from dispatch.routing.features import default_encoder, embed
from dispatch.routing.learned import LearnedRouter
from dispatch.routing.replay import ReplayRecord, read_models, read_replay
from dispatch.routing.share import ShareRouter, scores_of, view_text
from dispatch.types import RouteDecision, RouterLayer

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
GPT4 = "gpt-4-1106-preview"
MIXTRAL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
TASKS = ("arc-challenge", "mbpp", "winogrande")


def _sha(record: ReplayRecord) -> str:
    return hashlib.sha1(record.id.encode()).hexdigest()


def _subject(record: ReplayRecord) -> str:
    """An MMLU prompt's subject, from its id (``routellm/mmlu/<subject>/<n>``)."""
    return record.id.rsplit("/", 1)[0]


def _load(n: int | None, order: str) -> tuple[list[ReplayRecord], list[ReplayRecord]]:
    mmlu = read_replay(DATA / "routellm_mmlu.jsonl", need_outcomes=True)
    if n is not None:
        mmlu = sorted(mmlu, key=_sha)[:n]
    bench = []
    for r in read_replay(DATA / "routerbench_train.jsonl", need_outcomes=True):
        outcomes = {
            GPT4: r.outcomes[GPT4],
            MIXTRAL: r.outcomes["mistralai/mixtral-8x7b-chat"],
        }
        bench.append(dataclasses.replace(r, outcomes=outcomes))
    if order == "shuffled":  # mixed traffic, deterministic
        bench.sort(key=_sha)
    return mmlu, bench


def _breakdown(
    bench: Sequence[ReplayRecord],
    decisions: Sequence[RouteDecision],
    decide: Callable[[int, float], RouteDecision],
    scores: np.ndarray | None,
    **kw: Any,
) -> dict[str, Any]:
    """`summarise` pooled and per RouterBench task, curves dropped.

    With `scores`, each curve sweeps thresholds at quantiles of its own subset's
    scores (a task whose scores all sit above the pooled median would otherwise
    get two curve points); without, the learned layer's utility bars.
    """
    out = {}
    for task in ("all", *TASKS):
        subset = [
            i
            for i, r in enumerate(bench)
            if task == "all" or r.source == f"routerbench/{task}"
        ]
        thresholds = (
            bar_grid(np.zeros((1, 2)), "utility")
            if scores is None
            else [-np.inf, *_quantiles(scores[subset])]
        )
        report = summarise(decisions, decide, thresholds, bench, subset=subset, **kw)
        report.pop("curve")
        out[task] = report
    return out


def _old(mmlu, bench, registry, names, encoder, target) -> dict[str, Any]:
    trained = train_router(
        mmlu,
        encoder,
        registry=registry,
        names=names,
        reference=GPT4,
        target=target,
        config=HeadConfig(kind="logreg", c=0.3),
    )
    live = LearnedRouter(
        trained.artefact,
        encoder,
        specs=registry,
        tiers=registry.tiers,
        expected_input_tokens=registry.expected_input_tokens,
    )
    predicted = trained.artefact.quality.predict(
        embed(encoder, [r.prompt for r in bench])
    )

    def decide(i: int, bar: float) -> RouteDecision:
        return live.decision(hop_for(bench[i]), predicted[i], None, bar=bar)

    decisions = [live.decide(hop_for(r)) for r in bench]
    cal = trained.calibration
    return {
        "calibration": None
        if cal is None
        else {"bar": cal.bar, "mmlu_quality_ratio": cal.train_quality_ratio},
        "routerbench": _breakdown(
            bench,
            decisions,
            decide,
            None,
            registry=registry,
            names={v: k for k, v in names.items()},
            reference=GPT4,
            strong=names[GPT4],
            weak=names[MIXTRAL],
        ),
    }


def _share(mmlu, bench, registry, names, encoder, target, window) -> dict[str, Any]:
    trained = train_share_router(
        mmlu,
        encoder,
        strong=(GPT4, names[GPT4]),
        weak=(MIXTRAL, names[MIXTRAL]),
        target=target,
        group=_subject,
    )
    art = trained.artefact
    scores = scores_of(art, encoder, [r.prompt for r in bench])
    out: dict[str, Any] = {
        "calibration": dict(art.meta["calibration"], oof_auc=trained.oof_auc)
    }
    for mode, adaptive in (("running", True), ("fixed", False)):
        router = ShareRouter(
            art, encoder, specs=registry, adaptive=adaptive, window=window
        )
        decisions = [router.decide(hop_for(r)) for r in bench]

        def decide(i: int, threshold: float, router: ShareRouter = router) -> Any:
            return router.decision(hop_for(bench[i]), float(scores[i]), threshold)

        out[mode] = _breakdown(
            bench,
            decisions,
            decide,
            scores,
            registry=registry,
            names={v: k for k, v in names.items()},
            reference=GPT4,
            strong=names[GPT4],
            weak=names[MIXTRAL],
        )
    return out


def _bounds(bench, registry, names, encoder) -> dict[str, Any]:
    """Upper bounds that read RouterBench outcomes (evidence, not routers)."""
    q_s = np.asarray([r.outcomes[GPT4].quality for r in bench])
    q_w = np.asarray([r.outcomes[MIXTRAL].quality for r in bench])
    gain = {
        t: float(
            np.mean(
                [q_s[i] - q_w[i] for i, r in enumerate(bench) if r.source.endswith(t)]
            )
        )
        for t in TASKS
    }
    # The oracle knows each prompt's task (and the task's gap), not the prompt:
    # within a task its order is random.
    jitter = np.random.default_rng(0).random(len(bench)) * 1e-6
    task_score = np.asarray([gain[r.source.split("/")[1]] for r in bench]) + jitter
    # The share router's own features and regularisation, trained on RouterBench.
    x = embed(encoder, [view_text(r.prompt, "question") for r in bench])
    in_domain = oof_share_scores(x, strong_wins(q_s, q_w), c=0.1)
    out: dict[str, Any] = {"task_gain": gain}
    for name, score in (("task_oracle", task_score), ("in_domain_cv", in_domain)):

        def decide(i: int, t: float, s: np.ndarray = score) -> RouteDecision:
            return _pair_decision(s[i], t, names)

        block = _breakdown(
            bench,
            [decide(i, np.inf) for i in range(len(bench))],
            decide,
            score,
            registry=registry,
            names={v: k for k, v in names.items()},
            reference=GPT4,
            strong=names[GPT4],
            weak=names[MIXTRAL],
        )
        out[name] = {
            task: {k: sub[k] for k in ("share_at_quality", "apgr")}
            for task, sub in block.items()
        }
    return out


def _pair_decision(score: float, threshold: float, names: dict[str, str]) -> Any:
    """A decision naming GPT-4 when ``score > threshold`` (bounds only)."""
    strong = score > threshold
    return RouteDecision(
        capability="general",
        tier="large" if strong else "medium",
        confidence=1.0,
        router=RouterLayer.FIXED,
        reason="bound",
        quality={names[GPT4]: 1.0, names[MIXTRAL]: 0.0 if strong else 1.0},
        bar=1.0,
    )


def _quantiles(scores: np.ndarray, points: int = 101) -> list[float]:
    """Distinct quantiles of `scores`: the thresholds a curve sweeps."""
    return sorted({float(v) for v in np.quantile(scores, np.linspace(0, 1, points))})


def _line(name: str, report: dict[str, Any]) -> str:
    r = report["result"]
    share95 = report["share_at_quality"]["0.95"]
    cost95 = report["cost_ratio_at_quality"]["0.95"]
    fmt = lambda v: "never" if v is None else f"{v:.3f}"  # noqa: E731
    return (
        f"  {name:14s} n={report['n']:5d}  quality {r['quality_ratio']:.3f}  "
        f"GPT-4 share {r['strong_share']:.3f}  cost {r['cost_ratio']:.3f} | "
        f"curve @0.95: share {fmt(share95)} cost {fmt(cost95)} | "
        f"APGR {report['apgr']:.3f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Train on MMLU, route RouterBench (two models); print old vs share router."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=None, help="MMLU sample size")
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--order", choices=("shuffled", "file"), default="shuffled")
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--bounds", action="store_true")
    parser.add_argument("--skip-old", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not (DATA / "routellm_mmlu.jsonl").exists():
        print(f"no benchmark data at {DATA}", file=sys.stderr)
        return 2
    mmlu, bench = _load(args.n, args.order)
    models = read_models(DATA / "benchmark_models.json")
    names = {n: model_id(n, models[n]) for n in (GPT4, MIXTRAL)}
    registry = benchmark_registry(models, [GPT4, MIXTRAL], mmlu, baseline=GPT4)
    encoder = default_encoder()
    report: dict[str, Any] = {
        "train": f"routellm_mmlu ({len(mmlu)} prompts)",
        "data": f"routerbench ({len(bench)} prompts, {args.order} order)",
        "target": args.target,
    }
    if not args.skip_old:
        report["old"] = _old(mmlu, bench, registry, names, encoder, args.target)
    report["share"] = _share(
        mmlu, bench, registry, names, encoder, args.target, args.window
    )
    if args.bounds:
        report["bounds"] = _bounds(bench, registry, names, encoder)
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"train {report['train']} -> {report['data']}, target {args.target}")
    blocks = [("share (running)", report["share"]["running"])]
    blocks.append(("share (fixed)", report["share"]["fixed"]))
    if "old" in report:
        blocks.insert(0, ("old learned", report["old"]["routerbench"]))
    for title, block in blocks:
        print(title)
        for task, sub in block.items():
            print(_line(task, sub))
    print("share calibration on MMLU:", json.dumps(report["share"]["calibration"]))
    for name, block in report.get("bounds", {}).items():
        if name == "task_gain":
            continue
        print(f"bound {name} (reads RouterBench outcomes; not a router)")
        for task, sub in block.items():
            share = sub["share_at_quality"]["0.95"]
            fmt = "never" if share is None else f"{share:.3f}"
            print(f"  {task:14s} curve @0.95: share {fmt} | APGR {sub['apgr']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
