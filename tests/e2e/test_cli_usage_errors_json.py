"""A usage error click reports itself (a flag value it cannot convert, a choice
not offered, a missing argument, an unknown option) still gives ``--json``
its error object on stdout, with exit 2 and click's usage text on stderr.

Before, ``dispatch train ... --target-quality abc --json`` (and the same for
``--only bogus``, ``--router foo``, ``--budget abc``) exited 2 with an empty
stdout: a script parsing it read nothing.
"""

from __future__ import annotations

import json

import pytest
from _cli import cli


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["train", "t.jsonl", "--models", "m.json", "-o", "r.npz",
             "--target-quality", "abc"],
            "'--target-quality'",
        ),
        (["eval", "outcomes", "--train", "t.jsonl", "--models", "m.json"], "DATA"),
        (["cache", "clear", "--only", "bogus"], "'--only'"),
        (["route", "hello", "--router", "foo"], "'--router'"),
        (["demo", "--budget", "abc"], "'--budget'"),
        (["models", "--no-such-flag"], "--no-such-flag"),
    ],
)  # fmt: skip
def test_a_usage_error_under_json_prints_the_error_object(
    args: list[str], needle: str
) -> None:
    code, out, err = cli(*args, "--json")
    assert code == 2, err
    report = json.loads(out)
    assert (report["status"], report["exit_code"]) == ("error", 2)
    assert needle in report["reason"], report
    assert "\n" not in report["reason"]
    assert "Usage:" in err  # click's own text stays on stderr


def test_a_usage_error_without_json_leaves_stdout_empty() -> None:
    code, out, err = cli("cache", "clear", "--only", "bogus")
    assert (code, out) == (2, "")
    assert "'--only'" in err
