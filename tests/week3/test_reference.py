"""Closed forms and the scikit-learn mappings of ``reference`` (W3.X1-X3).

References: sklearn ``LinearRegression``, ``Ridge``, ``Lasso`` and ``LogisticRegression``
for the fits, and the autograd gradient of our own objective (zero at its minimizer) for
the penalty-scaling mappings. Tolerances are stated per test.
"""

import functools

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.preprocessing import StandardScaler

from common.grading import grades
from projects.week3_regression.losses import objective
from projects.week3_regression.optimize import newton
from projects.week3_regression.reference import (
    constrained_least_squares,
    fista,
    lasso_ista,
    least_squares_lstsq,
    least_squares_qr,
    project_ball,
    ridge_cholesky,
    ridge_multiplier,
    ridge_qr,
    sklearn_lasso,
    sklearn_linear,
    sklearn_logistic,
    sklearn_ridge,
    soft_threshold,
)

DTYPE = torch.float64


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def objective_gradient(kind, w, b, X, y, **penalties):
    """grad of our objective at (w, b), by autograd: zero at its minimizer."""
    theta = torch.tensor(np.append(w, b), dtype=DTYPE, requires_grad=True)
    X_t, y_t = torch.tensor(X, dtype=DTYPE), torch.tensor(y, dtype=DTYPE)
    objective(kind, theta[:-1], theta[-1], X_t, y_t, **penalties).backward()
    return theta.grad.numpy()


@pytest.mark.parametrize("solve", [least_squares_qr, least_squares_lstsq])
@grades(least_squares_qr)
def test_least_squares_matches_linear_regression(solve, diabetes):
    X, y = diabetes
    w, b = solve(X, y)
    w_ref, b_ref = sklearn_linear(X, y)
    np.testing.assert_allclose(w, w_ref, rtol=1e-8, atol=1e-8)
    assert b == pytest.approx(b_ref, rel=1e-8)
    # normal equations X_c^T r = 0: the gradient of (1/2n)||r||^2 vanishes
    np.testing.assert_allclose(objective_gradient("mse", w, b, X, y), 0, atol=1e-10)


@grades(least_squares_qr)
def test_least_squares_on_uncentred_data(diabetes):
    X, y = diabetes
    X = 3.0 * X + 10.0  # the intercept must absorb the shift
    w, b = least_squares_qr(X, y)
    w_ref, b_ref = sklearn_linear(X, y)
    np.testing.assert_allclose(w, w_ref, rtol=1e-8, atol=1e-8)
    assert b == pytest.approx(b_ref, rel=1e-8)


@pytest.mark.parametrize("lam", [1e-3, 0.1, 10.0])
@grades(ridge_cholesky)
def test_ridge_closed_forms_match_sklearn_ridge(lam, diabetes):
    X, y = diabetes
    w_ref, b_ref = sklearn_ridge(X, y, lam)  # Ridge(alpha = n lam)
    for solve in (ridge_qr, ridge_cholesky):
        w, b = solve(X, y, lam)
        np.testing.assert_allclose(w, w_ref, rtol=1e-8, atol=1e-8)
        assert b == pytest.approx(b_ref, rel=1e-10)
    # the mapping alpha = n lam itself: sklearn's solution zeroes OUR objective's gradient
    np.testing.assert_allclose(objective_gradient("mse", w_ref, b_ref, X, y, l2=lam), 0, atol=1e-9)


def test_ridge_shrinks_the_weights(diabetes):
    # W3.X2: ||w_ridge(lam)|| decreases strictly as lam grows, towards 0
    X, y = diabetes
    norms = [np.linalg.norm(ridge_qr(X, y, lam)[0]) for lam in np.logspace(-4, 3, 15)]
    assert np.all(np.diff(norms) < 0)
    assert norms[-1] < 1e-2 * norms[0]


@pytest.mark.parametrize("fraction", [0.3, 0.7])
@grades(ridge_cholesky)
def test_norm_constrained_least_squares_is_ridge(fraction, diabetes):
    # W3.X3: argmin f s.t. ||w|| <= t equals ridge at the multiplier lam of the bound
    X, y = diabetes
    t = fraction * np.linalg.norm(least_squares_qr(X, y)[0])
    lam = ridge_multiplier(X, y, t)
    w_ridge, b_ridge = ridge_qr(X, y, lam)
    assert np.linalg.norm(w_ridge) == pytest.approx(t, rel=1e-10)
    w, b, mu = constrained_least_squares(X, y, t)
    np.testing.assert_allclose(w, w_ridge, rtol=0, atol=1e-6)  # |w_j| ~ 1..30
    assert b == pytest.approx(b_ridge, rel=1e-12)
    assert mu == pytest.approx(lam, rel=1e-5)  # the KKT multiplier is the ridge lam


