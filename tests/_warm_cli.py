"""A pre-imported `python -m dispatch` that forks one real process per invocation.

Most of what an end-to-end CLI test pays for is start-up: a cold ``python -m
dispatch demo`` spends ~3 CPU-seconds importing LangGraph, LangChain, OTel and
the engine before it routes its first hop, and the suite runs dozens of them.
This module keeps one *server* process that has done those imports once. Each
invocation is a ``fork()`` of it: a new process with its own pid, argv, working
directory, environment, stdin/stdout/stderr files, signal dispositions, atexit
handlers and exit status, which then runs ``dispatch/__main__.py`` exactly as
``python -m dispatch`` does. What the fork shares is only the import work.

What a fork cannot show is start-up itself: interpreter flags, ``PYTHON*``
variables, what the light paths import, argv bytes the OS decodes, or a signal
delivered to a run in flight. Those tests keep a cold ``subprocess`` (see
``tests/e2e/test_cli_startup.py``, ``test_cli_errors.py``, ``test_cli_resume.py``),
and the client refuses an environment whose ``PYTHON*`` variables differ from
the server's, rather than silently ignoring them.

Run as a script, this file is the server: it imports the modules named on its
command line, then reads one JSON request per line on stdin and answers with
the child's pid and then its wait status on stdout.
"""

from __future__ import annotations

import atexit
import gc
import json
import locale
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

PRELOAD = (
    "dispatch.cli.app",
    "dispatch.cli.run",
    "dispatch.cli.store",
    "dispatch.cli.telemetry",
    "dispatch.cli.learn",
    "dispatch.graphs.demo",
    "dispatch.graphs.estimate",
    "dispatch.graphs.orchestrator",
    "langgraph.checkpoint.sqlite",
    "langgraph.checkpoint.sqlite.aio",
    # the demo's lexical features (dispatch.routing.lexical imports them lazily)
    "sklearn.feature_extraction.text",
    "sklearn.preprocessing",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
)
"""What the CLI's run paths import; never torch, onnxruntime or sentence-transformers
(the server must not read ``HF_*`` settings before a child sets them). NumPy's
BLAS reads its thread settings here, from the test process's environment, which
is also the environment the tests pass to their commands."""


# -- server ---------------------------------------------------------------------------


