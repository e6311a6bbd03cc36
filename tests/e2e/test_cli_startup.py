"""Start-up: the CLI's light paths never import the heavy optional stacks.

`dispatch --help`, a rules-only `dispatch route` and `import dispatch` must
not pay for torch, sentence-transformers, scikit-learn or scipy (seconds of
import, and packages a rules-only install does not have). Checked with
``python -X importtime``, which lists every module a process imports.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "sentence_transformers", "sklearn", "scipy", "transformers")


def imported(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.parametrize(
    "args",
    [
        ("-c", "import dispatch"),
        ("-m", "dispatch", "--help"),
        ("-m", "dispatch", "route", "What is 12 * 7?"),
        ("-m", "dispatch", "models"),
    ],
    ids=["import", "help", "route", "models"],
)
def test_light_paths_import_no_heavy_stack(args: tuple[str, ...]) -> None:
    modules = imported(*args)
    assert "dispatch" in modules
    assert not {m for m in modules if m.split(".")[0] in HEAVY}


def test_help_does_not_import_the_engine_beyond_the_package_root() -> None:
    modules = imported("-m", "dispatch", "--help")
    assert not {
        m for m in modules if m.startswith(("dispatch.cli.run", "dispatch.graphs"))
    }
    assert "langgraph.checkpoint.sqlite" not in modules
    assert "dispatch.cli.telemetry" not in modules
