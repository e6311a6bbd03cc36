"""Flags, files and stdin turned into values, or one clear error naming the input."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from dispatch import ConfigError
from dispatch.cli.inputs import check_budget, check_thread, read_plan_file, read_request


def test_a_request_from_stdin_has_no_size_limit_and_is_decoded_once() -> None:
    big = b"a" * 200_000 + b" caf\xe9"
    text = read_request("-", None, stdin=io.BytesIO(big))
    assert len(text) == 200_005 and text.endswith("caf\ufffd")


def test_a_request_argument_keeps_the_bytes_typed() -> None:
    # argv is decoded with surrogateescape: b"caf\xc3\xa9" is valid UTF-8, b"\xff" is not
    assert read_request("caf\udcc3\udca9 \udcff", None) == "caf\u00e9 \ufffd"


def test_a_request_file(tmp_path: Path) -> None:
    path = tmp_path / "r.txt"
    path.write_bytes(b"  Explain caching.\n")
    assert read_request(None, path) == "Explain caching."
    with pytest.raises(ConfigError, match="cannot read the request"):
        read_request(None, tmp_path / "absent.txt")


@pytest.mark.parametrize(
    ("request_arg", "file", "match"),
    [
        (None, None, "no request"),
        ("also", Path("r.txt"), "give the request once"),
        ("   ", None, "the request is empty"),
    ],
)
def test_request_errors(request_arg: str | None, file: Path | None, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        read_request(request_arg, file)


def test_budget_must_be_finite_and_not_negative() -> None:
    assert check_budget(None) is None and check_budget(0.0) == 0.0
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="--budget") as info:
            check_budget(bad)
        assert "configurable" not in str(info.value)


def test_thread_ids_must_be_utf8_and_not_blank() -> None:
    assert check_thread("conv-1") == "conv-1" and check_thread(None) is None
    with pytest.raises(ConfigError, match=r"--thread.*not valid UTF-8"):
        check_thread("conv-\udcff")
    with pytest.raises(ConfigError, match="empty thread id"):
        check_thread("  ")


def test_plan_files_that_cannot_be_decoded_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(b"[\xff]")
    with pytest.raises(ConfigError, match="not UTF-8") as info:
        read_plan_file(path)
    assert str(path) in str(info.value)
    path.write_text("[{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_plan_file(path)
