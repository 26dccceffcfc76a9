"""LU with partial pivoting (W1.X2) against ``scipy.linalg.lu``, ``solve_triangular``,
``np.linalg.solve``, ``inv`` and ``det`` (tolerance 1e-12 on well-conditioned matrices)."""

import numpy as np
import pytest
from scipy import linalg

from common.grading import grades
from projects.week1_pca.lu import (
    back_substitution,
    forward_substitution,
    lu_decompose,
    lu_determinant,
    lu_inverse,
    lu_solve,
    permutation_sign,
    relative_residual,
)

RNG = np.random.default_rng(0)


@grades(lu_decompose)
@pytest.mark.parametrize("n", [1, 2, 5, 20])
def test_lu_matches_scipy_and_reconstructs_A(n):
    A = RNG.standard_normal((n, n))
    P, L, U = lu_decompose(A)
    for ours, reference in zip((P, L, U), linalg.lu(A), strict=True):
        np.testing.assert_allclose(ours, reference, atol=1e-12)
    np.testing.assert_allclose(P @ L @ U, A, atol=1e-12)
    np.testing.assert_array_equal(np.diag(L), 1.0)
    assert np.all(np.abs(L) <= 1.0)  # partial pivoting
    np.testing.assert_array_equal(np.triu(L, 1), 0.0)
    np.testing.assert_array_equal(np.tril(U, -1), 0.0)


@pytest.mark.parametrize(
    "A", [[[0.0, 1.0], [1.0, 0.0]], [[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 1.0]]]
)
def test_lu_pivots_and_factors_singular_matrices_like_scipy(A):
    P, L, U = lu_decompose(A)
    for ours, reference in zip((P, L, U), linalg.lu(np.array(A)), strict=True):
        np.testing.assert_allclose(ours, reference, atol=1e-15)
    np.testing.assert_allclose(P @ L @ U, A, atol=1e-15)


@grades(forward_substitution, back_substitution)
def test_triangular_solves_match_scipy():
    A, b = RNG.standard_normal((6, 6)) + 6 * np.eye(6), RNG.standard_normal(6)
    L, U = np.tril(A), np.triu(A)
    np.testing.assert_allclose(
        forward_substitution(L, b), linalg.solve_triangular(L, b, lower=True), atol=1e-12
    )
    np.testing.assert_allclose(back_substitution(U, b), linalg.solve_triangular(U, b), atol=1e-12)


def test_solve_inverse_and_determinant_match_numpy():
    A, b = RNG.standard_normal((7, 7)), RNG.standard_normal(7)
    factors = lu_decompose(A)
    np.testing.assert_allclose(lu_solve(*factors, b), np.linalg.solve(A, b), atol=1e-10)
    np.testing.assert_allclose(lu_inverse(*factors), np.linalg.inv(A), atol=1e-10)
    np.testing.assert_allclose(A @ lu_inverse(*factors), np.eye(7), atol=1e-12)
    assert lu_determinant(*factors) == pytest.approx(np.linalg.det(A), rel=1e-12)


@pytest.mark.parametrize(
    "perm", [[0, 1, 2, 3], [1, 0, 2, 3], [1, 2, 0, 3], [3, 2, 1, 0], [1, 0, 3, 2]]
)
def test_permutation_sign_is_the_determinant_of_P(perm):
    P = np.eye(4)[:, perm]
    assert permutation_sign(P) == pytest.approx(np.linalg.det(P), abs=1e-12)


def test_lu_residual_stays_at_round_off_where_the_inverse_fails_on_hilbert():
    H = linalg.hilbert(12)  # cond ~ 1.6e16
    b = H @ np.ones(12)
    lu_residual = relative_residual(H, lu_solve(*lu_decompose(H), b), b)
    inverse_residual = relative_residual(H, np.linalg.inv(H) @ b, b)
    assert lu_residual < 1e-14  # backward stable: a few units of round-off (eps = 2.2e-16)
    assert inverse_residual > 1e3 * lu_residual


def test_relative_residual_is_zero_for_the_exact_solution():
    A = np.diag([2.0, 4.0])
    assert relative_residual(A, np.array([1.0, 1.0]), np.array([2.0, 4.0])) == 0.0


def test_lu_rejects_non_square_matrices():
    with pytest.raises(ValueError, match=r"square matrix, got shape \(2, 3\)"):
        lu_decompose(np.ones((2, 3)))
