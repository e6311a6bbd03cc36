"""Files the `dispatch train` / `dispatch eval` end-to-end tests share: a two-model
benchmark models file and a registry that serves a trained artefact."""

from __future__ import annotations

from typing import Any

MODELS: dict[str, dict[str, Any]] = {
    "cheap-7b": {
        "tier": "small",
        "provider": "p",
        "price_in_per_mtok": 0.1,
        "price_out_per_mtok": 0.1,
    },
    "dear-4": {
        "tier": "large",
        "provider": "p",
        "price_in_per_mtok": 10.0,
        "price_out_per_mtok": 10.0,
    },
}
"""`benchmark_models.json`'s shape: a cheap and a dear model of one provider."""

LEARNED_REGISTRY = """\
version: 1
capabilities: [coding, search, analysis, general]
tiers:
  - {name: small, min_quality: 0.5}
  - {name: medium, min_quality: 0.7}
  - {name: large, min_quality: 0.85}
prices: {source: none}
routing: {artefact: router.npz}
models:
  - id: p:cheap-7b
    tier: small
    price: {input_per_mtok: 0.1, output_per_mtok: 0.1}
    context_window: 100000
    max_output_tokens: 4000
    capabilities: {general: 0.9, search: 0.9, analysis: 0.9, coding: 0.9}
  - id: p:mid-70b
    tier: medium
    price: {input_per_mtok: 1, output_per_mtok: 1}
    context_window: 100000
    max_output_tokens: 4000
    capabilities: {general: 0.9, search: 0.9, analysis: 0.9, coding: 0.9}
  - id: p:dear-4
    tier: large
    price: {input_per_mtok: 10, output_per_mtok: 10}
    context_window: 100000
    max_output_tokens: 4000
    capabilities: {general: 0.95, search: 0.95, analysis: 0.95, coding: 0.95}
"""
"""A registry whose routing reads ``router.npz`` next to it (three tiers; the
artefact's two models plus a medium one it does not know)."""


def replay_rows(n: int) -> list[dict[str, Any]]:
    """`n` labelled replay lines over `MODELS`: capabilities in turn, the cheap
    model good on every other prompt, the dear one on all."""
    caps = ("coding", "search", "general")
    return [
        {
            "id": f"x-{i}",
            "prompt": f"prompt number {i} about {caps[i % 3]}",
            "capability": caps[i % 3],
            "outcomes": {
                "cheap-7b": {"quality": float(i % 2), "cost_usd": 1e-4},
                "dear-4": {"quality": 1.0, "cost_usd": 0.01},
            },
        }
        for i in range(n)
    ]
