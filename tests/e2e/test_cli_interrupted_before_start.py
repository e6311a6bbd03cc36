"""Ctrl-C before a run's graph starts (loading a learned artefact takes seconds)
saves nothing, so the CLI must not send the user to ``dispatch resume``, which
would answer "no conversation". A Ctrl-C once the graph runs still points there.

In-process through typer's runner, offline: the Ctrl-C is a `KeyboardInterrupt`
raised where the real one lands (the dispatcher's loading, the graph's first
step), as Python's SIGINT handler raises it.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import pytest
from _cli import cli

import dispatch.cli.run as run_module

pytestmark = pytest.mark.usefixtures("store")  # tests/conftest.py


def ctrl_c(*_: Any, **__: Any) -> NoReturn:
    raise KeyboardInterrupt


def test_ctrl_c_while_the_config_loads_says_nothing_was_saved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(run_module, "dispatcher_from_env", ctrl_c)
        code, out, err = cli("demo", "--thread", "early", "--json")
    result = json.loads(out)
    assert (code, result["status"], result["thread"]) == (130, "interrupted", "early")
    assert "before it started" in result["reason"]
    assert "nothing to resume" in result["reason"]
    assert "dispatch resume" not in result["reason"] and "dispatch resume" not in err
    assert err.startswith("interrupted:") and len(err.strip().splitlines()) == 1
    code, _, err = cli("resume", "early")
    assert code == 2 and "no runs yet" in err  # as the message said: nothing saved


def test_ctrl_c_once_the_graph_runs_points_to_resume(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(run_module.StreamedGraph, "ainvoke", ctrl_c)
    code, out, err = cli("demo", "--thread", "late", "--json")
    result = json.loads(out)
    assert (code, result["status"]) == (130, "interrupted")
    assert "finish it with `dispatch resume late`" in result["reason"]
    assert "dispatch resume late" in err
