"""The sandbox's child side: builds the namespaces, then execs the untrusted program.

Run by the supervisor (`dispatch.sandbox._supervise`) as ``python -I -S _boot.py
CONFIG CODE``. It imports nothing but the standard library, because it runs before
(and while) the isolation is set up. Three processes, each dying with its parent
(``PR_SET_PDEATHSIG``), so killing the first one, or the agent, tears all down:

1. *stage 1* (in the caller's namespaces) opens the directories to expose, forks
   stage 2 and writes its uid/gid maps. It has to be a separate process: a process
   cannot map itself to an id other than its own, and on a root host the sandbox
   must not run as host root (the kernel does not enforce ``RLIMIT_NPROC`` for it,
   and root owns every file).
2. *stage 2* unshares user, mount, pid, network, IPC, UTS and cgroup namespaces,
   waits for its maps, becomes root of the new user namespace (a host nobody-like
   id), and forks stage 3, the init of the new pid namespace. It waits for it and
   reports how it ended on the status pipe.
3. *stage 3* (pid 1) builds a new root on a tmpfs: read-only binds of the system and
   the Python installation, a minimal ``/dev``, a fresh ``/proc`` and a size-capped
   tmpfs ``/tmp`` (the private temp dir; it vanishes with the namespace), pivots into
   it, sets the resource limits, joins a new empty session keyring (namespaces do
   not isolate keyrings), drops every capability, denies the key syscalls with a
   seccomp filter and execs Python on the code. When pid 1 exits the kernel kills
   everything else in the namespace, so no process outlives the call.

Any setup failure is written to the status pipe as ``error <message>`` and the
program never runs; the supervisor turns that into a refusal, never a silent
unsandboxed run. The ``unsafe`` mode (an explicit opt-out) skips the namespaces and
keeps only the limits and the parent-death signal.
"""

from __future__ import annotations

import ctypes
import errno
import marshal
import os
import resource
import select
import sys

# Only modules that import in microseconds: this runs before every call, and
# `json`, `signal` or `typing` would pull in `re`/`enum` (~50 ms on the CI machine).
TYPE_CHECKING = False  # mypy takes it as true; annotations are never evaluated
if TYPE_CHECKING:
    from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACES = (
    CLONE_NEWUSER
    | CLONE_NEWNS
    | CLONE_NEWPID
    | CLONE_NEWNET
    | CLONE_NEWIPC
    | CLONE_NEWUTS
    | CLONE_NEWCGROUP
)

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
# Flags a remount must keep: the kernel refuses to clear flags it locked on the
# host's mounts (statvfs and mount flags share these bit values).
_KEPT_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC | 1024 | 2048 | (1 << 21)

SIGKILL = 9
PR_SET_PDEATHSIG = 1
PR_SET_SECUREBITS = 28
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECBIT_NOROOT_LOCKED = 0b11  # exec as uid 0 grants no capabilities, and stays so
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
_SYS_KEYCTL = {"x86_64": 250, "aarch64": 219}
KEYCTL_JOIN_SESSION_KEYRING = 1

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
_BPF_LD_W_ABS = 0x20  # A = seccomp_data[k] (32 bits): nr at 0, arch at 4
_BPF_JEQ_K = 0x15  # pc += (A == k) ? jt : jf
_BPF_RET_K = 0x06
_X32_SYSCALL_BIT = 0x40000000
_SECCOMP_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}  # AUDIT_ARCH_*
_KEY_SYSCALLS = {  # add_key, request_key, keyctl
    "x86_64": (248, 249, 250, *(_X32_SYSCALL_BIT | n for n in (248, 249, 250))),
    "aarch64": (217, 218, 219),
}

_ERRNO_HINTS = {
    errno.EPERM: "unprivileged user namespaces are disabled "
    "(sysctl kernel.unprivileged_userns_clone, or an AppArmor/seccomp policy)",
    errno.ENOSPC: "the user namespace limit is reached (user.max_user_namespaces)",
    errno.EINVAL: "the kernel lacks one of the namespaces",
    errno.ENOSYS: "the kernel lacks namespace support",
}


class SetupError(Exception):
    """The sandbox could not be built; the program must not run."""


class _CapHeader(ctypes.Structure):
    """capset(2)'s header; version 3 takes two `_CapData` (64 capabilities)."""

    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


class _SockFilter(ctypes.Structure):
    """One classic BPF instruction (``struct sock_filter``)."""

    _fields_ = (
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    )


