"""Norms and distances against NumPy / scikit-learn / SciPy, and distance concentration.

References: ``np.linalg.norm`` (ord=1, 2, 'fro'), ``sklearn.metrics.pairwise`` and
``scipy.spatial.distance.cdist``. Float64 throughout; tolerances are stated per test.
"""

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.metrics import pairwise

from common.grading import grades
from projects.week4_tree_search.geometry import (
    cosine_similarity,
    euclidean_distances,
    frobenius_norm,
    l1_norm,
    l2_norm,
    manhattan_distances,
    relative_contrast,
    relative_contrasts,
    top_k,
)

RTOL = 1e-12  # norms: a sum and a square root in float64


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@grades(l1_norm, l2_norm)
def test_vector_norms_match_numpy(rng):
    X = rng.standard_normal((7, 5))
    np.testing.assert_allclose(l1_norm(X), np.linalg.norm(X, ord=1, axis=1), rtol=RTOL)
    np.testing.assert_allclose(l2_norm(X), np.linalg.norm(X, ord=2, axis=1), rtol=RTOL)
    np.testing.assert_allclose(l2_norm(X[0]), np.linalg.norm(X[0]), rtol=RTOL)
    np.testing.assert_allclose(l1_norm(X, axis=0), np.linalg.norm(X, ord=1, axis=0), rtol=RTOL)


@grades(frobenius_norm)
def test_frobenius_norm_matches_numpy_and_the_trace_and_singular_values(rng):
    A = rng.standard_normal((6, 4))
    np.testing.assert_allclose(frobenius_norm(A), np.linalg.norm(A, ord="fro"), rtol=RTOL)
    np.testing.assert_allclose(frobenius_norm(A) ** 2, np.trace(A.T @ A), rtol=RTOL)
    singular_values = np.linalg.svd(A, compute_uv=False)
    np.testing.assert_allclose(frobenius_norm(A), l2_norm(singular_values), rtol=RTOL)


@grades(l1_norm, l2_norm)
def test_norm_axioms(rng):
    x, y = rng.standard_normal((2, 9))
    for norm in (l1_norm, l2_norm):
        assert norm(x + y) <= norm(x) + norm(y)  # triangle inequality
        np.testing.assert_allclose(norm(-3 * x), 3 * norm(x), rtol=RTOL)  # homogeneity
        assert norm(np.zeros(9)) == 0
    assert l2_norm(x) <= l1_norm(x) <= np.sqrt(9) * l2_norm(x)  # equivalence of norms


@grades(euclidean_distances)
def test_euclidean_distances_match_sklearn_and_scipy(rng):
    A, B = rng.standard_normal((5, 8)), rng.standard_normal((6, 8))
    D = euclidean_distances(A, B)
    # the expansion ||a||^2 + ||b||^2 - 2 a.b loses digits to cancellation: 1e-10 relative
    np.testing.assert_allclose(D, pairwise.euclidean_distances(A, B), rtol=1e-10)
    np.testing.assert_allclose(D, cdist(A, B), rtol=1e-10)


@grades(euclidean_distances)
def test_euclidean_distance_of_a_point_to_itself_is_zero_not_nan(rng):
    A = rng.standard_normal((50, 30)) * 1e3  # large norms: cancellation leaves rounding noise
    squared = l2_norm(A)[:, None] ** 2 + l2_norm(A)[None, :] ** 2 - 2 * A @ A.T
    assert (np.diag(squared) < 0).any()  # unclipped, some square roots would be NaN
    D = euclidean_distances(A, A)
    assert not np.isnan(D).any()
    assert np.all(D >= 0)
    # the noise is a few ulps of ||a||^2 ~ 3e7: sqrt(4 * 2.2e-16 * 3e7) ~ 1.6e-4
    np.testing.assert_allclose(np.diag(D), 0, atol=1e-3)


