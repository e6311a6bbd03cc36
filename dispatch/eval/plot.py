"""`--plot`: the quality/cost curve of an outcome evaluation as a PNG (matplotlib).

matplotlib is an optional extra (``graph-dispatch[eval]``), imported only
when a plot is asked for, so the library and the rest of the CLI never pay
its import time or need it installed. The figure reads only the JSON report
of `dispatch.eval.outcomes.evaluate_outcomes`, so a saved ``--json`` report
can be re-plotted without routing again.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dispatch.errors import ConfigError

__all__ = ("check_plot_format", "plot_curve")


def _pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend; ConfigError if absent."""
    try:
        import matplotlib  # noqa: PLC0415 - optional, only for --plot

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigError(
            "--plot needs matplotlib: pip install 'graph-dispatch[eval]'"
        ) from exc
    return plt


def check_plot_format(path: Path) -> None:
    """matplotlib is installed and writes `path`'s format (its suffix; none
    means PNG). Run before the evaluation, so a wrong suffix fails at once.

    Raises:
        ConfigError: matplotlib is missing, or the suffix is no image format
            it knows (the error names the file and the formats).
    """
    _pyplot()
    from matplotlib.backend_bases import FigureCanvasBase  # noqa: PLC0415

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = path.suffix.lstrip(".").lower()
    if suffix and suffix not in formats:
        raise ConfigError(
            "cannot write the --plot: no image format for this suffix",
            file=str(path),
            found=suffix,
            expected=", ".join(sorted(formats)),
        )


def plot_curve(report: Mapping[str, Any], path: Path) -> None:
    """Draw the report's curve, baselines and calibrated point into `path`.

    Both axes are ratios against the reference model (x: cost, y: quality),
    so 1.0/1.0 is "always the reference". Grey squares are single models, the
    dashed line a random mix of the cheapest and the reference model (what a
    router must beat), the gold star the oracle, the red cross the operating
    point at the calibrated bar; the dotted line marks quality ratio 0.95.
    Parent directories of `path` are created.

    Args:
        report: the dict `evaluate_outcomes` returns (or its JSON, reloaded).
        path: the image to write, in its suffix's format (PNG without one,
            at `path` itself); an existing file is overwritten.

    Raises:
        ConfigError: matplotlib is not installed (``pip install graph-dispatch[eval]``),
            or `path` cannot be written (a directory, under a file, a format
            matplotlib does not know); the error names the file.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    curve = sorted(report["curve"], key=lambda p: p["cost_ratio"])
    ax.plot(
        [p["cost_ratio"] for p in curve],
        [p["quality_ratio"] for p in curve],
        "-o",
        ms=3,
        label=f"{report['router']} router (bar sweep)",
    )
    singles = report["single_models"]
    for name, s in singles.items():
        ax.scatter(s["cost_ratio"], s["quality_ratio"], marker="s", color="grey")
        ax.annotate(
            name.split("/")[-1], (s["cost_ratio"], s["quality_ratio"]), fontsize=6
        )
    cheapest = min(singles.values(), key=lambda s: s["cost_ratio"])
    ax.plot(
        [cheapest["cost_ratio"], 1.0],
        [cheapest["quality_ratio"], 1.0],
        "--",
        color="grey",
        label="random mix (cheapest / reference)",
    )
    oracle = report["oracle"]
    ax.scatter(
        oracle["cost_ratio"],
        oracle["quality_ratio"],
        marker="*",
        s=120,
        color="gold",
        label="oracle",
    )
    result = report["result"]
    ax.scatter(
        result["cost_ratio"],
        result["quality_ratio"],
        marker="X",
        s=90,
        color="red",
        label=f"calibrated for {result['target_quality']}",
    )
    ax.axhline(0.95, color="red", lw=0.5, ls=":")
    ax.set_xlabel(f"cost / always-{report['reference_model']}")
    ax.set_ylabel("quality / reference quality")
    ax.set_title(f"{report['n']} prompts, APGR {report['apgr']:.3f}")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # the format given, so matplotlib never appends ".png" to a bare path
        fmt = path.suffix.lstrip(".").lower() or "png"
        fig.savefig(path, format=fmt, dpi=120, bbox_inches="tight")
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError(
            f"cannot write the --plot: {reason}", file=str(path)
        ) from None
    finally:
        plt.close(fig)
