"""``python -m bench`` runs every benchmark scenario."""

from bench import budget, overhead, tracing

overhead.main([])
budget.main()
tracing.main()
