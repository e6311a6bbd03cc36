from __future__ import annotations

import importlib

import dispatch


def test_all_is_sorted_and_complete() -> None:
    assert list(dispatch.__all__) == sorted(dispatch.__all__)
    public = {n for n in vars(dispatch) if not n.startswith("_")} - {"annotations"}
    modules = {n for n in public if type(getattr(dispatch, n)).__name__ == "module"}
    assert set(dispatch.__all__) == public - modules


def test_agents_and_graphs_live_under_the_dispatch_namespace() -> None:
    assert importlib.import_module("dispatch.agents").__name__ == "dispatch.agents"
    assert importlib.import_module("dispatch.graphs").__name__ == "dispatch.graphs"
