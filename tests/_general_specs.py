"""A `ModelSpec` serving only ``general``, priced the same in and out: the
registries of the learned-routing policy tests."""

from __future__ import annotations

from decimal import Decimal

from dispatch.types import ModelSpec


def general_spec(
    model_id: str,
    tier: str,
    price: str,
    prior: float = 0.9,
    *,
    context_window: int = 100_000,
    local: bool = False,
) -> ModelSpec:
    """`model_id` at `tier`, `price` USD per million tokens in and out, with
    registry prior `prior` for ``general`` and a 4,096-token output cap."""
    return ModelSpec(
        id=model_id,
        tier=tier,
        quality={"general": prior},
        input_per_mtok=Decimal(price),
        output_per_mtok=Decimal(price),
        context_window=context_window,
        max_output_tokens=4096,
        local=local,
    )
