"""``python -m bench.prompt_cache`` on a few turns: what it measures is real."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bench.prompt_cache import converse, main
from dispatch import Registry
from dispatch.cost import call_cost


def test_both_runs_send_the_same_turns_and_price_the_cache() -> None:
    pinned = converse(4, pinned=True)
    unpinned = converse(4, pinned=False)
    assert len(pinned.records) == len(unpinned.records) == 4
    assert pinned.records[0].cache_read_tokens == 0  # a cold cache
    assert pinned.cached_share > 0.4  # turns 3 and 4 re-read the first two
    registry = Registry.from_config()
    for record in pinned.records:
        spec = registry.get(record.model)
        assert record.cost_usd == call_cost(
            spec,
            record.input_tokens,
            record.output_tokens,
            cache_read_tokens=record.cache_read_tokens,
        )
    assert pinned.cost == sum((r.cost_usd for r in pinned.records), Decimal(0))
    assert pinned.cost < pinned.without_cache(registry)
    # pins hold: the unpinned turns are told nothing of earlier choices
    assert all(r.pin_change.value == "new" for r in unpinned.records)
    assert any(r.pinned or r.repinned_from for r in pinned.records[1:])


def test_it_prints_both_runs_and_the_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--turns", "3"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("pinned ") and "model switches" in lines[0]
    assert lines[1].startswith("unpinned ")
    assert lines[2].startswith("pinned/unpinned cost: ")


def test_it_refuses_more_turns_than_it_has() -> None:
    with pytest.raises(SystemExit):
        main(["--turns", "21"])
