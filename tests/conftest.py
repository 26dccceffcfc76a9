"""Fixtures shared by every test: a temporary MLflow store, and reading runs back from it.

``make test`` runs the fast set on every core (pytest-xdist, ``-n auto``). The two hooks
below make its load scheduling keep the tests that share a module-scoped fixture (one CLI
run read by several tests) on one worker, and start the heaviest modules first.
"""

from __future__ import annotations

import ast
import functools
import os
import shutil
import sys
from pathlib import Path

import pytest

# The modules that take longest (whole pipelines, graders, servers), heaviest first: started
# first, so that no long test starts last and ends the run alone on one core.
HEAVY_FIRST = (
    "tests/week2/test_exercises.py",
    "tests/week1/test_exercises.py",
    "tests/week3/test_exercises.py",
    "tests/week4/test_exercises.py",
    "tests/common/test_sweep.py",
    "tests/common/test_reproduce.py",
    "tests/common/test_server.py",
    "tests/week2/test_pipeline.py",
    "tests/week3/test_pipeline.py",
    "tests/week4/test_pipeline.py",
    "tests/week1/test_pipeline.py",
    "tests/week2/test_serving.py",
)


def pytest_collection_modifyitems(config, items):
    """On an xdist worker, the heavy modules first (each module's tests stay in order)."""
    if "PYTEST_XDIST_WORKER" in os.environ:
        rank = {path: i for i, path in enumerate(HEAVY_FIRST)}
        items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


def fixture_scope(function: ast.FunctionDef) -> str | None:
    """``"module"`` for ``@pytest.fixture(scope="module")``; None if not a fixture."""
    for decorator in function.decorator_list:
        call = decorator.func if isinstance(decorator, ast.Call) else decorator
        if getattr(call, "attr", getattr(call, "id", None)) == "fixture":
            words = {
                k.arg: getattr(k.value, "value", None) for k in getattr(decorator, "keywords", [])
            }
            return "autouse" if words.get("autouse") else words.get("scope", "function")
    return None


@functools.cache
def shared_fixture_users(module: Path) -> frozenset[str]:
    """The tests of ``module`` that request, directly or through its other fixtures, a
    module-scoped fixture it defines (autouse ones aside): they run on one worker."""
    functions = [n for n in ast.parse(module.read_text()).body if isinstance(n, ast.FunctionDef)]
    arguments = {f.name: {a.arg for a in f.args.args} for f in functions}
    fixtures = {f.name: fixture_scope(f) for f in functions if fixture_scope(f)}
    shared = {name for name, scope in fixtures.items() if scope == "module"}
    while grown := {name for name in fixtures if arguments[name] & shared} - shared:
        shared |= grown  # a fixture built on a shared one is shared too
    tests = [f.name for f in functions if f.name.startswith("test") and f.name not in fixtures]
    return frozenset(name for name in tests if arguments[name] & shared)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``-n``: load scheduling in the collection order, a test at a time, except that the
    tests sharing a module-scoped fixture go to one worker (built once, not once per worker).
    (``--dist loadgroup`` would do this, but xdist 3.8 loses its groups on pytest 9.)"""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixturesStayTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module, _, test = nodeid.partition("::")
            shared = shared_fixture_users(config.rootpath / module)
            return module if test.split("[")[0] in shared else nodeid

    config.option.loadscopereorder = False  # the collection order is the schedule
    return SharedFixturesStayTogether(config, log)


@pytest.fixture(autouse=True, scope="session")
def one_blas_thread():
    """Tests use small matrices: BLAS threads only add contention (x15 slower on 2 busy cores)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tests use tiny tensors: a second intra-op thread spins against the other worker. A
    week-3 gradient step took 9 ms with 2 threads and 0.15 ms with 1 on 2 busy cores. Set
    before each test (torch may be imported by an earlier test or module), so a test that
    sets its own count leaves it to itself."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def learner_files_stay_untouched(tmp_path_factory):
    """No test reads or writes the repository's ``mine/``: a learner's work is theirs."""
    from common.exercises import MINE_ENV

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(MINE_ENV, str(tmp_path_factory.mktemp("no_learner") / "mine"))
        yield


@pytest.fixture(autouse=True, scope="session")
def repository_tree_stays_clean():
    """No test writes MLflow artifacts into the repository (``./mlruns``: the artifact root
    of a store's Default experiment is the folder it was created in)."""
    leak = Path(__file__).resolve().parents[1] / "mlruns"
    existed = leak.exists()
    yield
    assert existed or not leak.exists(), f"a test wrote {leak}: log to a tmp_path experiment"


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
    """An MLflow SQLite database with its schema created once (migrations take seconds), for
    tests to copy: under xdist, once for all the workers of the run."""
    import fcntl

    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        root = root.parent  # the run's folder, the parent of each worker's
    database = root / "empty_store" / "mlflow.db"
    database.parent.mkdir(exist_ok=True)
    with open(root / "empty_store.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one worker creates it, the others wait for it
        if not database.exists():
            building = database.with_name("building.db")
            MlflowClient(f"sqlite:///{building}").search_experiments()
            building.rename(database)  # complete, or absent
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
