"""``python -m bench`` runs every benchmark scenario."""

from bench import budget, overhead, prompt_cache, tracing, turns

overhead.main([])
budget.main()
tracing.main()
turns.main([])
prompt_cache.main([])
