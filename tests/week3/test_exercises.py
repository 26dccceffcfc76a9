"""Week 3's exercises end to end: stubs, grading with the week's own tests, and impl=mine.

The learner's folder is a temporary directory (``MATH4ML_MINE_DIR``), never the repository's
``mine/``; grading and runs go through subprocesses, as a learner runs them.
"""

from __future__ import annotations

import shutil

import pytest
from mlflow.tracking import MlflowClient

from common.exercises import discover
from tests.exercise_support import (
    assert_every_exercise_grades,
    assert_every_other_exercise_passes,
    copy_reference,
    grade_everything_with_mistakes,
    replace_function,
)
from tests.weeks import run_cli, run_in_own_store

PACKAGE, TESTS = "projects.week3_regression", "tests/week3"
# as tests/week3/test_pipeline.py's QUICK, on the logistic task alone: the drills, the
# gradient check, the optimizers, Newton and the Hessian check, without the linear extras
SMALL = ["progress=false", "compare_steps=300", "tasks=[logistic]"]
EXERCISES = {
    "calculus.central_difference",
    "calculus.gradient_check_error",
    "calculus.chain_rule",
    "calculus.descend_parabola",
    "calculus.is_convex_on",
    "losses.l2_penalty",
    "losses.penalty_gradient",
    "losses.mse_gradient",
    "losses.logistic_gradient",
    "losses.logistic_hessian",
    "optimize.loss_and_gradient",
    "optimize.minibatches",
    "optimize.descent_step",
    "optimize.newton_step",
    "reference.least_squares_qr",
    "reference.ridge_cholesky",
    "limits.forward_difference",
    "limits.loglog_slope",
    "roots.newton_raphson",
    "roots.convergence_orders",
    "update_rules.momentum_step",
    "update_rules.rmsprop_step",
    "update_rules.adam_step",
    "linear_program.lad_linprog",
    "linear_program.absolute_deviations",
}
SIGN_ERROR_STEP = """def descent_step(w, grad, lr):
    return w + lr * grad  # uphill: the sign of the step is wrong
"""
HESSIAN_WITHOUT_1_OVER_N = """def logistic_hessian(w, b, X):
    p = torch.sigmoid(X @ w + b)
    return (X.T * (p * (1 - p))) @ X  # the sum, not the mean: / n forgotten
"""
ONE_PERMUTATION_FOREVER = """def minibatches(n_samples, batch_size, generator):
    order = torch.randperm(n_samples, generator=generator)  # drawn once, not every epoch
    while True:
        yield from order.split(batch_size)
"""
RAISES = """def central_difference(f, x, h=1e-6):
    raise ZeroDivisionError("my difference quotient divides by zero")
"""
MISTAKES = {
    "optimize.descent_step": SIGN_ERROR_STEP,
    "losses.logistic_hessian": HESSIAN_WITHOUT_1_OVER_N,
    "optimize.minibatches": ONE_PERMUTATION_FOREVER,
}


def test_every_week3_curriculum_id_has_an_exercise():
    ids = {e.curriculum_id for e in discover(PACKAGE)}
    assert ids >= {"W3.1", "W3.2", "W3.3", "W3.4", "W3.5", "W3.P1", "W3.P2", "W3.P3", "W3.P4"}
    assert ids >= {"W3.X1", "W3.X2", "W3.X3", "W3.6", "W3.X4", "W3.X5", "W3.X6"}


@pytest.mark.slow  # one `make check` subprocess per week; week 1's stays in the fast set
def test_fresh_stubs_grade_as_all_todo_and_exit_zero(mine):
    assert_every_exercise_grades(PACKAGE, TESTS, mine, "todo")


@pytest.mark.slow  # the fast set grades the same copy with MISTAKES swapped in (below)
def test_the_reference_copied_into_mine_passes_every_exercise(mine):
    assert_every_exercise_grades(PACKAGE, TESTS, mine, "passes")


