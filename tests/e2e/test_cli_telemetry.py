"""Telemetry that cannot be delivered costs a run one warning line and bounded time.

Two real endpoints: a local HTTP receiver that takes traces and answers 405 to
metrics (what Arize Phoenix does), and a port nobody listens on.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from _warm_cli import shared
from conftest import PROVIDER_KEYS

from dispatch.cli.telemetry import EXPORT_TIMEOUT_S


@pytest.fixture
def traces_only() -> Iterator[tuple[str, list[str]]]:
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            paths.append(self.path)
            self.send_response(200 if self.path == "/v1/traces" else 405)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", paths
    server.shutdown()
    server.server_close()


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def demo(
    endpoint: str, tmp: str, **extra: str
) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS}
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        DISPATCH_CHECKPOINTS=f"{tmp}/c.sqlite",
        **extra,
    )
    start = time.monotonic()
    # its own process, forked from the pre-imported CLI: exit-time export included
    proc = shared().run("run", "Explain caching.", "--json", env=env, timeout=120)
    return time.monotonic() - start, proc


def test_a_traces_only_collector_gets_traces_and_one_warning_about_metrics(
    traces_only: tuple[str, list[str]], tmp_path: Any
) -> None:
    url, paths = traces_only
    _, proc = demo(url, str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "ok"
    assert "/v1/traces" in paths and "/v1/metrics" in paths
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("warning: telemetry")
    assert "405" in lines[0] and "OTEL_METRICS_EXPORTER=none" in lines[0]
    _, quiet = demo(url, str(tmp_path), OTEL_METRICS_EXPORTER="none")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_a_dead_endpoint_costs_bounded_time_and_one_warning(tmp_path: Any) -> None:
    baseline, ok = demo("", str(tmp_path), OTEL_TRACES_EXPORTER="none")
    assert ok.returncode == 0, ok.stderr
    elapsed, proc = demo(closed_port(), str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(
        "warning: telemetry not fully exported to http://127.0.0.1:"
    )
    # one bounded attempt per signal (the SDK default retried for ~19 s)
    assert elapsed - baseline < 2 * EXPORT_TIMEOUT_S + 2, (elapsed, baseline)
