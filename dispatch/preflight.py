"""Pre-flight cost estimate of a whole graph, before it runs (networkx).

Each node of a `networkx.DiGraph` carries ``expected`` and ``worst`` USD (the
cost of one visit). A node inside a cycle can run up to ``max_visits`` times
(its own ``max_visits`` attribute, else the bound given — for LangGraph, the
recursion limit), so its worst case is multiplied by that bound. The expected
cost counts one visit per node. The worst path is the most expensive chain of
dependent nodes, found on the condensation (cycles collapsed) of the graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import networkx as nx

__all__ = ("Estimate", "NodeCost", "preflight")


@dataclass(frozen=True, slots=True)
class NodeCost:
    """Cost of one node."""

    expected_usd: Decimal
    """One visit, on the planned route."""
    worst_usd: Decimal
    """All visits, on the dearest models that could serve it."""
    visits: int = 1
    """How many times the node may run."""


@dataclass(frozen=True, slots=True)
class Estimate:
    """A whole graph's expected and worst-case cost.

    Exact `Decimal` USD, like the ledger, so an estimate compared with a
    budget limit is not off by float rounding at the boundary.
    """

    expected_cost_usd: Decimal
    """Every node once, on its planned route: what a run should cost."""
    worst_case_cost_usd: Decimal
    """Every node at its worst, cycles at their visit bound: what a hard
    budget would need to guarantee the run never refuses a hop."""
    worst_path: list[str]
    """The most expensive chain of dependent nodes."""
    worst_path_cost_usd: Decimal
    """The worst-case cost of `worst_path` alone (nodes in parallel excluded)."""
    nodes: dict[str, NodeCost]
    """Each node's cost, by node name."""

    def as_json(self) -> dict[str, Any]:
        """The ``dispatch estimate --json`` object (money as floats)."""
        return {
            "expected_cost_usd": float(self.expected_cost_usd),
            "worst_case_cost_usd": float(self.worst_case_cost_usd),
            "worst_path": self.worst_path,
            "worst_path_cost_usd": float(self.worst_path_cost_usd),
            "nodes": {
                name: {
                    "expected_cost_usd": float(c.expected_usd),
                    "worst_case_cost_usd": float(c.worst_usd),
                    "visits": c.visits,
                }
                for name, c in self.nodes.items()
            },
        }


def preflight(graph: nx.DiGraph[str], *, max_visits: int = 25) -> Estimate:
    """Estimate `graph` (nodes with ``expected``/``worst`` attributes, see module doc).

    Args:
        graph: nodes carry ``expected`` and ``worst`` USD per visit (anything
            `Decimal` accepts: prefer strings) and optionally ``max_visits``.
        max_visits: the visit bound of a node in a cycle that states none.

    Raises:
        ValueError: a node lacks its costs, or `max_visits` is below 1.

    Example:
        >>> import networkx as nx
        >>> g = nx.DiGraph()
        >>> g.add_node("plan", expected="0.001", worst="0.004")
        >>> g.add_node("code", expected="0.01", worst="0.05")
        >>> g.add_edge("plan", "code")
        >>> est = preflight(g)
        >>> est.worst_path, est.worst_case_cost_usd
        (['plan', 'code'], Decimal('0.054'))
    """
    if max_visits < 1:
        raise ValueError(f"max_visits must be >= 1, got {max_visits}")
    cyclic = {
        n
        for scc in nx.strongly_connected_components(graph)
        if len(scc) > 1
        for n in scc
    }
    cyclic |= {n for n in graph if graph.has_edge(n, n)}
    nodes: dict[str, NodeCost] = {}
    for name, data in graph.nodes(data=True):
        if "expected" not in data or "worst" not in data:
            raise ValueError(f"node {name!r} has no 'expected'/'worst' cost")
        visits = int(data.get("max_visits", max_visits)) if name in cyclic else 1
        nodes[name] = NodeCost(
            expected_usd=Decimal(data["expected"]),
            worst_usd=Decimal(data["worst"]) * visits,
            visits=visits,
        )
    dag = nx.condensation(graph)
    weight = {
        scc: sum((nodes[n].worst_usd for n in dag.nodes[scc]["members"]), Decimal(0))
        for scc in dag
    }
    best: dict[int, tuple[Decimal, list[int]]] = {}
    for scc in nx.topological_sort(dag):
        preds = [best[p] for p in dag.predecessors(scc)]
        base = max(preds, key=lambda t: t[0], default=(Decimal(0), []))
        best[scc] = (base[0] + weight[scc], [*base[1], scc])
    cost, chain = max(best.values(), key=lambda t: t[0], default=(Decimal(0), []))
    path = [n for scc in chain for n in sorted(dag.nodes[scc]["members"])]
    return Estimate(
        expected_cost_usd=sum((c.expected_usd for c in nodes.values()), Decimal(0)),
        worst_case_cost_usd=sum((c.worst_usd for c in nodes.values()), Decimal(0)),
        worst_path=path,
        worst_path_cost_usd=cost,
        nodes=nodes,
    )
