"""`dispatch cache info` / `clear` with ``$DISPATCH_CACHE_DIR`` naming a file:
exit 2 with one error naming the variable and the file, as `dispatch train`
and `dispatch eval` say for the same setting.

`info` used to report that path as an empty, healthy cache (no file yet) and
`clear` to remove nothing and exit 0, though no cache can ever live there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _cli import assert_one_error_line, cli, flat


@pytest.fixture
def a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("not a folder")
    monkeypatch.setenv("DISPATCH_CACHE_DIR", str(path))
    monkeypatch.delenv("DISPATCH_EMBEDDING_CACHE_MB", raising=False)
    return path


@pytest.mark.parametrize("command", [["info"], ["clear"], ["clear", "--only", "onnx"]])
def test_a_cache_dir_that_is_a_file_is_refused_naming_it(
    a_file: Path, command: list[str]
) -> None:
    code, out, err = cli("cache", *command)
    assert out == ""
    assert_one_error_line(code, flat(err), "$DISPATCH_CACHE_DIR", str(a_file))
    code, out, err = cli("cache", *command, "--json")
    report = json.loads(out)
    assert (code, report["status"]) == (2, "error")
    assert "$DISPATCH_CACHE_DIR" in report["reason"] and str(a_file) in report["reason"]
    assert a_file.read_text() == "not a folder"
