"""common.threads: the thread limit of a run, read from the environment, applied by threadpoolctl.

Checked against threadpoolctl's own report of the pools (threadpool_info), and through
run_tracked on a real SQLite store: the limit holds inside the pipeline, a bad value fails
the run with one line naming the variable.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from omegaconf import OmegaConf
from threadpoolctl import threadpool_info, threadpool_limits

from common.config import BaseConfig, TrackingConfig
from common.threads import THREADS_ENV, limited_threads, thread_limit
from common.tracking import EXIT_FAILED, THREADS_TAG, run_tracked

np.linalg.svd(np.eye(2))  # OpenBLAS is loaded before any pool is looked at


def blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_limit_is_the_variable_when_set():
    assert thread_limit({THREADS_ENV: "3"}) == 3
    assert thread_limit({THREADS_ENV: " 1 "}) == 1


def test_limit_defaults_to_the_physical_cores_when_unset_or_empty():
    cores = thread_limit({})
    assert 1 <= cores <= os.cpu_count()
    assert thread_limit({THREADS_ENV: ""}) == cores


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_bad_values_name_the_variable_and_the_value(value):
    with pytest.raises(ValueError, match=f"{THREADS_ENV} must be a positive integer.*{value!r}"):
        thread_limit({THREADS_ENV: value})


def test_limited_threads_lowers_every_blas_pool_and_restores_it():
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        with limited_threads(1) as threads:
            assert threads == 1
            assert blas_threads() == [1] * len(before)
        assert blas_threads() == before


def test_limited_threads_never_raises_a_lower_limit():
    with threadpool_limits(limits=1, user_api="blas"), limited_threads(2) as threads:
        assert set(blas_threads()) == {1}
        assert threads == max(pool["num_threads"] for pool in threadpool_info())


def make_cfg(uri: str):
    return OmegaConf.structured(BaseConfig(tracking=TrackingConfig(uri=uri)))


def test_the_pipeline_runs_under_the_limit_and_the_run_records_it(
    tracking_uri, runs_of, monkeypatch
):
    monkeypatch.setenv(THREADS_ENV, "1")
    seen = []
    with threadpool_limits(limits=2, user_api="blas"):
        run_tracked(make_cfg(tracking_uri), "demo", lambda cfg: seen.extend(blas_threads()) or 0.0)
    assert set(seen) == {1}
    [run] = runs_of("demo")
    assert run.data.tags[THREADS_TAG] == "1"


def test_a_bad_variable_fails_the_run_before_the_pipeline(tracking_uri, runs_of, monkeypatch):
    monkeypatch.setenv(THREADS_ENV, "many")
    called = []
    with pytest.raises(SystemExit) as exited:
        run_tracked(make_cfg(tracking_uri), "demo", lambda cfg: called.append(1) or 0.0)
    assert exited.value.code == EXIT_FAILED
    assert called == []
    [run] = runs_of("demo")
    assert run.info.status == "FAILED"
    assert run.data.tags["error"].startswith(f"ValueError: {THREADS_ENV} must be a positive")


def test_torch_intra_op_threads_are_lowered_in_the_block_and_restored():
    import torch

    torch.set_num_threads(2)  # the test session runs torch on 1 thread (tests/conftest.py)
    with limited_threads(1) as threads:
        assert torch.get_num_threads() == 1
        assert threads == 1
    assert torch.get_num_threads() == 2


def test_a_context_thread_pool_runs_each_call_in_the_submitters_context():
    import contextvars

    from common.threads import ContextThreadPool

    setting = contextvars.ContextVar("setting", default="default")
    token = setting.set("the run's")
    try:
        with ContextThreadPool(max_workers=2) as pool:
            seen = [pool.submit(setting.get).result(), *pool.map(lambda _: setting.get(), [0, 1])]
    finally:
        setting.reset(token)
    assert seen == ["the run's"] * 3
    with ContextThreadPool(max_workers=1) as pool:  # set after the worker started: still seen
        pool.submit(setting.get).result()
        token = setting.set("later")
        assert pool.submit(setting.get).result() == "later"
        setting.reset(token)
