"""The ``dispatch`` command line (typer + rich): an application over the library.

`dispatch.cli.app` holds the commands; the other modules are what they need:
`run` (the workflow runner), `render` (tables, trees, error exit), `support`
(mode selection, checkpoints, summaries) and `telemetry` (the only place that
builds an OpenTelemetry SDK pipeline, from the standard ``OTEL_*`` variables).
"""
