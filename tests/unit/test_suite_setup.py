"""What `tests/conftest.py` promises every test: no real provider model can be
built, and numeric libraries run on the thread count the suite set before they
loaded (one per worker process unless the environment says otherwise)."""

from __future__ import annotations

import os

import numpy as np
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
