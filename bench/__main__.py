"""``python -m bench`` runs every benchmark scenario."""

from bench import budget, overhead

overhead.main([])
budget.main()
