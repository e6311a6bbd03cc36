"""``python -m dispatch`` runs the CLI."""

from dispatch.cli.app import main

main()
