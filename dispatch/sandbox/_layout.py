"""Which host paths the sandbox sees (read-only): the system and this Python.

Nothing else of the host is visible: not the project, not ``/home``, ``/root``,
``/tmp``, ``/run`` or ``/var`` (so no sockets of local daemons and no databases),
and only two harmless files of ``/etc``.
"""

from __future__ import annotations

import os
import sys

__all__ = ("SYSTEM_PATHS", "python_layout")

SYSTEM_PATHS = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/ld.so.cache",
    "/etc/localtime",
)
"""What a dynamically linked interpreter needs; symlinks (merged /usr) are kept as such."""


def python_layout() -> list[dict[str, str]]:
    """The mount plan for this interpreter: ``{"kind": dir|file|symlink, "path", "target"}``,
    parents before children, no bind nested in another (it is visible already).

    Both `sys.prefix` and `sys.base_prefix` are exposed because a virtualenv
    holds only the site-packages and a link to the base interpreter, whose
    standard library lives under the base prefix. A symlink is recreated as a
    symlink and its resolved target is exposed too, so the link leads to a
    real file inside the sandbox rather than dangling.
    """
    entries: dict[str, dict[str, str]] = {}

    def add(path: str) -> None:
        path = os.path.abspath(path)
        if path in entries or not os.path.lexists(path):
            return
        if os.path.islink(path):
            entries[path] = {
                "kind": "symlink",
                "path": path,
                "target": os.readlink(path),
            }
            add(os.path.realpath(path))
        else:
            kind = "dir" if os.path.isdir(path) else "file"
            entries[path] = {"kind": kind, "path": path, "target": ""}

    for path in (*SYSTEM_PATHS, sys.prefix, sys.base_prefix, sys.executable):
        add(path)
    kept = [
        e
        for p, e in entries.items()
        if not any(
            _inside(p, other) and entries[other]["kind"] == "dir"
            for other in entries
            if other != p
        )
    ]
    return sorted(kept, key=lambda e: (e["path"].count("/"), e["path"]))


def _inside(path: str, folder: str) -> bool:
    """True when `path` lies strictly below `folder` (not a sibling prefix)."""
    return path.startswith(folder.rstrip("/") + "/")
