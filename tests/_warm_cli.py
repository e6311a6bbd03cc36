"""A pre-imported `python -m dispatch` that forks one real process per invocation.

Most of what an end-to-end CLI test pays for is start-up: a cold ``python -m
dispatch demo`` spends ~3 CPU-seconds importing LangGraph, LangChain, OTel and
the engine before it routes its first hop, and the suite runs dozens of them.
This module keeps one *server* process that has done those imports once. Each
invocation is a ``fork()`` of it: a new process with its own pid, argv, working
directory, environment, stdin/stdout/stderr, signal dispositions, atexit
handlers and exit status, which then runs ``dispatch/__main__.py`` exactly as
``python -m dispatch`` does. What the fork shares is only the import work.

The standard streams are the caller's own file descriptors, passed over a Unix
socket (``SCM_RIGHTS``) the way `subprocess.Popen` hands them to a child: a
file, a pipe the test reads while the run goes on, or a pseudo-terminal.
Several invocations can run at once (a run held mid-way while a second one
collides with it), and `WarmProcess.send_signal` is delivered by the server,
which has not yet reaped the child, so a signal never reaches a recycled pid.

What a fork cannot show is start-up itself: interpreter flags, ``PYTHON*``
variables, what the light paths import, argv bytes the OS decodes, the SIGINT
disposition a terminal gives a fresh interpreter, or a terminal seen at import
(the CLI's rich consoles detect colour when they are built). Those tests keep a
cold ``subprocess`` (``tests/e2e/test_cli_startup.py``, ``test_cli_errors.py``'s
argv bytes, ``test_cli_resume.py``'s Ctrl-C, ``test_cli_live_status.py``,
``test_cli.py``'s first demo), and the client refuses an environment whose
``PYTHON*`` variables differ from the server's, rather than silently ignoring
them.

The server is ``tests/_warm_server.py``, started as a script by `WarmCli`.
"""

from __future__ import annotations

import atexit
import json
import locale
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import _warm_server
from _warm_server import MAX_MESSAGE, PRELOAD

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL

Stream = int | IO[Any] | Path | None
"""A child's stream: a descriptor, an open file, a path, `PIPE` or `DEVNULL`."""


class WarmProcess:
    """One forked invocation while it runs: the part of `subprocess.Popen` tests use.

    ``stdin``/``stdout``/``stderr`` are the parent's ends of `PIPE` streams (text,
    line-buffered reads), else None.
    """

    def __init__(self, cli: WarmCli, rid: int, pid: int, args: list[str]) -> None:
        self._cli = cli
        self._id = rid
        self.pid = pid
        self.args = args
        self.returncode: int | None = None
        self.stdin: IO[str] | None = None
        self.stdout: IO[str] | None = None
        self.stderr: IO[str] | None = None

    def poll(self) -> int | None:
        """The exit code if the process has ended, else None (never blocks)."""
        if self.returncode is None:
            self._cli._collect(0)
            self._settle()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit code; `subprocess.TimeoutExpired` after `timeout` s."""
        if self.returncode is None:
            self._cli._await_exit(self._id, self.args, timeout)
            self._settle()
        assert self.returncode is not None
        return self.returncode

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """Read the piped stdout, then the piped stderr, to their end; then wait.

        (One after the other: pipe at most one of them if it may fill a pipe.)
        """
        out = self.stdout.read() if self.stdout else ""
        err = self.stderr.read() if self.stderr else ""
        for stream in (self.stdin, self.stdout, self.stderr):
            if stream is not None:
                stream.close()
        self.wait(timeout)
        return out, err

    def __enter__(self) -> WarmProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the pipes and wait, as `subprocess.Popen` does."""
        for stream in (self.stdin, self.stdout, self.stderr):
            if stream is not None:
                stream.close()
        self.wait()

    def send_signal(self, signum: int) -> None:
        """Signal the process (through the server, while it cannot be reaped)."""
        if self.poll() is None:
            self._cli._signal(self._id, signum)

    def _settle(self) -> None:
        status = self._cli._exits.get(self._id)
        if status is not None:
            self.returncode = os.waitstatus_to_exitcode(status)


