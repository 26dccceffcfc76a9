"""Week 1's exercises as a learner meets them: stubs, `make check`, and `impl=mine`.

Every learner folder is temporary (``MATH4ML_MINE_DIR``); the repository's ``mine/`` is
never touched. The grader runs as a learner runs it, in a subprocess.
"""

from __future__ import annotations

import sys
import threading

import pytest

from common import exercises
from common.tracking import EXIT_FAILED, run_tracked
from projects.week1_pca import config, pipeline  # noqa: F401  (config registers the schema)
from tests.exercise_support import (
    assert_every_exercise_grades,
    assert_every_other_exercise_passes,
    copy_reference,
    grade_everything_with_mistakes,
    replace_function,
)
from tests.week1.test_pipeline import SMALL, crop  # noqa: F401  (crop: a fixture)
from tests.weeks import compose_config, run_in_own_store

WEEK1, WEEK1_TESTS = "projects.week1_pca", "tests/week1"
# Mistakes a learner makes: the covariance divided by n, not n - 1; the LU without its row
# swaps; the cross product with one component's sign flipped.
BY_N = "def covariance_matrix(X, mean):\n    return (X - mean).T @ (X - mean) / len(X)\n"
NO_PIVOTING = """def lu_decompose(A):
    A = np.asarray(A, dtype=np.float64)
    n = len(A)
    L, U = np.eye(n), A.copy()
    for k in range(n - 1):
        L[k + 1 :, k] = U[k + 1 :, k] / U[k, k]
        U[k + 1 :] -= np.outer(L[k + 1 :, k], U[k])
    return np.eye(n), L, U
"""
SIGN_ERROR = """def cross(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.array([a[1] * b[2] - a[2] * b[1], a[0] * b[2] - a[2] * b[0],
                     a[0] * b[1] - a[1] * b[0]])
"""
RAISES = "def centre(X):\n    raise ValueError('not today')\n"
MISTAKES = {
    "pca.covariance_matrix": BY_N,
    "lu.lu_decompose": NO_PIVOTING,
    "linear_maps.cross": SIGN_ERROR,
}


def test_fresh_stubs_grade_as_all_todo_and_exit_zero(mine):
    assert_every_exercise_grades(WEEK1, WEEK1_TESTS, mine, "todo")


@pytest.mark.slow  # the fast set grades the same copy with MISTAKES swapped in (below)
def test_the_reference_copied_into_mine_passes_every_exercise(mine):
    assert_every_exercise_grades(WEEK1, WEEK1_TESTS, mine, "passes")


@pytest.fixture(scope="module")
def graded_with_mistakes(tmp_path_factory):
    """One `make check` of every week-1 exercise: the reference copied, MISTAKES swapped in."""
    mine = tmp_path_factory.mktemp("learner") / "mine"
    return grade_everything_with_mistakes(WEEK1, WEEK1_TESTS, mine, MISTAKES)


def test_the_reference_copied_into_mine_passes_every_exercise_without_a_mistake(
    graded_with_mistakes,
):
    _, statuses, output = graded_with_mistakes
    assert_every_other_exercise_passes(WEEK1, MISTAKES, statuses, output)


def test_wrong_formulas_fail_each_alone_naming_the_check(graded_with_mistakes):
    status, statuses, output = graded_with_mistakes
    assert status == 1, output
    expected = {  # the graded ids of the mistakes (every other exercise: the test above)
        "pca.covariance_matrix": "fails",
        "lu.lu_decompose": "fails",
        "lu.forward_substitution": "passes",  # the other W1.X2 functions are right
        "lu.back_substitution": "passes",
        "linear_maps.cross": "fails",
    }
    assert {key: statuses.get(key) for key in expected} == expected, output
    for test in (
        "test_covariance_matrix_matches_numpy_cov",
        "test_lu_matches_scipy_and_reconstructs_A",
        "test_cross_matches_numpy_and_is_orthogonal_to_both_factors",
    ):
        assert test in output, output


