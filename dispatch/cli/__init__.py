"""The ``dispatch`` command line (typer + rich): an application over the library.

`dispatch.cli.app` holds the commands and imports the engine lazily, inside
each command, so ``--help`` starts fast. The other modules are what they need:
`options` (shared flags and choices, typer only), `inputs` (flags, files and
stdin checked before a run), `outcome` (status and exit code of a run), `run`
(the workflow runner), `history` (reading past runs, read-only), `render`
(tables, trees, error exit), `support` (mode selection, checkpoints,
summaries) and `telemetry` (the only place that builds an OpenTelemetry SDK
pipeline, from the standard ``OTEL_*`` variables).
"""