def test_ridge_multiplier_needs_an_active_bound(diabetes):
    X, y = diabetes
    norm = np.linalg.norm(least_squares_qr(X, y)[0])
    with pytest.raises(ValueError, match=r"t must be in \(0, \|\|w_ols\|\| = "):
        ridge_multiplier(X, y, 2 * norm)


def test_project_ball_and_soft_threshold():
    w = np.array([3.0, 4.0])
    np.testing.assert_allclose(project_ball(w, 1.0), [0.6, 0.8])
    np.testing.assert_array_equal(project_ball(w, 10.0), w)
    np.testing.assert_array_equal(soft_threshold(np.array([-3.0, 0.5, 2.0]), 1.0), [-2, 0, 1])


@pytest.mark.parametrize("steps", [300, 1000])
def test_fista_keeps_its_one_over_k_squared_guarantee(steps):
    """Beck & Teboulle (2009), Theorem 4.4: F(w_k) - F* <= 2 L ||w_0 - w*||^2 / (k + 1)^2.

    An ill-conditioned quadratic (eigenvalues 1 .. 1e-6, w* = 1, no prox) where momentum is
    what beats gradient descent's O(1/k): measured, FISTA sits at 5-7% of the bound, while a
    momentum sequence that settles (s_k constant, e.g. a dropped square in s_k^2) exceeds it
    from k ~ 200 on (1.3x at 300 steps, 4.4x at 1000).
    """
    eigenvalues, w_star = np.logspace(0, -6, 50), np.ones(50)
    G = np.diag(eigenvalues)
    c = G @ w_star

    def f(w):
        return 0.5 * w @ G @ w - c @ w

    w = fista(G, c, lambda v, step: v, max_steps=steps, tol=0.0)
    bound = 2 * eigenvalues.max() * (w_star @ w_star) / (steps + 1) ** 2  # w_0 = 0
    assert 0 <= f(w) - f(w_star) <= bound


@pytest.mark.parametrize("lam", [0.1, 1.0, 5.0])
def test_lasso_ista_matches_sklearn_lasso(lam, diabetes):
    X, y = diabetes
    w, b = lasso_ista(X, y, lam)
    w_ref, b_ref = sklearn_lasso(X, y, lam)  # Lasso(alpha = lam)
    np.testing.assert_allclose(w, w_ref, rtol=0, atol=1e-6)
    assert b == pytest.approx(b_ref, rel=1e-10)
    np.testing.assert_array_equal(w == 0, np.abs(w_ref) < 1e-8)  # the same exact zeros


def test_l1_path_zeros_more_weights_as_lam_grows(diabetes):
    # W3.X2: L1 sets weights exactly to zero; all of them once lam >= ||X_c^T y_c||_inf / n
    X, y = diabetes
    X_c, y_c = X - X.mean(axis=0), y - y.mean()
    lam_max = np.abs(X_c.T @ y_c).max() / len(y)
    lams = lam_max * np.array([1e-3, 0.01, 0.1, 0.3, 0.6, 1.0])
    zeros = [int(np.sum(lasso_ista(X, y, lam)[0] == 0)) for lam in lams]
    assert zeros[0] < zeros[-1] == X.shape[1]
    assert np.all(np.diff(zeros) >= 0)
    assert np.sum(ridge_qr(X, y, lams[-1])[0] == 0) == 0  # L2 shrinks but never zeroes


@pytest.mark.parametrize("lam", [1e-3, 0.1])
def test_logistic_regression_c_mapping(lam, cancer):
    X, y = cancer
    w, b, _ = sklearn_logistic(X, y, lam, solver="newton-cg", tol=1e-12)  # C = 1 / (n lam)
    grad = objective_gradient("logistic", w, b, X, y, l2=lam)
    assert np.linalg.norm(grad) <= 1e-7
    # and the wrong scaling, C = 1 / lam, is not a minimizer: the test can fail
    wrong = sklearn_logistic(X, y, lam * len(y), solver="newton-cg", tol=1e-12)
    assert np.linalg.norm(objective_gradient("logistic", *wrong[:2], X, y, l2=lam)) > 1e-3


def test_unpenalized_logistic_regression(cancer):
    # lam = 0 is C = inf; a few features, so the classes are not separable and w* is finite
    X, y = cancer
    X = X[:, :4]
    w_ref, b_ref, _ = sklearn_logistic(X, y, 0.0, tol=1e-12, max_iter=100_000)
    X_t, y_t = torch.tensor(X, dtype=DTYPE), torch.tensor(y, dtype=DTYPE)
    start = [torch.zeros(4, dtype=DTYPE), torch.zeros((), dtype=DTYPE)]
    loss = functools.partial(objective, "logistic")
    result = newton(loss, start, X_t, y_t, max_steps=50, tol=1e-12)
    assert result.converged
    np.testing.assert_allclose(result.params[0].numpy(), w_ref, rtol=1e-5, atol=1e-6)
    assert result.params[1].item() == pytest.approx(b_ref, rel=1e-5, abs=1e-6)
