"""The agent's kernel keyrings are out of the program's reach (QA attack a17).

Namespaces do not isolate keyrings: the program inherited the agent's session
keyring and read a secret from it with two ``keyctl`` calls. Each test runs in a
fresh interpreter that first joins a session keyring of its own, so the secrets it
plants never touch the test runner's keyrings (the one put in the user keyring is
invalidated on the way out).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from typing import Any

import pytest
from _sandbox_helpers import _unavailable_reason

_SYS_ADD_KEY = {"x86_64": 248, "aarch64": 217}

_PRELUDE = """
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
MACHINE = os.uname().machine
SYS_ADD_KEY = {"x86_64": 248, "aarch64": 217}[MACHINE]
SYS_KEYCTL = {"x86_64": 250, "aarch64": 219}[MACHINE]
KEYCTL_GET_KEYRING_ID, KEYCTL_JOIN_SESSION_KEYRING, KEYCTL_SETPERM = 0, 1, 5
KEYCTL_SEARCH, KEYCTL_READ, KEYCTL_INVALIDATE = 10, 11, 21
SESSION, USER = -3, -4

def keyctl(*args):
    result = libc.syscall(SYS_KEYCTL, *args)
    return result, ctypes.get_errno() if result < 0 else 0

def add_key(description, secret, ring):
    data = secret.encode()
    key = libc.syscall(SYS_ADD_KEY, b"user", description.encode(), data, len(data), ring)
    if key < 0:
        raise OSError(ctypes.get_errno(), f"add_key {description}")
    return key

joined, err = keyctl(KEYCTL_JOIN_SESSION_KEYRING, None)
if joined < 0:
    print(json.dumps({"skip": f"the kernel refuses keyctl here ({os.strerror(err)}): "
                              "there is no keyring to leak"}))
    sys.exit(0)
"""


_PROBE = """
import ctypes, json
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
KEYCTL_SEARCH, KEYCTL_READ = 10, 11
params = json.loads(PARAMS)

def keyctl(*args):
    result = libc.syscall(params["keyctl"], *args)
    return [result, ctypes.get_errno() if result < 0 else 0]

calls = {}
for ring in (-1, -2, -3, -4, -5):  # thread, process, session, user, user-session
    for name in params["names"]:
        calls[f"search {ring} {name}"] = keyctl(
            KEYCTL_SEARCH, ring, b"user", name.encode(), 0
        )
for key in params["keys"]:
    buf = ctypes.create_string_buffer(256)
    calls[f"read {key}"] = keyctl(KEYCTL_READ, key, buf, 256) + [
        buf.raw.rstrip(bytes(1)).decode(errors="replace")
    ]
try:
    listing = open("/proc/keys").read()
except OSError as exc:
    listing = repr(exc)
print(json.dumps({"calls": calls, "proc_keys": listing}))
"""
"""The attack, run in the sandbox: look for the keys in every keyring the program
could name, read each by its serial number, list ``/proc/keys``. ``PARAMS``: JSON
of the keyctl number, the keys' descriptions and serials."""


def _run(body: str, args: object = None) -> dict[str, Any]:
    """Run `_PRELUDE` + `body` in a fresh interpreter, `args` as JSON in ``ARGS``;
    its last stdout line, as JSON.

    Skips when the sandbox cannot be built, or when the kernel (or a seccomp policy
    around the tests) forbids ``keyctl``: then no program can reach a keyring.
    """
    reason = _unavailable_reason()
    if reason is not None:
        pytest.skip(f"no sandbox on this machine: {reason}")
    if os.uname().machine not in _SYS_ADD_KEY:
        pytest.skip(f"no key syscall numbers for {os.uname().machine}")
    script = _PRELUDE + "ARGS = json.loads(sys.argv[1])\n" + textwrap.dedent(body)
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if "skip" in report:
        pytest.skip(report["skip"])
    return report


def test_the_program_can_neither_find_nor_read_the_agents_keys() -> None:
    tag = uuid.uuid4().hex
    secrets = {
        "session": f"sk-session-{tag}",
        "readable": f"sk-readable-{tag}",
        "user": f"sk-user-{tag}",
    }
    names = {kind: f"dispatch-test-{tag}-{kind}" for kind in secrets}
    report = _run(
        """
        from dispatch.sandbox import run_python
        secrets, names = ARGS["secrets"], ARGS["names"]
        keys = {
            "session": add_key(names["session"], secrets["session"], SESSION),
            "readable": add_key(names["readable"], secrets["readable"], SESSION),
        }
        # Readable by anyone, so only the denied syscall, not the key's
        # permissions, stands between the program and a read by serial number.
        assert keyctl(KEYCTL_SETPERM, keys["readable"], 0x3F3F3F3F)[0] == 0
        keys["user"] = add_key(names["user"], secrets["user"], USER)
        try:
            params = {"keyctl": SYS_KEYCTL, "names": list(names.values()),
                      "keys": list(keys.values())}
            result = run_python(f"PARAMS = {json.dumps(params)!r}\\n" + ARGS["probe"])
        finally:
            keyctl(KEYCTL_INVALIDATE, keys["user"])
        print(json.dumps({"stdout": result.stdout, "stderr": result.stderr,
                          "exit_code": result.exit_code}))
        """,
        {"secrets": secrets, "names": names, "probe": _PROBE},
    )
    assert report["exit_code"] == 0, report["stderr"]
    for secret in secrets.values():
        assert secret not in report["stdout"]
        assert secret not in report["stderr"]
    seen = json.loads(report["stdout"])
    calls = seen["calls"]
    assert len(calls) == 5 * 3 + 3
    # Every key syscall is denied outright (EPERM), whatever it asks.
    assert {tuple(call[:2]) for call in calls.values()} == {(-1, 1)}, calls
    for name in names.values():
        assert name not in seen["proc_keys"]


def test_the_join_alone_leaves_the_old_session_keyring_behind() -> None:
    # The layer under the seccomp filter: after `_leave_keyrings` the session
    # keyring is a new, empty one, so even a kernel or policy letting keyctl
    # through would find nothing of the agent's.
    report = _run(
        """
        from dispatch.sandbox import _boot
        name = "dispatch-test-join"
        add_key(name, "sk-join-secret", SESSION)
        before = keyctl(KEYCTL_GET_KEYRING_ID, SESSION, 0)[0]
        assert keyctl(KEYCTL_SEARCH, SESSION, b"user", name.encode(), 0)[0] > 0
        _boot._leave_keyrings(libc)
        print(json.dumps({
            "changed": keyctl(KEYCTL_GET_KEYRING_ID, SESSION, 0)[0] != before,
            "search": keyctl(KEYCTL_SEARCH, SESSION, b"user", name.encode(), 0),
        }))
        """
    )
    assert report["changed"]
    assert report["search"] == [-1, 126]  # ENOKEY


def test_a_failed_join_refuses_to_run_the_program() -> None:
    # Where keyctl is denied to the agent (here by the sandbox's own filter, put
    # on the test's interpreter), the join fails and nothing runs: fail closed.
    report = _run(
        """
        from dispatch.sandbox import SandboxUnavailable, _boot, run_python
        assert libc.prctl(_boot.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
        _boot._deny_key_syscalls(libc)
        try:
            result = run_python("print('the program ran')")
        except SandboxUnavailable as exc:
            print(json.dumps({"refused": str(exc)}))
        else:
            print(json.dumps({"ran": result.stdout}))
        """
    )
    assert "ran" not in report, report
    assert "joining a new session keyring failed (EPERM" in report["refused"]
    assert "session keyring and its secrets" in report["refused"]
