"""The attack suite of issue 9: model-written code trying to get out. Each must fail.

Every test runs a real program in the real sandbox and checks the host afterwards:
the key is not in anything the program could print, files are unchanged, the
listener got no connection, no process of the program is left.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
from pathlib import Path

import pytest
from _sandbox_helpers import marker, processes_with, sandboxed

FAKE_KEY = "sk-test-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
ROOT = Path(__file__).parents[2]


def test_the_agents_api_key_is_nowhere_the_program_can_look(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    code = f"""
import os
seen = [repr(dict(os.environ))]
for pid in [*os.listdir('/proc'), str(os.getppid()), '{os.getpid()}', 'self', '1']:
    for name in ('environ', 'cmdline'):
        try:
            seen.append(open(f'/proc/{{pid}}/{{name}}', 'rb').read().decode(errors='replace'))
        except OSError as exc:
            seen.append(type(exc).__name__)
print('\\n'.join(seen))
print('ppid', os.getppid())
"""
    result = sandboxed(code)
    assert result.exit_code == 0, result.stderr
    assert FAKE_KEY not in result.stdout
    assert "OPENAI_API_KEY" not in result.stdout
    assert "ppid 0" in result.stdout  # the parent is outside its pid namespace


def test_the_program_sees_only_its_own_processes() -> None:
    result = sandboxed(
        "import os; print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))"
    )
    assert result.stdout.strip() == "[1]"


def test_etc_passwd_cannot_be_written() -> None:
    before = hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest()
    result = sandboxed("open('/etc/passwd', 'a').write('evil::0:0::/:/bin/sh\\n')")
    assert "Read-only file system" in result.stderr
    assert hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest() == before


def test_the_project_is_neither_readable_nor_writable() -> None:
    readme = ROOT / "README.md"
    before = readme.read_bytes()
    result = sandboxed(
        f"import os\n"
        f"try: print('READ', open({str(readme)!r}).read()[:20])\n"
        f"except OSError as e: print('read failed', type(e).__name__)\n"
        f"open({str(readme)!r}, 'w').write('pwned')"
    )
    assert "read failed FileNotFoundError" in result.stdout
    if not str(ROOT).startswith("/tmp/"):
        # (a project under /tmp has its path inside the private, writable /tmp:
        # the write lands there and vanishes; the real file is checked below)
        assert result.exit_code == 1
    assert readme.read_bytes() == before


def test_a_sqlite_database_in_the_agents_tmp_is_out_of_reach(tmp_path: Path) -> None:
    db = tmp_path / "checkpoints.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("create table t (x)")
    conn.close()
    before = db.read_bytes()
    result = sandboxed(
        f"import sqlite3, os\n"
        f"print('exists', os.path.exists({str(db)!r}))\n"
        f"c = sqlite3.connect({str(db)!r}); c.execute('create table pwned (x)'); c.commit()"
    )
    assert "exists False" in result.stdout
    assert result.exit_code == 1  # it cannot even create a file there
    assert db.read_bytes() == before


def test_the_installed_python_is_read_only() -> None:
    result = sandboxed(
        "import os, json\n"
        "target = os.path.join(os.path.dirname(json.__file__), 'pwned.py')\n"
        "open(target, 'w').write('x')"
    )
    assert "Read-only file system" in result.stderr


def test_capabilities_are_gone_so_mounts_cannot_be_made_writable() -> None:
    result = sandboxed(
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "MS_REMOUNT, MS_BIND = 32, 4096\n"
        "print('remount', libc.mount(None, b'/usr', None, MS_REMOUNT | MS_BIND, None),"
        " ctypes.get_errno())\n"
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')])"
    )
    assert "remount -1 1" in result.stdout  # EPERM
    assert "['0000000000000000']" in result.stdout


def test_no_nested_namespace_gives_capabilities_back() -> None:
    result = sandboxed(
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000\n"
        "print(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), ctypes.get_errno())"
    )
    assert result.stdout.split() == ["-1", "28"]  # ENOSPC: none may be created


def test_no_network_not_even_to_a_local_listener() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        result = sandboxed(
            "import socket\n"
            f"s = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "s.sendall(b'stolen')"
        )
        with pytest.raises(TimeoutError):
            listener.accept()
    assert "Network is unreachable" in result.stderr


def test_a_unix_socket_of_the_host_is_not_reachable(tmp_path: Path) -> None:
    path = str(tmp_path / "daemon.sock")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        listener.listen()
        listener.settimeout(0.5)
        result = sandboxed(
            f"import socket; s = socket.socket(socket.AF_UNIX); s.connect({path!r})"
        )
        with pytest.raises(TimeoutError):
            listener.accept()
    assert "FileNotFoundError" in result.stderr


def test_a_fork_bomb_is_capped_and_leaves_nothing_behind() -> None:
    tag = marker()
    result = sandboxed(
        f"import os, time  # {tag}\n"
        "n = 0\n"
        "try:\n"
        "    for _ in range(300):\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60)\n"
        "            os._exit(0)\n"
        "        n += 1\n"
        "except OSError as exc:\n"
        "    print('stopped after', n, type(exc).__name__)\n",
        processes=16,
    )
    assert result.stdout.startswith("stopped after ")
    assert int(result.stdout.split()[2]) < 16
    assert processes_with(tag) == []


def test_a_daemonised_child_does_not_outlive_the_call() -> None:
    tag = marker()
    result = sandboxed(
        f"import os, time  # {tag}\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(60)\n"
        "    os._exit(0)\n"
        "print('parent done')\n"
    )
    assert result.stdout.strip() == "parent done"
    assert processes_with(tag) == []


def test_killing_the_parent_or_everything_does_not_touch_the_agent() -> None:
    result = sandboxed(
        "import os, signal\n"
        "for target in (os.getppid(), -1, 0):\n"
        "    try:\n"
        "        os.kill(target, signal.SIGKILL) if target else None\n"
        "        print('sent', target)\n"
        "    except OSError as exc:\n"
        "        print('refused', target, type(exc).__name__)\n"
        f"os.kill({os.getpid()}, signal.SIGKILL)\n"
    )
    # getppid() is 0 outside its namespace, -1 reaches only its own namespace, and
    # the agent's pid does not exist in there. We are still running.
    assert "ProcessLookupError" in result.stderr
    assert result.exit_code == 1


def test_a_memory_bomb_gets_memory_error() -> None:
    result = sandboxed(
        "chunks = []\nwhile True:\n    chunks.append(bytearray(50_000_000))\n",
        memory_bytes=256 << 20,
    )
    assert "MemoryError" in result.stderr
    assert not result.timed_out


def test_the_private_tmp_is_capped_and_gone_after_the_call() -> None:
    first = sandboxed(
        "import os\nopen('/tmp/left-behind', 'w').write('x')\n"
        "try:\n    open('/tmp/big', 'wb').write(b'x' * (8 << 20))\n"
        "except OSError as exc:\n    print('full', exc.errno)\n",
        tmp_bytes=4 << 20,
    )
    assert "full 28" in first.stdout  # ENOSPC
    second = sandboxed(
        "import os; print(os.listdir('/tmp'), os.listdir('.'), os.getcwd())"
    )
    assert "left-behind" not in second.stdout and "'big'" not in second.stdout
    assert second.stdout.strip().endswith("[] /tmp/work")
