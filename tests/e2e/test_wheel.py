"""The wheel ships agents/ and graphs/ inside `dispatch`, never as top-level packages."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_wheel_has_no_top_level_agents_or_graphs(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("graph_dispatch-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert top == {
        "dispatch",
        f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info",
    }
    assert "dispatch/agents/coding.py" in names
    assert "dispatch/graphs/orchestrator.py" in names
    assert "dispatch/agents/corpus/checkout-runbook.md" in names
    assert "dispatch/data/registry.yaml" in names
