from __future__ import annotations

from decimal import Decimal

import networkx as nx
import pytest

from dispatch.preflight import preflight


def graph(
    edges: list[tuple[str, str]], costs: dict[str, tuple[str, str]]
) -> nx.DiGraph[str]:
    g: nx.DiGraph[str] = nx.DiGraph()
    for name, (expected, worst) in costs.items():
        g.add_node(name, expected=expected, worst=worst)
    g.add_edges_from(edges)
    return g


def test_totals_and_the_dearest_chain_of_a_dag() -> None:
    g = graph(
        [("plan", "a"), ("plan", "b"), ("a", "c"), ("b", "c")],
        {"plan": ("0", "0"), "a": ("1", "4"), "b": ("1", "2"), "c": ("1", "3")},
    )
    est = preflight(g)
    assert est.expected_cost_usd == 3
    assert est.worst_case_cost_usd == 9
    assert est.worst_path == ["plan", "a", "c"]
    assert est.worst_path_cost_usd == 7


def test_nodes_in_a_cycle_are_bounded_by_their_visits() -> None:
    g = graph(
        [("start", "agent"), ("agent", "tools"), ("tools", "agent")],
        {"start": ("0", "0"), "agent": ("1", "2"), "tools": ("0", "0.5")},
    )
    g.nodes["tools"]["max_visits"] = 3
    est = preflight(g, max_visits=5)
    assert est.nodes["agent"].worst_usd == Decimal(10)
    assert est.nodes["tools"].worst_usd == Decimal("1.5")
    assert est.worst_case_cost_usd == Decimal("11.5")
    assert est.worst_path == ["start", "agent", "tools"]


def test_nodes_without_costs_are_refused() -> None:
    g: nx.DiGraph[str] = nx.DiGraph()
    g.add_node("x")
    with pytest.raises(ValueError, match="'x' has no"):
        preflight(g)
    with pytest.raises(ValueError, match="max_visits"):
        preflight(graph([], {"a": ("0", "0")}), max_visits=0)
