"""Newton-Raphson (W3.X4) against independent roots: math.sqrt, and scipy's brentq on the
ridge multiplier (``reference.ridge_multiplier``). Tolerances: 1e-10 relative to brentq
(both stop near round-off of a well-conditioned root); the observed order of convergence
within 0.1 of 2 on the last steps above round-off.
"""

import math

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.preprocessing import StandardScaler

from common.grading import grades
from projects.week3_regression import roots
from projects.week3_regression.reference import least_squares_qr, ridge_cholesky, ridge_multiplier

BRENTQ_RTOL = 1e-10
ORDER_TOL = 0.1


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@grades(roots.newton_raphson, roots.convergence_orders)
def test_newton_finds_sqrt_two_and_doubles_its_digits():
    iterates = roots.newton_raphson(lambda x: x * x - 2, lambda x: 2 * x, 1.0)
    assert iterates[-1] == pytest.approx(math.sqrt(2), rel=1e-15)
    assert len(iterates) <= 8  # 1, 1.5, 1.4167, 1.41421569, ...: about 2^k digits
    orders = roots.convergence_orders(np.abs(iterates - math.sqrt(2)) / math.sqrt(2))
    assert orders[-1] == pytest.approx(2.0, abs=ORDER_TOL)


@grades(roots.convergence_orders)
def test_convergence_orders_of_known_sequences():
    linear = 0.5 ** np.arange(10)
    quadratic = 10.0 ** -(2.0 ** np.arange(4))  # 1e-1, 1e-2, 1e-4, 1e-8
    np.testing.assert_allclose(roots.convergence_orders(linear), 1.0, rtol=1e-12)
    np.testing.assert_allclose(roots.convergence_orders(quadratic), 2.0, rtol=1e-12)
    assert len(roots.convergence_orders([1e-1, 1e-2, 1e-4, 1e-8, 1e-16])) == 2  # floor 1e-10


def test_secular_equation_and_its_derivative_match_ridge_and_a_central_difference(diabetes):
    X, y = diabetes
    t = 10.0
    phi, dphi = roots.secular_equation(X, y, t)
    for lam in (0.0, 0.1, 2.0):
        w = ridge_cholesky(X, y, lam)[0] if lam else least_squares_qr(X, y)[0]
        assert phi(lam) == pytest.approx(w @ w - t**2, rel=1e-10)
    h = 1e-5  # central difference: relative error ~ h^2 ~ 1e-10
    assert dphi(0.5) == pytest.approx((phi(0.5 + h) - phi(0.5 - h)) / (2 * h), rel=1e-7)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
@grades(roots.newton_raphson)
def test_newton_multiplier_matches_brentq_quadratically(diabetes, fraction):
    X, y = diabetes
    t = fraction * np.linalg.norm(least_squares_qr(X, y)[0])
    iterates = roots.ridge_multiplier_newton(X, y, t)
    lam = ridge_multiplier(X, y, t)
    assert iterates[-1] == pytest.approx(lam, rel=BRENTQ_RTOL)
    assert np.all(np.diff(iterates[:-1]) > 0)  # convex, decreasing phi: a monotone climb
    orders = roots.convergence_orders(np.abs(iterates - lam) / lam)
    assert orders[-1] == pytest.approx(2.0, abs=ORDER_TOL)
    assert len(iterates) - 1 <= 20


def test_newton_multiplier_rejects_an_inactive_bound(diabetes):
    X, y = diabetes
    norm = np.linalg.norm(least_squares_qr(X, y)[0])
    with pytest.raises(ValueError, match=r"t must be in \(0, \|\|w_ols\|\|"):
        roots.ridge_multiplier_newton(X, y, 1.5 * norm)
