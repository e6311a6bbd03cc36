from __future__ import annotations

import multiprocessing
import os
import tempfile
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# One BLAS/OpenMP thread per process, set before anything imports numpy, scipy,
# scikit-learn or torch (they read it once, at load; nothing above imports
# them). The suite runs one xdist worker per core on two cores: a second BLAS
# thread per worker only contends, and OpenBLAS's idle threads busy-wait after
# each call: with the library defaults the suite took 235 CPU-seconds instead
# of 186 on this machine under load (spinning threads compete hardest there).
# Subprocesses inherit the setting; a value already in the environment wins.
for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

from _postgres import postgres_url  # noqa: E402, F401  (a real Postgres, session-wide)

if TYPE_CHECKING:
    from multiprocessing.context import ForkServerContext

    from xdist.remote import Producer
    from xdist.scheduler.protocol import Scheduling

    from dispatch import Registry
    from dispatch.routing._st import SentenceTransformerEncoder

PROVIDER_KEYS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "OLLAMA_HOST",
)
"""Environment variables that would switch the CLI to real models; removed in e2e tests."""


def pytest_configure(config: pytest.Config) -> None:
    """No test may build a real provider model (no network, no key).

    Set before collection in every process that collects and runs tests. The
    xdist controller runs none and skips the engine's import, which would
    only delay starting the workers.
    """
    controller = (
        getattr(config.option, "dist", "no") != "no"
        and not hasattr(config, "workerinput")
        and not config.option.collectonly
    )
    if not controller:
        import dispatch._chat_models

        dispatch._chat_models.ALLOW_PROVIDER_MODELS = False


SMALL_REGISTRY = textwrap.dedent(
    """
    version: 1
    capabilities: [coding, search, analysis, general]
    tiers:
      - {name: small, min_quality: 0.5}
      - {name: medium, min_quality: 0.7}
      - {name: large, min_quality: 0.85}
    prices: {source: none}
    defaults: {baseline_model: big:model}
    models:
      - id: tiny:model
        tier: small
        price: {input_per_mtok: 0.1, output_per_mtok: 0.4}
        context_window: 8000
        max_output_tokens: 2000
        latency_ms: 100
        capabilities: {general: 0.6, search: 0.6, analysis: 0.55, coding: 0.5}
      - id: mid:model
        tier: medium
        price: {input_per_mtok: 1, output_per_mtok: 4}
        context_window: 100000
        max_output_tokens: 8000
        latency_ms: 300
        capabilities: {general: 0.8, search: 0.75, analysis: 0.75, coding: 0.78}
      - id: big:model
        tier: large
        price: {input_per_mtok: 5, output_per_mtok: 25}
        context_window: 200000
        max_output_tokens: 32000
        latency_ms: 900
        capabilities: {general: 0.9, search: 0.88, analysis: 0.9, coding: 0.93}
    """
)


LOCAL_MODEL = """\
  - id: ollama:local-coder
    tier: small
    location: local
    price: {input_per_mtok: 0.2, output_per_mtok: 0.8}
    context_window: 32000
    max_output_tokens: 4000
    latency_ms: 500
    capabilities: {coding: 0.6, analysis: 0.55, general: 0.4}
"""
"""A model entry to append to SMALL_REGISTRY: local, dearer per token than
tiny:model (hardware is not free), serving coding and analysis at the small tier."""


def registry_from_text(text: str) -> Registry:
    from dispatch import Registry

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "registry.yaml"
        path.write_text(text)
        return Registry.from_config(path)


@pytest.fixture
def registry_file(tmp_path: Path) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(SMALL_REGISTRY)
    return path


@pytest.fixture
def registry(registry_file: Path) -> Registry:
    from dispatch import Registry

    return Registry.from_config(registry_file)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A CLI run's state in `tmp_path`: the checkpoint store (in a directory
    the CLI has to create, so its mode is the CLI's doing) and the cache, with
    no provider key or telemetry exporter from the environment. Returns the
    checkpoint file's path."""
    for key in (*PROVIDER_KEYS, "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(key, raising=False)
    path = tmp_path / "state" / "checkpoints.sqlite"
    monkeypatch.setenv("DISPATCH_CHECKPOINTS", str(path))
    monkeypatch.setenv("DISPATCH_CACHE_DIR", str(tmp_path / "cache"))
    return path


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- the real MiniLM, paid for once ---------------------------------------------------


@pytest.fixture(scope="session")
def minilm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `DISPATCH_CACHE_DIR` holding the installed MiniLM exported to ONNX.

    The export (torch.onnx, ~10 CPU-seconds) happens once per test run: the
    directory sits next to the xdist workers' own temp roots and a file lock
    lets the first worker export while the others wait for its file (with the
    default scheduling its users all run on one worker: see `SAME_WORKER`).
    """
    from filelock import FileLock

    from dispatch.routing._onnx import export_onnx, onnx_available
    from dispatch.routing._st import default_model_path

    if not onnx_available():
        pytest.skip("onnxruntime not installed")
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by every worker of this run
    cache = root / "minilm-cache"
    with FileLock(str(root / "minilm-cache.lock")):
        onnx_file = export_onnx(default_model_path(), cache / "onnx")
    assert onnx_file.is_file() and onnx_file.parent == cache / "onnx"
    return cache


@pytest.fixture(scope="session")
def minilm_torch() -> SentenceTransformerEncoder:
    """The sentence-transformers (torch) MiniLM, loaded once for the session."""
    from dispatch.routing._st import SentenceTransformerEncoder

    return SentenceTransformerEncoder()


# -- worker processes, paid for once --------------------------------------------------


@pytest.fixture(scope="session")
def worker_processes() -> ForkServerContext:
    """A multiprocessing context whose processes fork from one server.

    The server imports the worker modules (and so the engine, LangGraph and
    psycopg) once; each process it forks is still its own process with its own
    memory, connections and pid, but starts in milliseconds instead of paying
    ~2 CPU-seconds of imports as a "spawn" child does. Like "spawn", it never
    forks this (threaded) test process itself.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["_pg_workers", "_scope_workers"])
    return context


# -- scheduling: files that share a costly fixture run on one worker ------------------

SAME_WORKER = {
    "minilm": (
        "tests/e2e/test_cli.py",
        "tests/e2e/test_learn_bad_inputs.py",
        "tests/e2e/test_learn_cli.py",
        "tests/integration/test_onnx_encoder.py",
        "tests/integration/test_semantic_real_embeddings.py",
    ),
}
"""Test files that xdist hands to one worker as one unit of work: the users of
`minilm_cache` and `minilm_torch`. The ONNX export and the torch encoder both
import torch and transformers (~3 CPU-seconds per process), and a worker that
needs the export while another one runs it only waits for its lock.
``tests/unit/test_suite_setup.py`` checks the list against the fixtures' users."""


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(
    config: pytest.Config, log: Producer
) -> Scheduling | None:
    """``--dist loadfile`` (the default here), the files of `SAME_WORKER` as one unit."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    unit_of = {file: name for name, files in SAME_WORKER.items() for file in files}

    class SameWorkerScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = super()._split_scope(nodeid)
            return unit_of.get(file, file)

    return SameWorkerScheduling(config, log)