@pytest.fixture(scope="module")
def graded_with_mistakes(tmp_path_factory):
    """One `make check` of every week-3 exercise: the reference copied, MISTAKES swapped in."""
    mine = tmp_path_factory.mktemp("learner") / "mine"
    return grade_everything_with_mistakes(PACKAGE, TESTS, mine, MISTAKES)


@pytest.mark.slow  # one `make check` subprocess per week; week 1's stays in the fast set
def test_the_reference_copied_into_mine_passes_every_exercise_without_a_mistake(
    graded_with_mistakes,
):
    _, statuses, output = graded_with_mistakes
    assert_every_other_exercise_passes(PACKAGE, MISTAKES, statuses, output)


@pytest.mark.slow  # one `make check` subprocess per week; week 1's stays in the fast set
def test_wrong_formulas_fail_alone_naming_the_failing_test(graded_with_mistakes):
    status, statuses, output = graded_with_mistakes
    assert status == 1, output
    expected = {  # the graded ids of the mistakes (every other exercise: the test above)
        "losses.mse_gradient": "passes",
        "losses.logistic_gradient": "passes",
        "losses.logistic_hessian": "fails",
        "optimize.minibatches": "fails",
        "optimize.descent_step": "fails",
    }
    assert {key: statuses.get(key) for key in expected} == expected, output
    assert "test_descent_step_is_w_minus_lr_times_the_gradient" in output
    assert "test_logistic_hessian_is_weighted_gram_matrix" in output
    assert "test_minibatches_partition_the_rows_every_epoch_with_a_fresh_permutation" in output


@pytest.mark.slow  # a CLI run of the capstone (weeks 1 and 2 keep theirs in the fast set)
def test_impl_mine_fails_the_run_naming_the_function_and_id_that_raised(
    mine, tmp_path, empty_store
):
    files = copy_reference(PACKAGE, mine)
    replace_function(files["calculus"], "central_difference", RAISES)
    shutil.copyfile(empty_store, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_cli(
        "week3_regression", *SMALL, "impl=mine", f"tracking.uri={uri}", output_dir=tmp_path / "run"
    )
    assert result.returncode != 0
    client = MlflowClient(uri)
    [run] = client.search_runs([client.get_experiment_by_name("week3").experiment_id])
    assert run.info.status == "FAILED"
    error = run.data.tags["error"]
    assert "\n" not in error
    assert "W3.1 central_difference" in error, error
    assert "calculus.py" in error, error
    assert "raised ZeroDivisionError: my difference quotient divides by zero" in error, error
    assert "logistic.steps" not in run.data.metrics  # it failed in the drills, before training


@pytest.mark.slow
def test_impl_mine_with_the_reference_copied_logs_the_reference_run_to_rounding(
    mine, tmp_path, empty_store
):
    copy_reference(PACKAGE, mine)
    runs = {}
    for impl in ("reference", "mine"):
        folder = tmp_path / f"run_{impl}"
        folder.mkdir()
        _, runs[impl], _ = run_in_own_store(
            "week3_regression", "week3", [*SMALL, f"impl={impl}"], folder, empty_store
        )
    assert runs["mine"].data.tags["impl"] == "mine"
    assert set(runs["mine"].data.tags["mine.functions"].split(", ")) == EXERCISES
    reference, learner = runs["reference"].data.metrics, runs["mine"].data.metrics
    assert learner["loss_gap_rel"] == reference["loss_gap_rel"]  # the headline, exactly
    assert learner.keys() == reference.keys()
    # Our run stacks the optimizer comparison's runs (side_by_side); a learner's run makes
    # them one at a time, whose sums run in another order: those agree to rounding, the rest
    # exactly.
    differing = {key for key in reference if learner[key] != reference[key]}
    assert all(".compare." in key for key in differing), sorted(differing)
    for key in differing:
        assert learner[key] == pytest.approx(reference[key], rel=1e-13, abs=0), key
