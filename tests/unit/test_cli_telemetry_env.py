"""Telemetry set-up from `OTEL_*` variables: bad values are refused up front."""

from __future__ import annotations

import pytest

from dispatch.cli.telemetry import telemetry_from_env
from dispatch.errors import ConfigError


@pytest.mark.parametrize("variable", ["OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER"])
def test_an_unknown_exporter_is_a_config_error_naming_the_variable(
    variable: str,
) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", variable: "zipkin"}
    with pytest.raises(ConfigError) as raised, telemetry_from_env(env):
        pass
    assert variable in str(raised.value) and "zipkin" in str(raised.value)


def test_console_exporters_are_accepted() -> None:
    env = {"OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "console"}
    with telemetry_from_env(env) as tracing:
        assert tracing.enabled
