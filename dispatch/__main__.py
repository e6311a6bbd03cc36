"""``python -m dispatch`` runs the CLI."""

from dispatch.cli import app

app(prog_name="dispatch")
