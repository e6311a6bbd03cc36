"""``python -m dispatch`` runs the CLI."""

from dispatch.cli.app import app

app(prog_name="dispatch")