@pytest.mark.slow  # two CLI runs of the capstone (about a minute each on a loaded machine)
def test_impl_mine_with_the_reference_copied_logs_the_reference_run_exactly(
    tmp_path,
    empty_store,
    monkeypatch,
    crop,  # noqa: F811
):
    overrides = [f"images=[{crop}]", *SMALL]
    folder = tmp_path / "reference"
    folder.mkdir()
    _, reference, _ = run_in_own_store("week1_pca", "week1", overrides, folder, empty_store)
    copy_reference(WEEK1, tmp_path / "mine")
    monkeypatch.setenv(exercises.MINE_ENV, str(tmp_path / "mine"))  # the CLI inherits it
    folder = tmp_path / "mine_run"
    folder.mkdir()
    _, ours, _ = run_in_own_store(
        "week1_pca", "week1", [*overrides, "impl=mine"], folder, empty_store
    )
    assert ours.info.status == "FINISHED"
    assert ours.data.tags["impl"] == "mine"
    assert "pca.covariance_matrix" in ours.data.tags["mine.functions"]
    assert ours.data.metrics["headline"] == reference.data.metrics["headline"]
    timings = {name for name in reference.data.metrics if name.endswith("_seconds")}
    timings |= {name for name in reference.data.metrics if name.endswith("_speedup")}
    assert {k: v for k, v in ours.data.metrics.items() if k not in timings} == {
        k: v for k, v in reference.data.metrics.items() if k not in timings
    }


@pytest.mark.slow  # a further whole run, every call in it seen by a profile hook
def test_impl_mine_runs_the_learners_functions_in_the_runs_own_threads_too(
    mine,
    tracking_uri,
    crop,  # noqa: F811
    monkeypatch,
):
    """The rate search and the codec's candidates run in threads of their own (two threads
    allowed): every exercise they call is the learner's copy there too, never ours (ours runs
    only inside the guard, once, for the shape its result must have)."""
    copy_reference(WEEK1, mine)
    monkeypatch.setenv("MATH4ML_THREADS", "2")
    ours = {e.reference.__code__: e.name for e in exercises.discover(WEEK1)}
    ours_called, learners_called_off_main = set(), set()

    def watch(frame, event, arg):
        if event != "call":
            return
        code = frame.f_code
        if code in ours and frame.f_back.f_code is not guard:
            ours_called.add(ours[code])  # (the guard calls ours once, for the shape)
        elif code.co_filename.startswith(str(mine)) and threading.current_thread() is not main:
            learners_called_off_main.add(code.co_name)

    main = threading.main_thread()
    guard = exercises.guarded(next(iter(exercises.EXERCISES.values())), print).__code__
    cfg = compose_config(
        "week1", f"images=[{crop}]", *SMALL, "impl=mine", f"tracking.uri={tracking_uri}"
    )
    threading.setprofile(watch)
    sys.setprofile(watch)
    try:
        run_tracked(cfg, "week1", pipeline.run)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    assert ours_called == set()
    assert "covariance_matrix" in learners_called_off_main  # the bases, learned in threads


def test_impl_mine_with_a_function_that_raises_fails_the_run_naming_it(
    mine,
    tracking_uri,
    runs_of,
    crop,  # noqa: F811
):
    files = copy_reference(WEEK1, mine)
    replace_function(files["linear_maps"], "centre", RAISES)
    cfg = compose_config(
        "week1", f"images=[{crop}]", *SMALL, "impl=mine", f"tracking.uri={tracking_uri}"
    )
    with pytest.raises(SystemExit) as exited:
        run_tracked(cfg, "week1", pipeline.run)
    assert exited.value.code == EXIT_FAILED
    [run] = runs_of("week1")
    assert run.info.status == "FAILED"
    error = run.data.tags["error"]
    assert "\n" not in error
    assert "W1.6 centre" in error
    assert "linear_maps.py" in error
    assert "raised ValueError: not today" in error
