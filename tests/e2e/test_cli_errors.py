"""Bad input and failed runs, as a user meets them: one `error:` line or a truthful
exit code, never a traceback. In-process through typer's runner (fast); the cases
that depend on the OS run as their own processes: argv bytes in a cold
`python -m dispatch` (the interpreter decodes them at start-up), a request over
the argv limit through an OS pipe or a file in forks of the pre-imported CLI
(``tests/_warm_cli.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _cli import cli
from _warm_cli import shared
from conftest import PROVIDER_KEYS


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in (*PROVIDER_KEYS, "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(key, raising=False)
    path = tmp_path / "checkpoints.sqlite"
    monkeypatch.setenv("DISPATCH_CHECKPOINTS", str(path))
    return path


def assert_clean_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert err.startswith("error:"), err
    assert "Traceback" not in err
    flat = " ".join(err.split())
    for needle in needles:
        assert needle in flat, (needle, flat)


def test_every_model_call_failing_is_exit_1_in_both_modes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Live mode on a key whose provider models cannot be built (tests disable them):
    # every hop fails over through every model and fails.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    code, out, err = cli("run", "Summarise our SLO.", "--mode", "live", "--json")
    assert code == 1, err
    data = json.loads(out)
    assert (data["status"], data["exit_code"]) == ("failed", 1)
    assert "0 of 1 task(s) succeeded" in data["reason"]
    assert all(h["error"] for h in data["hops"])
    code, out, err = cli("run", "Summarise our SLO.", "--mode", "live")
    assert code == 1
    assert "failed (exit 1)" in err


def test_budget_flag_errors_name_the_flag() -> None:
    for value in ("-1", "nan", "inf"):
        code, _, err = cli("run", "Hi.", "--budget", value)
        assert_clean_error(code, err, "--budget", "expected a number of USD >= 0")
        assert "configurable" not in err
    code, _, err = cli("run", "Hi.", "--budget-mode", "hardest")
    assert code == 2 and "hardest" in err


def test_error_text_is_printed_verbatim_not_as_markup(tmp_path: Path) -> None:
    code, _, err = cli("models", "--config", str(tmp_path / "reg[bold].yaml"))
    assert_clean_error(code, err, "reg[bold].yaml")


def test_json_mode_prints_the_error_as_json_too(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text('[{"prompt": "no id"}]')
    code, out, err = cli("run", "Do it.", "--plan", str(plan), "--json")
    assert_clean_error(code, err, "tasks[0].id")
    data = json.loads(out)
    assert (data["status"], data["exit_code"]) == ("error", 2)
    assert "tasks[0].id" in data["reason"]
    code, out, _ = cli("demo", "--mode", "live", "--json")
    assert code == 2 and json.loads(out)["status"] == "error"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("estimate", "missing-plan.json"), "missing-plan.json"),
        (("pins", "t-1"), "no runs yet"),
        (("report", "t-1"), "no runs yet"),
    ],
)
def test_every_command_with_json_prints_its_error_as_json(
    args: tuple[str, ...], needle: str
) -> None:
    code, out, err = cli(*args, "--json")
    assert_clean_error(code, err, needle)
    data = json.loads(out)
    assert (data["status"], data["exit_code"]) == ("error", 2)
    assert needle in data["reason"]


def test_a_non_utf8_config_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("# caf\xe9\nversion: 1\n".encode("latin-1"))
    code, _, err = cli("models", "--config", str(bad))
    assert_clean_error(code, err, str(bad), "not UTF-8")


@pytest.mark.parametrize(
    ("plan", "needles"),
    [
        (b'[{"id": "a", "prompt": "caf\xe9"}]', ["not UTF-8"]),
        (b'[{"prompt": "no id"}]', ["tasks[0].id", "required"]),
        (
            b'[{"id": "a", "prompt": "x"}, {"id": "b", "prompt": "y",'
            b' "max_output_tokens": "lots"}]',
            ["tasks[1].max_output_tokens", "'lots'", "valid integer"],
        ),
        (
            b'[{"id": "a", "prompt": "x", "max_output_tokens": -5}]',
            ["tasks[0].max_output_tokens", "-5", "greater than 0"],
        ),
        (
            b'[{"id": "a", "prompt": "x", "tier": "huge"}]',
            ["tasks[0].tier", "'huge'", "small, medium, large"],
        ),
        (b'{"id": "a"}', ["a JSON list of tasks"]),
        (b"[{", ["not valid JSON"]),
    ],
)
def test_a_bad_plan_is_an_error_naming_file_task_and_field(
    tmp_path: Path, plan: bytes, needles: list[str]
) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(plan)
    code, _, err = cli("run", "Do it.", "--plan", str(path))
    assert_clean_error(code, err, *needles)
    code, _, err = cli("estimate", str(path))
    assert_clean_error(code, err, *needles)


def test_a_thread_id_that_is_not_utf8_is_an_error() -> None:
    code, _, err = cli("demo", "--thread", "conv-\udcff")
    assert_clean_error(code, err, "--thread", "not valid UTF-8")
    code, _, err = cli("pins", "conv-\udcff")
    assert_clean_error(code, err, "--thread", "not valid UTF-8")


def test_reading_commands_never_create_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPATCH_CHECKPOINTS")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    for args in (("pins", "t1"), ("report",), ("report", "t1")):
        code, _, err = cli(*args)
        assert_clean_error(code, err, "no runs yet")
    assert not (tmp_path / "state").exists()


def test_report_and_pins_read_a_store_without_writing_to_it(clean_env: Path) -> None:
    code, _, err = cli("run", "Explain caching.", "--thread", "ro-1", "--json")
    assert code == 0, err
    before = (clean_env.stat().st_size, clean_env.stat().st_mtime_ns)
    code, out, err = cli("report", "ro-1", "--json")
    assert code == 0, err
    assert json.loads(out)["hops"] >= 1
    assert cli("pins", "ro-1")[0] == 0
    # (SQLite may add its -shm/-wal companions to read a WAL database.)
    assert (clean_env.stat().st_size, clean_env.stat().st_mtime_ns) == before


def test_no_budget_is_not_shown_with_a_mode() -> None:
    code, out, err = cli("run", "Explain caching.")
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("budget"))
    assert "none set" in line and "mode" not in line


def test_help_lists_exit_codes_and_shows_no_bool_metavar() -> None:
    for args in ((), ("demo",), ("run",), ("route",)):
        code, out, _ = cli(*args, "--help")
        assert code == 0
        assert "<bool>" not in out
    assert "Exit codes: 0 ok; 1 failed" in " ".join(cli("--help")[1].split())


def test_route_semantic_without_the_extra_names_the_install_command() -> None:
    import importlib.util

    if importlib.util.find_spec("sentence_transformers") is not None:
        pytest.skip("sentence-transformers is installed here")
    code, _, err = cli("route", "x", "--router", "semantic")
    assert_clean_error(code, err, "graph-dispatch[semantic]")


def test_the_langgraph_dev_folder_is_ignored_by_git() -> None:
    gitignore = Path(__file__).parents[2] / ".gitignore"
    assert ".langgraph_api/" in gitignore.read_text().splitlines()


# -- own processes: argv bytes, stdin, requests over the argv limit ------------------


def dispatch(*args: str | bytes) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS}
    return subprocess.run(
        [sys.executable, "-m", "dispatch", *args],
        capture_output=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_non_utf8_bytes_in_a_request_are_cleaned_once_at_the_boundary() -> None:
    proc = dispatch("run", b"Explain caching for caf\xe9 orders.", "--json")
    assert proc.returncode == 0, proc.stderr.decode()
    out = json.loads(proc.stdout)
    assert "caf\ufffd orders" in out["answer"]
    assert "\\udc" not in proc.stdout.decode("ascii", "replace")


def test_a_200_kb_request_from_stdin_or_a_file(tmp_path: Path) -> None:
    # one long sentence (one task) well over the 128 KiB limit of one argv string
    request = ("grep the logs for slow checkout calls " * 5300).encode()
    assert len(request) > 200_000
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS}
    # stdin is an OS pipe (its 64 KiB buffer fills and drains as the CLI reads)
    proc = shared().run("run", "-", "--json", input=request, env=env)
    assert proc.returncode == 0, proc.stderr
    hops = json.loads(proc.stdout)["hops"]
    assert hops[0]["input_tokens"] > 40_000  # the whole request reached the model
    path = tmp_path / "request.txt"
    path.write_bytes(request)
    warm = shared().run("run", "--request-file", str(path), "--json", env=env)
    assert warm.returncode == 0, warm.stderr
    assert json.loads(warm.stdout)["hops"][0]["input_tokens"] > 40_000
    both = shared().run("run", "also this", "--request-file", str(path), env=env)
    assert both.returncode == 2 and "give the request once" in both.stderr
