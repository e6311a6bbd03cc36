"""What `tests/conftest.py` promises every test: no real provider model can be
built, numeric libraries run on the thread count the suite set before they
loaded (one per worker process unless the environment says otherwise), and the
files that share the MiniLM fixtures are scheduled on one worker."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from conftest import SAME_WORKER
from threadpoolctl import threadpool_info

import dispatch._chat_models


def test_no_test_can_build_a_provider_model() -> None:
    assert dispatch._chat_models.ALLOW_PROVIDER_MODELS is False


def test_blas_runs_on_the_thread_count_the_suite_set_before_numpy_loaded() -> None:
    np.ones((2, 2)) @ np.ones((2, 2))  # numpy's BLAS is loaded
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas, threadpool_info()
    wanted = int(os.environ["OPENBLAS_NUM_THREADS"])
    assert {pool["num_threads"] for pool in blas} == {wanted}, blas


def test_the_minilm_fixtures_users_are_scheduled_together() -> None:
    tests = Path(__file__).parents[1]
    users = {
        path.relative_to(tests.parent).as_posix()
        for path in tests.rglob("test_*.py")
        if re.search(r"\bminilm_(cache|torch)\b", path.read_text())
    }
    assert users == set(SAME_WORKER["minilm"])
