"""The exercise machinery on a toy package: stubs, grading, the seam, and a learner's files.

The grader runs as a learner runs it (a subprocess), on a temporary ``mine/`` folder.
"""

from __future__ import annotations

import threading

import pytest

from common.exercises import ExerciseError, discover, learner_choice, using, write_stubs
from tests.exercise_support import copy_reference, grade, grade_with_mistakes, replace_function
from tests.exercise_toy.vectors import cosine, dot, norm

TOY, TOY_TESTS = "tests.exercise_toy", "tests/exercise_toy"
WRONG_NORM = "def norm(a):\n    return float(np.sum(np.abs(a)))  # L1, not L2\n"


def test_stubs_keep_the_signature_and_docstring_and_raise_naming_the_id(mine):
    write_stubs(discover(TOY))
    text = (mine / "week9" / "vectors.py").read_text()
    assert "def dot(a, b):" in text
    assert "a . b = sum_i a_i b_i" in text  # the formula from the reference's docstring
    assert "Hint: sum the products of matching entries" in text
    assert 'raise NotImplementedError("W9.1: write dot")' in text
    assert "@exercise" not in text


def test_stubs_never_overwrite_a_learner_file_and_append_new_exercises(mine):
    entries = discover(TOY)
    write_stubs([e for e in entries if e.name == "dot"])
    path = mine / "week9" / "vectors.py"
    path.write_text(path.read_text() + "\n# my notes\n")
    mine_before = path.read_text()
    report = write_stubs(entries)
    assert path.read_text().startswith(mine_before)  # nothing of the learner's changed
    assert "def norm(a):" in path.read_text()
    assert any(line.startswith("appended") and "norm" in line for line in report)
    again = path.read_text()
    assert any(line.startswith("kept") for line in write_stubs(entries))
    assert path.read_text() == again


def test_fresh_stubs_grade_as_all_todo_and_exit_zero(mine):
    write_stubs(discover(TOY))
    status, statuses, output = grade(TOY, TOY_TESTS, mine)
    assert status == 0, output
    assert statuses == {"vectors.dot": "todo", "vectors.norm": "todo", "averages.mean": "todo"}


def test_the_reference_copied_into_mine_passes_every_exercise(mine):
    copy_reference(TOY, mine)
    status, statuses, output = grade(TOY, TOY_TESTS, mine)
    assert status == 0, output
    assert set(statuses.values()) == {"passes"}, output


def test_a_wrong_formula_fails_alone_naming_the_check_and_the_values(mine):
    files = copy_reference(TOY, mine)
    replace_function(files["vectors"], "norm", WRONG_NORM)
    status, statuses, output = grade(TOY, TOY_TESTS, mine)
    assert status == 1
    assert statuses == {"vectors.dot": "passes", "vectors.norm": "fails", "averages.mean": "passes"}
    assert "test_norm_matches_numpy" in output
    assert "±" in output  # the tolerance of the failed comparison is shown


def test_an_id_grades_only_its_own_exercises(mine):
    mistakes = {"vectors.norm": WRONG_NORM}  # W9.1; averages.mean is W9.2
    status, statuses, output = grade_with_mistakes(TOY, TOY_TESTS, mine, mistakes)
    assert status == 1, output
    assert statuses == {"vectors.dot": "passes", "vectors.norm": "fails"}, output


def test_an_endless_loop_times_out_that_exercise_alone(mine):
    files = copy_reference(TOY, mine)
    replace_function(files["vectors"], "dot", "def dot(a, b):\n    while True:\n        pass\n")
    status, statuses, output = grade(TOY, TOY_TESTS, mine, "--timeout", "2")
    assert status == 1
    assert statuses["vectors.dot"] == "fails"
    assert "timed out after 2 s" in output
    assert statuses["averages.mean"] == "passes"  # the other file is graded as usual


def test_a_syntax_error_is_reported_for_its_file_and_the_other_file_is_graded(mine):
    files = copy_reference(TOY, mine)
    files["vectors"].write_text(files["vectors"].read_text() + "\ndef broken(:\n")
    status, statuses, output = grade(TOY, TOY_TESTS, mine)
    assert status == 1
    assert statuses["vectors.dot"] == statuses["vectors.norm"] == "fails"
    assert "vectors.py:" in output
    assert "SyntaxError" in output
    assert statuses["averages.mean"] == "passes"


def test_using_chooses_the_learner_function_only_inside_the_block():
    def mine_dot(a, b):
        return 42.0

    key = dot.exercise.key
    with using({key: mine_dot}):
        assert norm([3.0, 4.0]) == pytest.approx(42**0.5)  # the reference norm calls mine_dot
        seen_by_thread = []
        thread = threading.Thread(target=lambda: seen_by_thread.append(dot([1.0], [1.0])))
        thread.start()
        thread.join()
    assert seen_by_thread == [1.0]  # a new thread starts with the reference
    assert dot([1.0, 2.0], [3.0, 4.0]) == 11.0


def test_impl_mine_without_written_exercises_says_how_to_start(mine):
    write_stubs(discover(TOY))
    with pytest.raises(ExerciseError, match=r"no written exercise: run `make exercise WEEK=9`"):
        learner_choice(TOY)


def test_impl_mine_names_the_function_and_id_when_it_returns_the_wrong_shape(mine):
    files = copy_reference(TOY, mine)
    replace_function(files["vectors"], "dot", "def dot(a, b):\n    return np.multiply(a, b)\n")
    choice = learner_choice(TOY)
    with using(choice), pytest.raises(ExerciseError, match=r"W9.1 dot \(.*vectors.py\) returned"):
        cosine([1.0, 2.0], [3.0, 4.0])


def test_impl_mine_names_the_function_and_id_when_it_raises(mine):
    files = copy_reference(TOY, mine)
    replace_function(files["averages"], "mean", "def mean(x):\n    return 1 / 0\n")
    choice = learner_choice(TOY)
    mean = choice[next(k for k in choice if k.endswith("mean"))]
    with pytest.raises(ExerciseError, match=r"W9.2 mean .* raised ZeroDivisionError"):
        mean([1.0, 2.0])


def test_a_check_is_logged_as_a_run_of_the_exercises_experiment(mine, tracking_uri, monkeypatch):
    from mlflow.tracking import MlflowClient

    files = copy_reference(TOY, mine)
    replace_function(files["vectors"], "norm", WRONG_NORM)
    (mine / "week9" / "averages.py").unlink()  # mean: todo
    write_stubs(discover(TOY))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    status, _, output = grade(TOY, TOY_TESTS, mine, "--log")
    assert status == 1, output
    client = MlflowClient(tracking_uri)
    [run] = client.search_runs([client.get_experiment_by_name("exercises").experiment_id])
    assert run.data.metrics == {"passed": 1.0, "failed": 1.0, "todo": 1.0}
    assert "week" not in run.data.tags  # `make runs WEEK=9` lists capstone runs only
    assert run.data.tags["exercises.week"] == "week9"
    [artifact] = client.list_artifacts(run.info.run_id)
    assert artifact.path == "scorecard.json"
