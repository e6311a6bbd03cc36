"""Every script in examples/ runs offline and prints something.

Each runs as ``python examples/<script>`` would, in its own process forked from
the pre-imported CLI server (`_warm_cli`): fresh argv, ``__main__``, working
directory and exit status, without re-importing LangGraph for every script.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _warm_cli import shared

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.py"))


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script: Path, tmp_path: Path) -> None:
    proc = shared().run(script=script, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
