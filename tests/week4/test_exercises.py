"""Week 4's exercises end to end: stubs, grading with the week's own tests, and impl=mine.

The learner's folder is a temporary directory (``MATH4ML_MINE_DIR``), never the repository's
``mine/``; grading and runs go through subprocesses, as a learner runs them.
"""

from __future__ import annotations

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

PACKAGE, TESTS = "projects.week4_tree_search", "tests/week4"
QUICK = ["curse.dims=[2,20,200]", "curse.n_points=200"]  # as tests/week4/test_pipeline.py
EXERCISES = {
    "geometry.l1_norm",
    "geometry.l2_norm",
    "geometry.frobenius_norm",
    "geometry.euclidean_distances",
    "geometry.manhattan_distances",
    "geometry.cosine_similarity",
    "geometry.top_k",
    "geometry.relative_contrasts",
    "information.entropy",
    "information.cross_entropy",
    "information.kl_divergence",
    "information.mutual_information",
    "information.information_gain",
    "information.log_loss",
    "search.neighbour_adjacency",
    "tree.entropy_of_counts",
    "tree.cumulative_class_counts",
    "tree.split_scores",
    "svm.hinge_objective",
    "svm.margin",
    "clustering.assign",
    "clustering.update",
    "tree_text.export_text",
    "graphs.dijkstra",
    "graphs.connected_components_bfs",
    "feature_selection.discretize",
    "feature_selection.mutual_information_scores",
}
UNWEIGHTED_SCORES = """def split_scores(counts_left, counts, impurity):
    return impurity(counts_left) + impurity(counts - counts_left)  # n_L, n_R forgotten
"""
UNNORMALIZED_COSINE = """def cosine_similarity(A, B=None):
    B = A if B is None else B
    return A @ B.T  # the dot product, not divided by the lengths
"""
NATS_NOT_BITS = """def entropy_of_counts(counts):
    p = counts / counts.sum(axis=0)
    return -np.sum(p * np.log(np.where(p > 0, p, 1)), axis=0)  # nats: the tree wants bits
"""
RAISES = """def entropy(p, base=None):
    raise ZeroDivisionError("my entropy divides by zero")
"""
MISTAKES = {
    "tree.split_scores": UNWEIGHTED_SCORES,
    "geometry.cosine_similarity": UNNORMALIZED_COSINE,
    "tree.entropy_of_counts": NATS_NOT_BITS,
}


def test_every_week4_curriculum_id_has_an_exercise():
    ids = {e.curriculum_id for e in discover(PACKAGE)}
    assert ids >= {"W4.1", "W4.2", "W4.3", "W4.4", "W4.P1", "W4.P2", "W4.P3", "W4.P4"}
    assert ids >= {"W4.X1", "W4.X2", "W4.5", "W4.6", "W4.P5", "W4.X3", "W4.X4"}


@pytest.mark.slow  # one `make check` subprocess per week; week 1's stays in the fast set
def test_fresh_stubs_grade_as_all_todo_and_exit_zero(mine):
    assert_every_exercise_grades(PACKAGE, TESTS, mine, "todo")


@pytest.mark.slow  # the fast set grades the same copy with MISTAKES swapped in (below)
def test_the_reference_copied_into_mine_passes_every_exercise(mine):
    assert_every_exercise_grades(PACKAGE, TESTS, mine, "passes")


@pytest.fixture(scope="module")
def graded_with_mistakes(tmp_path_factory):
    """One `make check` of every week-4 exercise: the reference copied, MISTAKES swapped in."""
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
        "geometry.cosine_similarity": "fails",
        "geometry.top_k": "passes",
        "tree.entropy_of_counts": "fails",
        "tree.cumulative_class_counts": "passes",
        "tree.split_scores": "fails",
    }
    assert {key: statuses.get(key) for key in expected} == expected, output
    assert "test_cosine_similarity_matches_sklearn" in output
    assert "test_split_scores_weigh_each_childs_impurity_by_its_size" in output
    assert "test_entropy_of_counts_is_scipy_entropy_of_each_column_in_bits" in output
    assert "tolerance rtol=" in output  # the tolerance of the failed comparison is shown


@pytest.mark.slow  # a CLI run of the capstone (weeks 1 and 2 keep theirs in the fast set)
def test_impl_mine_fails_the_run_naming_the_function_and_id_that_raised(
    mine, tmp_path, empty_store
):
    import shutil

    files = copy_reference(PACKAGE, mine)
    replace_function(files["information"], "entropy", RAISES)
    shutil.copyfile(empty_store, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_cli(
        "week4_tree_search", *QUICK, "impl=mine", f"tracking.uri={uri}", output_dir=tmp_path / "run"
    )
    assert result.returncode != 0
    client = MlflowClient(uri)
    [run] = client.search_runs([client.get_experiment_by_name("week4").experiment_id])
    assert run.info.status == "FAILED"
    error = run.data.tags["error"]
    assert "\n" not in error
    assert "W4.3 entropy" in error, error
    assert "information.py" in error, error
    assert "raised ZeroDivisionError: my entropy divides by zero" in error, error
    assert "information_max_abs_error" not in run.data.metrics  # the drills never finished


@pytest.mark.slow
def test_impl_mine_with_the_reference_copied_logs_the_reference_run_exactly(
    mine, tmp_path, empty_store
):
    copy_reference(PACKAGE, mine)
    runs = {}
    for impl in ("reference", "mine"):
        folder = tmp_path / f"run_{impl}"
        folder.mkdir()
        _, runs[impl], _ = run_in_own_store(
            "week4_tree_search", "week4", [*QUICK, f"impl={impl}"], folder, empty_store
        )
    assert runs["mine"].data.tags["impl"] == "mine"
    assert set(runs["mine"].data.tags["mine.functions"].split(", ")) == EXERCISES
    reference, learner = runs["reference"].data.metrics, runs["mine"].data.metrics
    assert learner["headline"] == reference["headline"]
    assert learner == reference  # every metric, bit for bit: the same functions ran
