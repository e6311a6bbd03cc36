"""The server of `tests/_warm_cli.py`: one process that imports the CLI once and
forks a child per request.

Run as a script, it imports the modules named on its command line, then serves
the Unix socket on its stdin: one message per request (JSON plus the child's
three stream descriptors), answered with the child's pid and, when it ends,
its wait status. See `_warm_cli` for what a fork shares and what it cannot show.
"""

from __future__ import annotations

import gc
import json
import os
import selectors
import socket
import sys
from collections.abc import Mapping
from typing import Any

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

MAX_MESSAGE = 1 << 20
"""Largest request (argv and environment as JSON) the socket carries."""


def _child(request: dict[str, Any], streams: list[int]) -> None:
    """Become ``python -m dispatch *argv``; leaves only through SystemExit."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for target, fd in enumerate(streams):
        os.dup2(fd, target)
    for fd in set(streams) - {0, 1, 2}:
        os.close(fd)
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


def _send(sock: socket.socket, message: Mapping[str, Any]) -> None:
    sock.sendall(json.dumps(message).encode())


def serve(preload: list[str]) -> None:
    """Import `preload`, then fork a child per request until the socket closes.

    One loop waits on the socket and on a pidfd per running child, so children
    run concurrently; the server exits once the client has gone and its last
    child has been reaped.
    """
    import importlib

    for name in preload:
        importlib.import_module(name)
    # Without this, a child's first garbage collection walks (and so copies) every
    # object the imports made; frozen, they stay shared pages.
    gc.collect()
    gc.freeze()
    # the protocol moves off fd 0, so a child's dup2 never touches it
    sock = socket.socket(fileno=os.dup(0))
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    running: dict[int, tuple[int, int]] = {}  # request id -> (pid, pidfd)
    while True:
        for key, _ in selector.select():
            if key.fileobj is sock:
                data, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 3)
                if not data:  # the client has gone: finish what runs, then exit
                    selector.unregister(sock)
                    continue
                request = json.loads(data)
                if "signal" in request:  # not yet reaped: the pid is still ours
                    if request["id"] in running:
                        os.kill(running[request["id"]][0], request["signal"])
                    continue
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:  # the server's descriptors are not the child's
                    selector.close()
                    sock.close()
                    for _, pidfd in running.values():
                        os.close(pidfd)
                    _child(request, fds)
                for fd in fds:
                    os.close(fd)
                pidfd = os.pidfd_open(pid)
                running[request["id"]] = (pid, pidfd)
                selector.register(pidfd, selectors.EVENT_READ, request["id"])
                _send(sock, {"id": request["id"], "pid": pid})
            else:
                pid, pidfd = running.pop(key.data)
                selector.unregister(pidfd)
                os.close(pidfd)
                _, status, usage = os.wait4(pid, 0)
                cpu = usage.ru_utime + usage.ru_stime
                try:
                    _send(sock, {"id": key.data, "status": status, "cpu_s": cpu})
                except OSError:  # the client has gone
                    pass
        if not running and not selector.get_map():
            return


if __name__ == "__main__":
    serve(sys.argv[1:])
