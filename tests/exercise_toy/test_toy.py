"""The toy's reference checks: run on the reference here, on a learner's copy by the grader."""

import numpy as np
import pytest

from common.grading import grades
from tests.exercise_toy.averages import mean
from tests.exercise_toy.vectors import cosine, dot, norm

RNG = np.random.default_rng(0)


@grades(dot)
@pytest.mark.parametrize("n", [1, 3, 50])
def test_dot_matches_numpy(n):
    a, b = RNG.normal(size=n), RNG.normal(size=n)
    assert dot(a, b) == pytest.approx(np.dot(a, b), rel=1e-12)


@grades(norm)
def test_norm_matches_numpy():
    a = RNG.normal(size=7)
    assert norm(a) == pytest.approx(np.linalg.norm(a), rel=1e-12)


@grades(dot, norm)
def test_cosine_of_a_vector_with_itself_is_one():
    assert cosine([1.0, 2.0, 2.0], [1.0, 2.0, 2.0]) == pytest.approx(1.0, rel=1e-12)


@grades(mean)
def test_mean_matches_numpy():
    x = RNG.normal(size=11)
    assert mean(x) == pytest.approx(np.mean(x), rel=1e-12)
