"""What ``dispatch train`` and ``dispatch eval outcomes|capability`` print for
people: the tables and lines shown without ``--json`` (which prints the same
numbers as one JSON object instead).

The commands themselves (reading, training, evaluating, errors, Ctrl-C) are in
`dispatch.cli.learn`; everything here writes to `dispatch.cli.render.out`
(stdout) and reads only the summary or report a command built.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from dispatch.cli.render import out

__all__ = ("WEAKEST_SOURCES", "print_capability", "print_outcomes", "print_train")


WEAKEST_SOURCES = 4
"""Sources named in `train`'s summary, lowest cross-validated accuracy first
(all of them are in ``--json``'s ``scores.capability_cv.accuracy_by_source``)."""


def print_train(summary: dict[str, Any]) -> None:
    """The human summary of `train`: head scores, classifier, calibrated bar."""
    table = Table(title="quality heads (5-fold cross-validated)")
    for col in ("model", "AUC", "Brier", "mean quality"):
        table.add_column(col)
    for name, s in summary["scores"]["quality_heads"].items():
        table.add_row(
            name,
            "undefined" if s["auc"] is None else f"{s['auc']:.3f}",
            f"{s['brier']:.3f}",
            f"{s['mean_quality']:.3f}",
        )
    out.print(table)
    cap = summary["scores"].get("capability_cv")
    if cap:
        out.print(
            f"capability classifier (CV, n={cap['n']}): accuracy {cap['accuracy']:.3f}, "
            f"macro-F1 {cap['macro_f1']:.3f}"
        )
        by_source = sorted(
            cap.get("accuracy_by_source", {}).items(), key=lambda i: i[1]
        )
        if len(by_source) > 1:
            weakest = ", ".join(f"{s} {a:.3f}" for s, a in by_source[:WEAKEST_SOURCES])
            out.print(f"  weakest sources (CV accuracy): {weakest}")
    cal = summary.get("calibration")
    if cal:
        low, high = cal["quality_ratio_interval_95"]
        bar = f"{cal['bar']:.4f}"
        if cal.get("alt_bar") is not None:
            bar += (
                f" on {cal['share']:.0%} of prompts, {cal['alt_bar']:.4f} on the rest"
            )
        out.print(
            f"calibrated bar {bar} for target {summary['target_quality']}: "
            f"out-of-fold quality ratio {cal['train_quality_ratio']:.3f} "
            f"(95% bootstrap {low:.3f}-{high:.3f}) at cost ratio "
            f"{cal['train_cost_ratio']:.3f}"
        )
    out.print(f"wrote {summary['artefact']}")


def print_outcomes(report: dict[str, Any]) -> None:
    """The human summary of ``dispatch eval outcomes``: the reference, the
    calibrated quality and cost ratios, the cost curve, APGR and calls."""
    r = report["result"]
    out.print(
        f"{report['n']} prompts, reference {report['reference_model']} "
        f"(quality {report['reference']['quality']:.3f})"
    )
    out.print(
        f"calibrated for {r['target_quality']}: quality ratio {r['quality_ratio']:.3f}, "
        f"cost ratio {r['cost_ratio']:.3f}"
    )
    out.print(f"cost ratio at quality: {report['cost_ratio_at_quality']}")
    out.print(f"APGR {report['apgr']:.3f}; calls: {r['calls_by_model']}")


def print_capability(report: dict[str, Any], router: str) -> None:
    """The human summary of ``dispatch eval capability``: per-capability
    precision, recall and F1 under `router`'s overall scores, and the decision
    latency."""
    table = Table(
        title=f"{router}: accuracy {report['accuracy']:.3f}, "
        f"macro-F1 {report['macro_f1']:.3f} (n={report['n']})"
    )
    for col in ("capability", "precision", "recall", "F1", "n"):
        table.add_column(col)
    for cap, s in report["per_class"].items():
        table.add_row(
            cap,
            f"{s['precision']:.3f}",
            f"{s['recall']:.3f}",
            f"{s['f1']:.3f}",
            str(s["n"]),
        )
    out.print(table)
    lat = report["latency_ms"]
    out.print(f"decision latency p50 {lat['p50']:.2f} ms, p99 {lat['p99']:.2f} ms")
