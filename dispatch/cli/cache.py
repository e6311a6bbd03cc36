"""``dispatch cache info`` and ``dispatch cache clear``: what the encoder caches hold.

The cache directory (``$DISPATCH_CACHE_DIR``, default ``~/.cache/graph-dispatch``)
holds the ONNX exports of the installed MiniLM (``onnx/``, made on first use)
and the SQLite embedding cache (``embeddings.sqlite``, bounded by
``$DISPATCH_EMBEDDING_CACHE_MB``). Both can be deleted at any time: the next
run re-exports or re-encodes.
"""

from __future__ import annotations

import json
import sqlite3
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from dispatch.cli.options import JsonOpt
from dispatch.errors import ConfigError

__all__ = ("cache_app",)

cache_app = typer.Typer(
    help="Inspect or empty the encoder caches (ONNX exports, embeddings).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,
)

_EMBEDDINGS = "embeddings.sqlite"
_SIDE_FILES = ("-wal", "-shm")  # SQLite's write-ahead log and its index


class Part(StrEnum):
    """What `dispatch cache clear` deletes."""

    ALL = "all"
    EMBEDDINGS = "embeddings"
    ONNX = "onnx"


def _fail(exc: Exception, *, json_: bool = False) -> NoReturn:
    from dispatch.cli.render import fail  # noqa: PLC0415

    fail(exc, json_=json_)


def _os_error(what: str, exc: OSError) -> ConfigError:
    """`exc` as a one-line error naming the file it concerns."""
    return ConfigError(
        f"{what}: {exc.strerror or exc}",
        file=None if exc.filename is None else str(exc.filename),
    )


def _root() -> Path:
    """``$DISPATCH_CACHE_DIR`` (or the default), when it is a folder or absent.

    Raises:
        ConfigError: it names something that is not a folder (no cache can
            live there; `dispatch train` refuses it the same way).
    """
    from dispatch.routing._onnx_export import cache_dir  # noqa: PLC0415 - no torch

    root = cache_dir()
    if root.exists() and not root.is_dir():
        raise ConfigError(
            "cannot use the encoder's cache directory ($DISPATCH_CACHE_DIR): "
            "not a folder",
            file=str(root),
        )
    return root


def _file_bytes(path: Path) -> int:
    """A file's size with its SQLite side files (0 when absent)."""
    paths = [path, *(path.with_name(path.name + s) for s in _SIDE_FILES)]
    return sum(p.stat().st_size for p in paths if p.is_file())


def _embedding_rows(path: Path) -> dict[str, int]:
    """Rows per encoder id in the embedding cache, read-only.

    Raises:
        ConfigError: the file is not an embedding cache.
    """
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = db.execute(
                "SELECT encoder, COUNT(*) FROM embeddings GROUP BY encoder ORDER BY encoder"
            ).fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise ConfigError(
            f"not a readable embedding cache ({type(exc).__name__}); "
            "`dispatch cache clear --only embeddings` deletes it",
            file=str(path),
        ) from None
    return {str(encoder): int(count) for encoder, count in rows}


def cache_summary(root: Path) -> dict[str, Any]:
    """The caches under `root`: paths, bytes on disk, rows per encoder, exports."""
    from dispatch.routing.features import disk_cache_bound  # noqa: PLC0415

    embeddings = root / _EMBEDDINGS
    onnx = root / "onnx"
    exports = (
        sorted(
            (p for p in onnx.iterdir() if p.is_file() and not p.name.startswith(".")),
            key=lambda p: p.name,
        )
        if onnx.is_dir()
        else []
    )
    bound = disk_cache_bound()
    return {
        "cache_dir": str(root),
        "embeddings": {
            "path": str(embeddings),
            "exists": embeddings.is_file(),
            "bytes": _file_bytes(embeddings),
            "bound_bytes": bound,
            "rows_by_encoder": _embedding_rows(embeddings)
            if embeddings.is_file()
            else {},
        },
        "onnx": {
            "path": str(onnx),
            "files": [{"name": p.name, "bytes": p.stat().st_size} for p in exports],
            "bytes": sum(p.stat().st_size for p in exports),
        },
    }


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):,.1f} MB"


@cache_app.command()
def info(json_: JsonOpt = False) -> None:
    """Where the caches are, how large, and what the embedding cache holds."""
    from rich.table import Table  # noqa: PLC0415

    from dispatch.cli.render import out  # noqa: PLC0415
    from dispatch.errors import DispatchError  # noqa: PLC0415

    try:
        summary = cache_summary(_root())
    except DispatchError as exc:
        _fail(exc, json_=json_)
    except OSError as exc:
        _fail(
            _os_error("cannot read the cache directory ($DISPATCH_CACHE_DIR)", exc),
            json_=json_,
        )
    if json_:
        print(json.dumps(summary))
        return
    emb = summary["embeddings"]
    bound = "off" if emb["bound_bytes"] is None else _mb(emb["bound_bytes"])
    out.print(f"cache directory: {summary['cache_dir']}")
    out.print(
        f"embeddings: {_mb(emb['bytes'])} on disk (bound {bound}, "
        f"$DISPATCH_EMBEDDING_CACHE_MB)" + ("" if emb["exists"] else ", no file yet")
    )
    if emb["rows_by_encoder"]:
        table = Table(title_justify="left")
        table.add_column("encoder")
        table.add_column("rows", justify="right")
        for encoder, rows in emb["rows_by_encoder"].items():
            table.add_row(encoder, f"{rows:,}")
        out.print(table)
    onnx = summary["onnx"]
    out.print(f"onnx exports: {_mb(onnx['bytes'])} in {len(onnx['files'])} file(s)")
    for f in onnx["files"]:
        out.print(f"  {f['name']}  {_mb(f['bytes'])}")


@cache_app.command()
def clear(
    only: Annotated[
        Part, typer.Option("--only", help="Clear one cache instead of both.")
    ] = Part.ALL,
    json_: JsonOpt = False,
) -> None:
    """Delete the embedding cache and/or the ONNX exports (they are rebuilt on use)."""
    from dispatch.cli.render import out  # noqa: PLC0415

    try:
        root = _root()
    except ConfigError as exc:
        _fail(exc, json_=json_)
    targets: list[Path] = []
    if only in (Part.ALL, Part.EMBEDDINGS):
        emb = root / _EMBEDDINGS
        targets += [emb, *(emb.with_name(emb.name + s) for s in _SIDE_FILES)]
    if only in (Part.ALL, Part.ONNX) and (root / "onnx").is_dir():
        targets += [p for p in (root / "onnx").iterdir() if p.is_file()]
    freed = 0
    removed: list[str] = []
    try:
        for path in targets:
            if path.is_file():
                size = path.stat().st_size
                path.unlink()
                freed += size
                removed.append(str(path))
    except OSError as exc:
        _fail(_os_error("cannot delete it", exc), json_=json_)
    if json_:
        print(json.dumps({"removed": removed, "freed_bytes": freed}))
        return
    out.print(f"removed {len(removed)} file(s), {_mb(freed)} freed from {root}")
