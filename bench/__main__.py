"""``python -m bench`` runs every benchmark scenario."""

from bench import overhead

overhead.main()