class _SockFprog(ctypes.Structure):
    """A BPF program (``struct sock_fprog``), as ``PR_SET_SECCOMP`` takes it."""

    _fields_ = (("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter)))


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    """Raise `SetupError` for a failed libc call: errno name, text and a hint."""
    if result != 0:
        code = ctypes.get_errno()
        hint = _ERRNO_HINTS.get(code, "") if what.startswith("unshare") else ""
        detail = f"{errno.errorcode.get(code, code)}: {os.strerror(code)}"
        raise SetupError(f"{what} failed ({detail}){'; ' + hint if hint else ''}")


def _report(status_fd: int, line: str) -> None:
    """One line to the supervisor (the protocol is line-based: no newlines)."""
    try:
        os.write(status_fd, (line.replace("\n", " ") + "\n").encode())
    except OSError:
        pass  # the supervisor is gone; nothing left to tell


def _die_with_parent(libc: Any, lifeline: int | None, parent: int | None) -> None:
    """SIGKILL this process when its parent dies; exit now if it already has."""
    _check(libc.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
    if parent is not None and os.getppid() != parent:
        os._exit(1)
    if lifeline is not None and select.select([lifeline], [], [], 0)[0]:
        os._exit(1)  # readable means EOF: the parent closed it by dying


def _set_limits(limits: dict[str, int]) -> None:
    """Set the rlimits; CPU's hard limit is 1 s above soft: SIGXCPU, then SIGKILL."""
    cpu = limits["cpu_seconds"]
    for name, soft, hard in (
        ("RLIMIT_CPU", cpu, cpu + 1),
        ("RLIMIT_AS", limits["memory_bytes"], limits["memory_bytes"]),
        ("RLIMIT_FSIZE", limits["file_bytes"], limits["file_bytes"]),
        ("RLIMIT_NPROC", limits["processes"], limits["processes"]),
        ("RLIMIT_NOFILE", limits["open_files"], limits["open_files"]),
        ("RLIMIT_CORE", 0, 0),
    ):
        resource.setrlimit(getattr(resource, name), (soft, hard))


def _mount(
    libc: Any,
    source: str | None,
    target: str,
    fstype: str | None,
    flags: int,
    data: str | None = None,
) -> None:
    enc = [None if s is None else s.encode() for s in (source, target, fstype, data)]
    _check(libc.mount(enc[0], enc[1], enc[2], flags, enc[3]), f"mount {target}")


def _bind_readonly(libc: Any, source: str, target: str, *, nodev: bool = True) -> None:
    """Bind read-only; a bind is writable until remounted, keeping locked flags."""
    _mount(libc, source, target, None, MS_BIND | MS_REC)
    kept = os.statvfs(target).f_flag & _KEPT_FLAGS
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | (MS_NODEV if nodev else 0)
    _mount(libc, None, target, None, flags | kept)


def _mountpoint(path: str, *, is_dir: bool) -> None:
    os.makedirs(path if is_dir else os.path.dirname(path), exist_ok=True)
    if not is_dir:
        with open(path, "w"):
            pass


WORKDIR = "/tmp/work"
"""The program's working directory (and HOME, TMPDIR) inside the sandbox."""


def _build_root(libc: Any, cfg: dict[str, Any], fds: dict[str, int]) -> None:
    """New root on a tmpfs at /tmp (this mount namespace's own), then pivot into it."""
    new = "/tmp"
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    _mount(
        libc,
        "tmpfs",
        new,
        "tmpfs",
        MS_NOSUID | MS_NODEV,
        "size=1m,nr_inodes=4096,mode=0755",
    )
    # The private /tmp first, so a Python installed under /tmp is bound over it.
    os.makedirs(new + "/tmp")
    tmp = cfg["limits"]["tmp_bytes"]
    _mount(
        libc,
        "tmpfs",
        new + "/tmp",
        "tmpfs",
        MS_NOSUID | MS_NODEV,
        f"size={tmp},nr_inodes=1024,mode=1777",
    )
    for item in cfg["layout"]:
        target = new + item["path"]
        if item["kind"] == "symlink":
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.symlink(item["target"], target)
            continue
        _mountpoint(target, is_dir=item["kind"] == "dir")
        # Through the descriptor opened before the id change: no path traversal,
        # so a Python under a private home (0700) is reachable.
        _bind_readonly(libc, f"/proc/self/fd/{fds[item['path']]}", target)
    os.makedirs(new + "/dev", exist_ok=True)
    _mount(
        libc,
        "tmpfs",
        new + "/dev",
        "tmpfs",
        MS_NOSUID | MS_NOEXEC,
        "size=64k,mode=0755",
    )
    for name in ("null", "zero", "full", "random", "urandom"):
        _mountpoint(f"{new}/dev/{name}", is_dir=False)
        _mount(libc, f"/dev/{name}", f"{new}/dev/{name}", None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
        os.symlink(target, f"{new}/dev/{name}")
    os.symlink("/proc/self/fd/1", f"{new}/dev/stdout")
    os.symlink("/proc/self/fd/2", f"{new}/dev/stderr")
    _mount(
        libc, None, new + "/dev", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC
    )
    os.makedirs(new + "/proc")
    _mount(libc, "proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs(new + "/.old")
    _check(
        libc.syscall(
            _SYS_PIVOT_ROOT[os.uname().machine], new.encode(), (new + "/.old").encode()
        ),
        "pivot_root",
    )
    os.chdir("/")
    _check(libc.umount2(b"/.old", MNT_DETACH), "umount old root")
    os.rmdir("/.old")
    _mount(libc, None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    # The program works in an empty directory of the private /tmp: /tmp itself
    # may hold the mount points of a Python installed under /tmp.
    os.makedirs(WORKDIR)
    os.chdir(WORKDIR)
    # No nested user namespaces: they would hand the program capabilities again
    # (in a namespace of its own) and the kernel surface that comes with them.
    with open("/proc/sys/user/max_user_namespaces", "w") as f:
        f.write("0")


def _drop_capabilities(libc: Any) -> None:
    """Drop every capability for good, so root in the namespace gains nothing."""
    _check(libc.prctl(PR_SET_SECUREBITS, SECBIT_NOROOT_LOCKED, 0, 0, 0), "securebits")
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    for cap in range(last + 1):
        _check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "drop capability")
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def _leave_keyrings(libc: Any) -> None:
    """Join a new, empty session keyring, so the program holds none of the agent's.

    Namespaces do not isolate keyrings: the session keyring (``@s``) is inherited
    across fork and exec, and a secret a credential helper put there was one
    ``keyctl(KEYCTL_SEARCH, @s, ...)`` away. The thread and process keyrings are not
    inherited, and the user keyrings (``@u``, ``@us``) belong to the user namespace
    (Linux 5.3+): the program's are new and empty. The seccomp filter then denies
    the key syscalls altogether (`_deny_key_syscalls`); this join keeps the keyring
    out of reach should a kernel or a policy let one through.
    """
    keyctl = _SYS_KEYCTL[os.uname().machine]
    if libc.syscall(keyctl, KEYCTL_JOIN_SESSION_KEYRING, None) < 0:
        code = ctypes.get_errno()
        raise SetupError(
            "joining a new session keyring failed "
            f"({errno.errorcode.get(code, code)}: {os.strerror(code)}); the program "
            "would hold the agent's session keyring and its secrets"
        )


def _deny_key_syscalls(libc: Any) -> None:
    """Install a seccomp filter: ``add_key``, ``request_key`` and ``keyctl`` fail
    with EPERM, and a system call of another architecture (32-bit x86 on x86_64,
    whose numbers differ) kills the program. Everything else is allowed.

    Needs ``no_new_privs`` (set by `_drop_capabilities`); the filter stays for the
    program and every process it starts, across exec.
    """
    machine = os.uname().machine
    denied = _KEY_SYSCALLS[machine]
    # Instruction indices of the three returns; a jump skips `jt`/`jf` instructions
    # after its own, so the instruction at `at` jumps to `to` with `to - at - 1`.
    allow = 3 + len(denied)
    deny, kill = allow + 1, allow + 2
    program = [
        (_BPF_LD_W_ABS, 0, 0, 4),  # the architecture
        (_BPF_JEQ_K, 0, kill - 1 - 1, _SECCOMP_ARCH[machine]),
        (_BPF_LD_W_ABS, 0, 0, 0),  # the system call number
        *((_BPF_JEQ_K, deny - (3 + i) - 1, 0, nr) for i, nr in enumerate(denied)),
        (_BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        (_BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM),
        (_BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
    ]
    instructions = (_SockFilter * len(program))(*(_SockFilter(*i) for i in program))
    fprog = _SockFprog(len(program), instructions)
    _check(
        libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0),
        "seccomp filter (deny keyctl, add_key, request_key)",
    )


def _exec_program(cfg: dict[str, Any], code: str) -> None:
    python = cfg["python"]
    os.execve(python, [python, "-I", "-c", code], cfg["env"])


def _stage3(
    libc: Any, cfg: dict[str, Any], code: str, fds: dict[str, int], lifeline: int
) -> None:
    """Stage 3, pid 1 (module doc): new root, stdin /dev/null, limits, no caps, exec."""
    _die_with_parent(libc, lifeline, None)
    os.setsid()  # out of the supervisor's process group: kill(0) hits only us
    _build_root(libc, cfg, fds)
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    _set_limits(cfg["limits"])
    _leave_keyrings(libc)
    _drop_capabilities(libc)
    _deny_key_syscalls(libc)
    os.set_inheritable(cfg["status_fd"], False)
    _exec_program(cfg, code)


def _stage2(libc: Any, cfg: dict[str, Any], code: str, pipes: tuple[int, int]) -> None:
    """Stage 2 (module doc): unshare, await maps, fork pid 1, report its end."""
    to_parent, from_parent = pipes
    _die_with_parent(libc, None, cfg["stage1_pid"])
    _check(libc.unshare(NAMESPACES), "unshare(user, mount, pid, net, ipc, uts, cgroup)")
    os.write(to_parent, b"u")
    if os.read(from_parent, 1) != b"m":
        os._exit(1)  # stage 1 failed to map us and has said why
    # Opened in the new mount namespace (a bind needs a mount of its own namespace)
    # and before the id change (the host id may traverse a private home, 0700).
    fds = {
        item["path"]: os.open(item["path"], os.O_PATH | os.O_CLOEXEC)
        for item in cfg["layout"]
        if item["kind"] != "symlink"
    }
    os.setresgid(0, 0, 0)
    if cfg["privileged"]:
        os.setgroups([])  # drop the host root's supplementary groups
    os.setresuid(0, 0, 0)
    _die_with_parent(libc, None, cfg["stage1_pid"])  # an id change clears it
    lifeline_r, lifeline_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(lifeline_w)
        _guarded(cfg["status_fd"], lambda: _stage3(libc, cfg, code, fds, lifeline_r))
    os.close(lifeline_r)
    _report(cfg["status_fd"], f"pid {pid}")  # for the supervisor to kill on timeout
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        _report(cfg["status_fd"], f"signal {os.WTERMSIG(status)}")
    else:
        _report(cfg["status_fd"], f"exit {os.WEXITSTATUS(status)}")
    os._exit(0)


def _write_maps(pid: int, cfg: dict[str, Any]) -> None:
    """Map uid/gid 0 in `pid`'s namespace to the host ids, one id each."""
    if not cfg["privileged"]:  # an unprivileged gid_map needs setgroups denied
        with open(f"/proc/{pid}/setgroups", "w") as f:
            f.write("deny")
    for name, host in (("uid_map", cfg["host_uid"]), ("gid_map", cfg["host_gid"])):
        with open(f"/proc/{pid}/{name}", "w") as f:
            f.write(f"0 {host} 1\n")


def _stage1(libc: Any, cfg: dict[str, Any], code: str) -> None:
    """Stage 1 (module doc): fork stage 2 and write its id maps from outside."""
    _die_with_parent(libc, None, cfg["supervisor_pid"])
    cfg["stage1_pid"] = os.getpid()
    up_r, up_w = os.pipe()
    down_r, down_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(up_r)
        os.close(down_w)
        _guarded(cfg["status_fd"], lambda: _stage2(libc, cfg, code, (up_w, down_r)))
    os.close(up_w)
    os.close(down_r)
    if os.read(up_r, 1) == b"u":
        try:
            _write_maps(pid, cfg)
        except OSError as exc:
            os.kill(pid, SIGKILL)
            raise SetupError(f"writing the uid/gid maps failed ({exc})") from None
        os.write(down_w, b"m")
    os.waitpid(pid, 0)
    os._exit(0)


def _unsafe(libc: Any, cfg: dict[str, Any], code: str) -> None:
    """The opt-out: parent-death signal and limits only, no namespaces."""
    _die_with_parent(libc, None, cfg["supervisor_pid"])
    os.chdir(cfg["workdir"])  # already a session of its own: the supervisor kills it
    _set_limits(cfg["limits"])
    os.set_inheritable(cfg["status_fd"], False)
    _report(cfg["status_fd"], "unsafe")
    _exec_program(cfg, code)


def _guarded(status_fd: int, stage: Any) -> None:
    """Run a stage; a failure is reported and ends the process (never returns)."""
    try:
        stage()
    except SetupError as exc:
        _report(status_fd, f"error {exc}")
    except OSError as exc:
        _report(status_fd, f"error sandbox setup failed: {exc}")
    os._exit(125)


def main() -> None:
    """Entry point: ``_boot.py CONFIG CODE`` (CONFIG: `marshal` bytes, hex)."""
    cfg = marshal.loads(bytes.fromhex(sys.argv[1]))
    code = sys.argv[2]
    libc = _libc()
    if cfg["mode"] == "unsafe":
        _guarded(cfg["status_fd"], lambda: _unsafe(libc, cfg, code))
    _guarded(cfg["status_fd"], lambda: _stage1(libc, cfg, code))


if __name__ == "__main__":
    main()