def _child(request: dict[str, Any], protocol: Sequence[BinaryIO]) -> None:
    """Become ``python -m dispatch *argv``; leaves only through SystemExit."""
    for stream in protocol:
        stream.close()
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for fd, path, flags in (
        (0, request["stdin"], os.O_RDONLY),
        (1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        (2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    ):
        opened = os.open(path, flags, 0o600)
        os.dup2(opened, fd)
        os.close(opened)
    import runpy

    # SystemExit (or any exception) unwinds out of serve(), so the interpreter
    # exits the usual way: non-daemon threads joined, atexit handlers run
    # (the OTel SDK flushes there), stdio flushed, the status is the program's.
    script = request.get("script")
    if script:  # python path/to/script.py: its folder is sys.path[0]
        sys.argv = [script, *request["argv"]]
        sys.path[0] = os.path.dirname(os.path.abspath(script))
        runpy.run_path(script, run_name="__main__")
    else:  # python -m dispatch: the working directory is sys.path[0]
        sys.argv = ["dispatch", *request["argv"]]
        sys.path[0] = os.getcwd()
        # alter_sys: argv[0] and __main__ become dispatch/__main__.py, as with -m
        runpy.run_module("dispatch", run_name="__main__", alter_sys=True)
    raise SystemExit(0)


def serve(preload: Sequence[str]) -> None:
    """Import `preload`, then fork one child per request line until stdin closes."""
    import importlib

    for name in preload:
        importlib.import_module(name)
    # Without this, a child's first garbage collection walks (and so copies) every
    # object the imports made; frozen, they stay shared pages.
    gc.collect()
    gc.freeze()
    # the protocol moves off fds 0/1, so a child's dup2 never touches it
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    for line in requests:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(request, (requests, replies))
        replies.write(json.dumps({"pid": pid}).encode() + b"\n")
        replies.flush()
        _, status, usage = os.wait4(pid, 0)
        cpu = usage.ru_utime + usage.ru_stime
        replies.write(json.dumps({"status": status, "cpu_s": cpu}).encode() + b"\n")
        replies.flush()


# -- client ---------------------------------------------------------------------------


class WarmCli:
    """Runs ``python -m dispatch ...`` as forks of one pre-imported server.

    `run` has the shape of ``subprocess.run(..., capture_output=True)`` and
    returns a `subprocess.CompletedProcess`; a negative return code is a signal.
    """

    def __init__(self, workdir: Path, env: Mapping[str, str]) -> None:
        self._workdir = workdir
        self._env = dict(env)
        self._lock = threading.Lock()
        self._count = 0
        self._pending = b""
        self.cpu_s = 0.0
        """CPU seconds its commands used (for measuring the suite)."""
        self._log = workdir / "server.stderr"
        with self._log.open("wb") as log:
            self._server = subprocess.Popen(
                [sys.executable, __file__, *PRELOAD],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                bufsize=0,
                stderr=log,
                env=self._env,
            )

    def close(self) -> None:
        """Stop the server (it exits when its stdin closes)."""
        assert self._server.stdin is not None
        self._server.stdin.close()
        self._server.wait(timeout=30)
        shutil.rmtree(self._workdir, ignore_errors=True)

    def run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        input: bytes | None = None,
        timeout: float = 300,
        script: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """One ``python -m dispatch *args`` (text output), `env` replacing the environment.

        With `script`, ``python script *args`` instead.
        """
        env = dict(os.environ if env is None else env)
        python_vars = {k: v for k, v in env.items() if k.startswith("PYTHON")}
        if python_vars != {
            k: v for k, v in self._env.items() if k.startswith("PYTHON")
        }:
            raise ValueError(
                "the warm CLI cannot apply interpreter settings (PYTHON* variables);"
                " run a cold subprocess for this test"
            )
        with self._lock:
            self._count += 1
            base = self._workdir / f"run-{self._count}"
            stdin = os.devnull
            if input is not None:
                stdin = str(base.with_suffix(".stdin"))
                Path(stdin).write_bytes(input)
            request = {
                "script": str(script) if script else None,
                "argv": list(args),
                "env": env,
                "cwd": str(cwd or os.getcwd()),
                "stdin": stdin,
                "stdout": str(base.with_suffix(".stdout")),
                "stderr": str(base.with_suffix(".stderr")),
            }
            status = self._exchange(request, timeout)
            out = Path(request["stdout"]).read_bytes()
            err = Path(request["stderr"]).read_bytes()
        command = [str(script)] if script else ["-m", "dispatch"]
        return subprocess.CompletedProcess(
            ["python", *command, *args],
            os.waitstatus_to_exitcode(status),
            _text(out),
            _text(err),
        )

    def _exchange(self, request: dict[str, Any], timeout: float) -> int:
        server = self._server
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write(json.dumps(request).encode() + b"\n")
        server.stdin.flush()
        pid = int(self._reply(None)["pid"])
        try:
            done = self._reply(timeout)
            status = int(done["status"])
            self.cpu_s += done["cpu_s"]
        except subprocess.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)
            self._reply(None)
            raise subprocess.TimeoutExpired(request["argv"], timeout) from None
        return status

    def _reply(self, timeout: float | None) -> dict[str, float]:
        stdout = self._server.stdout
        assert stdout is not None
        while b"\n" not in self._pending:
            with selectors.DefaultSelector() as selector:
                selector.register(stdout, selectors.EVENT_READ)
                if not selector.select(timeout):
                    raise subprocess.TimeoutExpired("warm dispatch", timeout or 0)
            chunk = os.read(stdout.fileno(), 4096)
            if not chunk:
                log = self._log.read_text(errors="replace")
                raise RuntimeError(f"the warm CLI server died: {log}")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        reply: dict[str, float] = json.loads(line)
        return reply


def _text(data: bytes) -> str:
    """Bytes as ``subprocess.run(text=True)`` decodes them (locale, universal newlines)."""
    text = data.decode(locale.getpreferredencoding(False))
    return text.replace("\r\n", "\n").replace("\r", "\n")


_SHARED: list[WarmCli] = []


def shared() -> WarmCli:
    """The test process's one server, started on first use.

    It needs no teardown: it exits when this process ends and closes its stdin.
    Its own environment (import time only) has no provider keys and no OTel
    settings; every invocation passes the environment it runs with.
    """
    if not _SHARED:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OTEL_", "DISPATCH_")) and not k.endswith("_API_KEY")
        }
        workdir = Path(tempfile.mkdtemp(prefix="warm-dispatch-"))
        _SHARED.append(WarmCli(workdir, env))
        atexit.register(_SHARED[0].close)
    return _SHARED[0]


if __name__ == "__main__":
    serve(sys.argv[1:])
