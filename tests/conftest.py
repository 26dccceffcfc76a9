"""Fixtures shared by every test: a temporary MLflow store, and reading runs back from it."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(autouse=True, scope="session")
def one_blas_thread():
    """Tests use small matrices: BLAS threads only add contention (x15 slower on 2 busy cores)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(autouse=True, scope="session")
def learner_files_stay_untouched(tmp_path_factory):
    """No test reads or writes the repository's ``mine/``: a learner's work is theirs."""
    from common.exercises import MINE_ENV

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(MINE_ENV, str(tmp_path_factory.mktemp("no_learner") / "mine"))
        yield


@pytest.fixture
def subplots():
    """Plot tests: ``subplots(nrows, ncols)`` like ``plt.subplots``; no figure may stay open."""
    import matplotlib.pyplot as plt

    opened = []

    def make(*args, **kwargs):
        fig, axes = plt.subplots(*args, **kwargs)
        opened.append(fig)
        return axes

    yield make
    assert len(plt.get_fignums()) == len(opened), "a plot function opened a figure of its own"
    for fig in opened:
        plt.close(fig)
    assert plt.get_fignums() == []


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory):
    """An MLflow SQLite database with its schema created once (migrations take seconds)."""
    from mlflow.tracking import MlflowClient

    database = tmp_path_factory.mktemp("store") / "mlflow.db"
    MlflowClient(f"sqlite:///{database}").search_experiments()
    return database


@pytest.fixture
def tracking_uri(tmp_path, empty_store):
    """A fresh SQLite store of this test's own, in a temporary folder (artifacts beside it)."""
    database = tmp_path / "mlflow.db"
    shutil.copyfile(empty_store, database)
    return f"sqlite:///{database}"


@pytest.fixture
def runs_of(tracking_uri):
    """``runs_of("week1")``: the runs of an experiment in the test store, newest first."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)

    def runs(experiment: str):
        found = client.get_experiment_by_name(experiment)
        assert found is not None, f"no experiment {experiment!r} in {tracking_uri}"
        return client.search_runs([found.experiment_id], order_by=["attributes.start_time DESC"])

    runs.client = client
    return runs


@pytest.fixture
def mine(tmp_path, monkeypatch):
    """A learner's empty workspace (``MATH4ML_MINE_DIR``), outside the repository's ``mine/``."""
    from common.exercises import MINE_ENV

    folder = tmp_path / "mine"
    monkeypatch.setenv(MINE_ENV, str(folder))
    return folder