class WarmCli:
    """Runs ``python -m dispatch ...`` as forks of one pre-imported server.

    `run` has the shape of ``subprocess.run(..., capture_output=True)`` and
    returns a `subprocess.CompletedProcess`; `start` the shape of
    ``subprocess.Popen`` (`WarmProcess`). A negative return code is a signal.
    """

    def __init__(self, workdir: Path, env: Mapping[str, str]) -> None:
        self._workdir = workdir
        self._env = dict(env)
        self._lock = threading.Lock()
        self._count = 0
        self._pids: dict[int, int] = {}
        self._exits: dict[int, int] = {}
        self.cpu_s = 0.0
        """CPU seconds its commands used (for measuring the suite)."""
        self._log = workdir / "server.stderr"
        self._sock, server_end = socket.socketpair(
            socket.AF_UNIX, socket.SOCK_SEQPACKET
        )
        with server_end, self._log.open("wb") as log:
            self._server = subprocess.Popen(
                [sys.executable, _warm_server.__file__, *PRELOAD],
                stdin=server_end.fileno(),
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=self._env,
            )

    def close(self) -> None:
        """Stop the server (it exits when the socket closes and its children end)."""
        self._sock.close()
        self._server.wait(timeout=30)
        shutil.rmtree(self._workdir, ignore_errors=True)

    def start(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        stdin: Stream = DEVNULL,
        stdout: Stream = DEVNULL,
        stderr: Stream = DEVNULL,
        script: Path | None = None,
    ) -> WarmProcess:
        """Start one ``python -m dispatch *args`` (or ``python script *args``).

        `env` replaces the environment, as with `subprocess.Popen`; streams are
        `PIPE`, `DEVNULL`, a descriptor, an open file or a path (opened for
        reading as stdin, else truncated for writing).
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
        fds: list[int] = []
        mine: list[int] = []  # our copies of the child's ends, closed once sent
        ours: list[tuple[int, int]] = []  # (stream index, our end of a pipe)
        try:
            for index, stream in enumerate((stdin, stdout, stderr)):
                child_fd, parent_fd, opened = _child_end(stream, reading=index == 0)
                fds.append(child_fd)
                if opened:
                    mine.append(child_fd)
                if parent_fd is not None:
                    ours.append((index, parent_fd))
            with self._lock:
                self._count += 1
                rid = self._count
                request = {
                    "id": rid,
                    "script": str(script) if script else None,
                    "argv": list(args),
                    "env": env,
                    "cwd": str(cwd or os.getcwd()),
                }
                socket.send_fds(self._sock, [json.dumps(request).encode()], fds)
        finally:
            for fd in mine:
                os.close(fd)
        command = [str(script)] if script else ["-m", "dispatch"]
        proc = WarmProcess(self, rid, self._await_pid(rid), ["python", *command, *args])
        for index, fd in ours:
            mode = "w" if index == 0 else "r"
            stream = open(fd, mode, encoding=locale.getpreferredencoding(False))
            setattr(proc, ("stdin", "stdout", "stderr")[index], stream)
        return proc

    def run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        input: bytes | None = None,
        timeout: float = 300,
        script: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """One ``python -m dispatch *args`` to its end (text output), `env` replacing
        the environment; on `timeout` the process is killed and
        `subprocess.TimeoutExpired` raised.

        `input` goes to the command's stdin through an OS pipe, as with
        `subprocess.run`. With `script`, ``python script *args`` instead.
        """
        with self._lock:
            self._count += 1
            base = self._workdir / f"run-{self._count}"
        out, err = base.with_suffix(".stdout"), base.with_suffix(".stderr")
        stdin: Stream = DEVNULL
        feeder = None
        if input is not None:
            stdin, write_end = os.pipe()
            feeder = threading.Thread(target=_feed, args=(write_end, input))
        try:
            proc = self.start(
                *args,
                env=env,
                cwd=cwd,
                stdin=stdin,
                stdout=out,
                stderr=err,
                script=script,
            )
        finally:
            if feeder is not None:
                os.close(stdin)  # the child has its own copy
                feeder.start()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(9)
            proc.wait()
            raise
        finally:
            if feeder is not None:
                feeder.join()
        return subprocess.CompletedProcess(
            proc.args, proc.wait(), _text(out.read_bytes()), _text(err.read_bytes())
        )

    # -- replies --------------------------------------------------------------------

    def _signal(self, rid: int, signum: int) -> None:
        with self._lock:
            self._sock.sendall(json.dumps({"id": rid, "signal": signum}).encode())

    def _await_pid(self, rid: int) -> int:
        while rid not in self._pids:
            self._collect(None)
        return self._pids.pop(rid)

    def _await_exit(self, rid: int, args: list[str], timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while rid not in self._exits:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if not self._collect(left) and left == 0.0:
                raise subprocess.TimeoutExpired(args, timeout or 0)

    def _collect(self, timeout: float | None) -> bool:
        """Read the server's replies that arrive within `timeout` s (None: the next)."""
        got = False
        with self._lock, selectors.DefaultSelector() as selector:
            selector.register(self._sock, selectors.EVENT_READ)
            while selector.select(0 if got else timeout):
                data = self._sock.recv(MAX_MESSAGE)
                if not data:
                    log = self._log.read_text(errors="replace")
                    raise RuntimeError(f"the warm CLI server died: {log}")
                reply = json.loads(data)
                if "pid" in reply:
                    self._pids[reply["id"]] = reply["pid"]
                else:
                    self._exits[reply["id"]] = reply["status"]
                    self.cpu_s += reply["cpu_s"]
                got = True
        return got


def _child_end(stream: Stream, *, reading: bool) -> tuple[int, int | None, bool]:
    """The descriptor to send for `stream`, our end of a pipe (or None), and whether
    the sent descriptor is ours to close once sent."""
    if stream == PIPE:
        read_end, write_end = os.pipe()
        return (read_end, write_end, True) if reading else (write_end, read_end, True)
    if stream == DEVNULL or stream is None:
        return os.open(os.devnull, os.O_RDONLY if reading else os.O_WRONLY), None, True
    if isinstance(stream, int):
        return stream, None, False
    if isinstance(stream, Path):
        flags = os.O_RDONLY if reading else os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        return os.open(stream, flags, 0o600), None, True
    return stream.fileno(), None, False


def _feed(fd: int, data: bytes) -> None:
    """Write `data` to a pipe and close it; a reader that stops early is fine."""
    rest = memoryview(data)
    try:
        while rest:
            rest = rest[os.write(fd, rest) :]
    except BrokenPipeError:
        pass
    finally:
        os.close(fd)


def _text(data: bytes) -> str:
    """Bytes as ``subprocess.run(text=True)`` decodes them (locale, universal newlines)."""
    text = data.decode(locale.getpreferredencoding(False))
    return text.replace("\r\n", "\n").replace("\r", "\n")


_SHARED: list[WarmCli] = []


def shared() -> WarmCli:
    """The test process's one server, started on first use.

    It needs no teardown: it exits when this process ends and closes its end of
    the socket. Its own environment (import time only) has no provider keys and
    no OTel settings; every invocation passes the environment it runs with.
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
