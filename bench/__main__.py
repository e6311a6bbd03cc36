"""``python -m bench`` runs every benchmark scenario."""

from bench import budget, overhead, tracing, turns

overhead.main([])
budget.main()
tracing.main()
turns.main([])
