"""``--plot PATH`` writes PATH itself, whatever its suffix.

A path without a suffix is a PNG (as `check_plot_format` promises), but
matplotlib appended ``.png`` to it: ``--plot curve`` wrote ``curve.png`` and
``--plot /dev/null`` created ``/dev/null.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dispatch.eval.plot import check_plot_format, plot_curve

pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

REPORT: dict[str, Any] = {
    "n": 10,
    "router": "learned",
    "reference_model": "dear-4",
    "apgr": 0.5,
    "curve": [
        {"threshold": 0.0, "quality_ratio": 1.0, "cost_ratio": 1.0},
        {"threshold": 0.5, "quality_ratio": 0.9, "cost_ratio": 0.3},
    ],
    "single_models": {
        "cheap-7b": {"quality_ratio": 0.6, "cost_ratio": 0.01},
        "dear-4": {"quality_ratio": 1.0, "cost_ratio": 1.0},
    },
    "oracle": {"quality_ratio": 1.1, "cost_ratio": 0.2},
    "result": {"quality_ratio": 0.95, "cost_ratio": 0.4, "target_quality": 0.95},
}


def test_a_plot_path_without_a_suffix_is_written_as_a_png_at_that_path(
    tmp_path: Path,
) -> None:
    path = tmp_path / "curve"
    check_plot_format(path)
    plot_curve(REPORT, path)
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve"]


def test_a_plot_path_with_a_suffix_keeps_its_format(tmp_path: Path) -> None:
    path = tmp_path / "curve.svg"
    plot_curve(REPORT, path)
    assert b"<svg" in path.read_bytes()[:500]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.svg"]
