"""Week 2's exercises as a learner meets them: stubs, `make check`, and `impl=mine`.

Every learner folder is temporary (``MATH4ML_MINE_DIR``); the repository's ``mine/`` is
never touched. The grader runs as a learner runs it, in a subprocess.
"""

from __future__ import annotations

import os

import pytest

from common import exercises
from common.exercises import discover
from common.tracking import EXIT_FAILED, run_tracked
from projects.week2_spam import config, pipeline  # noqa: F401  (config registers the schema)
from tests.exercise_support import (
    assert_every_exercise_grades,
    assert_every_other_exercise_passes,
    copy_reference,
    grade_everything_with_mistakes,
    replace_function,
)
from tests.week2.test_pipeline import QUICK, needs_corpus
from tests.weeks import compose_config, run_in_own_store

WEEK2, WEEK2_TESTS = "projects.week2_spam", "tests/week2"
# Three mistakes a learner makes: no alpha * V in the denominator, exp without the
# max-shift (underflows to log 0), McNemar's statistic without the continuity correction.
NO_V = "def smoothed_log_mle(counts, totals, alpha, n_outcomes):\n" + (
    "    return np.log(counts + alpha) - np.log(totals + alpha)[:, np.newaxis]\n"
)
NAIVE_LOGSUMEXP = "def log_normalize(scores):\n" + (
    "    return scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))\n"
)
UNCORRECTED = "def chi2_statistic(b, c):\n    return (b - c) ** 2 / (b + c) if b + c else 0.0\n"
RAISES = "def coin_tosses(rng, n, p=0.5):\n    return 1 / 0\n"
MISTAKES = {
    "naive_bayes.smoothed_log_mle": NO_V,
    "naive_bayes.log_normalize": NAIVE_LOGSUMEXP,
    "hypothesis_test.chi2_statistic": UNCORRECTED,
}


def test_every_week2_id_has_an_exercise():
    ids = {e.curriculum_id for e in discover(WEEK2)}
    taught = {"W2.1", "W2.2", "W2.3", "W2.4", "W2.5", "W2.P1", "W2.P2", "W2.P3", "W2.P4", "W2.P5"}
    assert ids == taught | {"W2.X1", "W2.X2", "W2.X3", "W2.X4", "W2.X5"}


@pytest.mark.slow  # one `make check` subprocess per week; week 1's stays in the fast set
def test_fresh_stubs_grade_as_all_todo_and_exit_zero(mine):
    assert_every_exercise_grades(WEEK2, WEEK2_TESTS, mine, "todo")


@pytest.mark.slow  # the fast set grades the same copy with MISTAKES swapped in (below)
def test_the_reference_copied_into_mine_passes_every_exercise(mine):
    assert_every_exercise_grades(WEEK2, WEEK2_TESTS, mine, "passes")


@pytest.fixture(scope="module")
def graded_with_mistakes(tmp_path_factory):
    """One `make check` of every week-2 exercise: the reference copied, MISTAKES swapped in."""
    mine = tmp_path_factory.mktemp("learner") / "mine"
    return grade_everything_with_mistakes(WEEK2, WEEK2_TESTS, mine, MISTAKES)


@pytest.mark.slow  # one `make check` subprocess per week; week 1's stays in the fast set
def test_the_reference_copied_into_mine_passes_every_exercise_without_a_mistake(
    graded_with_mistakes,
):
    _, statuses, output = graded_with_mistakes
    assert_every_other_exercise_passes(WEEK2, MISTAKES, statuses, output)


@pytest.mark.slow  # one `make check` subprocess per week; week 1's stays in the fast set
def test_wrong_formulas_fail_each_alone_naming_the_check(graded_with_mistakes):
    status, statuses, output = graded_with_mistakes
    assert status == 1, output
    expected = {  # the graded ids of the mistakes (every other exercise: the test above)
        "hypothesis_test.discordant_counts": "passes",  # the other W2.X2 function is right
        "hypothesis_test.chi2_statistic": "fails",
        "naive_bayes.smoothed_log_mle": "fails",
        "naive_bayes.log_normalize": "fails",
    }
    assert {key: statuses.get(key) for key in expected} == expected, output
    for test in (
        "test_large_counts_use_the_corrected_chi_squared",
        "test_matches_sklearn_on_random_counts",  # the first test grading the two NB functions
    ):
        assert test in output, output


@needs_corpus
@pytest.mark.slow  # two CLI runs of the capstone (about a minute each on a loaded machine)
def test_impl_mine_with_the_reference_copied_logs_the_reference_run_exactly(
    tmp_path, empty_store, monkeypatch
):
    folder = tmp_path / "reference"
    folder.mkdir()
    _, reference, _ = run_in_own_store("week2_spam", "week2", QUICK, folder, empty_store)
    copy_reference(WEEK2, tmp_path / "mine")
    monkeypatch.setenv(exercises.MINE_ENV, str(tmp_path / "mine"))  # the CLI inherits it
    folder = tmp_path / "mine_run"
    folder.mkdir()
    _, ours, _ = run_in_own_store("week2_spam", "week2", [*QUICK, "impl=mine"], folder, empty_store)
    assert ours.info.status == "FINISHED"
    assert ours.data.tags["impl"] == "mine"
    assert "naive_bayes.smoothed_log_mle" in ours.data.tags["mine.functions"]
    assert ours.data.metrics["headline"] == reference.data.metrics["headline"]
    # the drills too: the shape check of a learner's first call draws from its own copy
    # of the random generator, so the run's draws are those of the reference run
    assert ours.data.metrics == reference.data.metrics


@needs_corpus
def test_impl_mine_with_a_function_that_raises_fails_the_run_naming_it(mine, tracking_uri, runs_of):
    files = copy_reference(WEEK2, mine)
    replace_function(files["probability"], "coin_tosses", RAISES)
    cfg = compose_config("week2", *QUICK, "impl=mine", f"tracking.uri={tracking_uri}")
    with pytest.raises(SystemExit) as exited:
        run_tracked(cfg, "week2", pipeline.run)
    assert exited.value.code == EXIT_FAILED
    [run] = runs_of("week2")
    assert run.info.status == "FAILED"
    error = run.data.tags["error"]
    assert "\n" not in error
    assert "W2.P1 coin_tosses" in error
    assert f"{os.sep}week2{os.sep}probability.py" in error
    assert "raised ZeroDivisionError" in error