@grades(manhattan_distances)
def test_manhattan_distances_match_sklearn_and_scipy(rng):
    A, B = rng.standard_normal((5, 8)), rng.standard_normal((6, 8))
    D = manhattan_distances(A, B)
    np.testing.assert_allclose(D, pairwise.manhattan_distances(A, B), rtol=1e-12)
    np.testing.assert_allclose(D, cdist(A, B, metric="cityblock"), rtol=1e-12)


@grades(cosine_similarity)
def test_cosine_similarity_matches_sklearn(rng):
    A, B = rng.standard_normal((5, 8)), rng.standard_normal((6, 8))
    np.testing.assert_allclose(
        cosine_similarity(A, B), pairwise.cosine_similarity(A, B), rtol=1e-12, atol=1e-15
    )
    S = cosine_similarity(A)
    np.testing.assert_allclose(S, pairwise.cosine_similarity(A), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.diag(S), 1, rtol=1e-12)
    assert np.all(np.abs(S) <= 1 + 1e-12)  # Cauchy-Schwarz


@grades(cosine_similarity)
def test_cosine_similarity_ignores_length():
    a = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(cosine_similarity(a, 7 * a), [[1.0]], rtol=1e-12)
    np.testing.assert_allclose(cosine_similarity(a, -a), [[-1.0]], rtol=1e-12)


@pytest.mark.parametrize("zero_in", ["A", "B"])
def test_cosine_similarity_of_a_zero_vector_raises_naming_the_row(rng, zero_in):
    A, B = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
    (A if zero_in == "A" else B)[2] = 0
    with pytest.raises(ValueError, match=f"row 2 of {zero_in} is the zero vector"):
        cosine_similarity(A, B)


@grades(relative_contrasts)
def test_relative_contrasts_match_scipy_distances_and_a_hand_value(rng):
    Q, X = rng.uniform(size=(4, 3)), rng.uniform(size=(30, 3))
    D = cdist(Q, X)
    expected = [(max(row) - min(row)) / min(row) for row in D]  # row by row, in Python
    np.testing.assert_allclose(relative_contrasts(D), expected, rtol=1e-12)
    # (4 - 1) / 1 = 3; all points equally far: no contrast
    np.testing.assert_allclose(relative_contrasts(np.array([[1.0, 2, 4], [2, 2, 2]])), [3, 0])


@grades(relative_contrasts)
def test_relative_contrast_shrinks_with_dimension():
    dims = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    contrast = relative_contrast(1000, dims, np.random.default_rng(0))
    assert contrast.shape == (len(dims),)
    assert np.all(np.diff(contrast) < 0)  # on this seed it decreases at every step
    assert contrast[dims.index(1000)] < contrast[dims.index(2)] / 100
    # the 1 / sqrt(d) rate: contrast * sqrt(d) levels off (3.7 - 4.4 on this seed)
    levelled = contrast[dims.index(100) :] * np.sqrt(dims[dims.index(100) :])
    assert levelled.max() / levelled.min() < 1.5


def test_relative_contrast_uses_the_rng():
    first = relative_contrast(100, [3], np.random.default_rng(1))
    again = relative_contrast(100, [3], np.random.default_rng(1))
    other = relative_contrast(100, [3], np.random.default_rng(2))
    assert first == again
    assert first != other


@grades(top_k)
@pytest.mark.parametrize("k", [1, 3, 12])
def test_top_k_lists_the_largest_scores_first_and_ties_by_id(rng, k):
    scores = rng.integers(0, 5, (6, 12)).astype(float)  # many ties
    expected = [sorted(range(12), key=lambda j: (-row[j], j))[:k] for row in scores]
    np.testing.assert_array_equal(top_k(scores, k), expected)


@grades(top_k)
def test_top_k_of_minus_the_distances_is_the_nearest_neighbours(rng):
    Q, X = rng.standard_normal((5, 4)), rng.standard_normal((40, 4))
    D = cdist(Q, X)
    np.testing.assert_array_equal(top_k(-D, 7), np.argsort(D, axis=1)[:, :7])
