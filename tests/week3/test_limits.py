"""The derivative as a limit (W3.6): difference quotients against exact derivatives.

References: the analytic derivative (exp' = exp), the week's analytic logistic gradient
(``losses.logistic_gradient``, no autograd) dotted with the direction, and
``scipy.stats.linregress`` for the log-log slope. Tolerances: slopes within 0.1 of 1
(forward) and 2 (central) on the truncation-dominated range; the best h measured within a
factor of 10 of eps^(1/2) and eps^(1/3).
"""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from common.grading import grades
from projects.week3_regression import limits
from projects.week3_regression.data import load_task
from projects.week3_regression.losses import logistic_gradient, objective
from projects.week3_regression.pipeline import FD_STEPS

SLOPE_TOL = 0.1  # fitted exponents over 1.5 to 4 decades of h
ORDER_OF_MAGNITUDE = 10.0


def assert_truncation_then_round_off(table):
    summary = limits.error_summary(table)
    for scheme, order in limits.ORDER.items():
        result = summary[scheme]
        assert result["fitted_points"] >= 6, result
        assert result["slope"] == pytest.approx(order, abs=SLOPE_TOL), (scheme, result)
        ratio = result["best_h"] / limits.BEST_STEP_THEORY[scheme]
        assert 1 / ORDER_OF_MAGNITUDE <= ratio <= ORDER_OF_MAGNITUDE, (scheme, result)
    # below the best step the error grows again (round-off): the limit is not reached
    tiny = table["h"] <= 1e-12
    assert table.loc[tiny, "forward"].min() > 100 * summary["forward"]["min_error"]


@grades(limits.forward_difference, limits.loglog_slope)
def test_difference_quotients_of_exp_have_slopes_one_and_two_and_the_best_steps_of_theory():
    table = limits.difference_errors(math.exp, 1.0, math.exp(1.0), FD_STEPS)
    assert_truncation_then_round_off(table)


def test_the_logistic_loss_along_a_direction_behaves_the_same():
    split = load_task("logistic", test_size=0.2, standardize=True, seed=0)
    X, y = split.X_train, split.y_train

    def loss_fn(w, b, X, y):
        return objective("logistic", w, b, X, y, l2=0.01)

    theta, u = limits.random_point_and_direction(X.shape[1] + 1, seed=0)
    g_w, g_b = logistic_gradient(theta[:-1], theta[-1], X, y, l2=0.01)
    exact = float(torch.cat([g_w, g_b.reshape(1)]) @ u)
    phi = limits.along_direction(loss_fn, theta, u, X, y)
    assert phi(0.0) == pytest.approx(float(loss_fn(theta[:-1], theta[-1], X, y)), rel=1e-15)
    assert_truncation_then_round_off(limits.difference_errors(phi, 0.0, exact, FD_STEPS))


@grades(limits.forward_difference)
def test_forward_and_central_differences_are_exact_where_taylor_says():
    # forward: exact for a line; central: exact for a parabola (up to round-off)
    line, parabola = (lambda x: 3 * x + 1), (lambda x: x**2)
    assert limits.forward_difference(line, 0.5, 0.25) == pytest.approx(3.0, rel=1e-15)
    assert limits.central_difference(parabola, 0.5, 0.25) == pytest.approx(1.0, rel=1e-15)
    assert limits.forward_difference(parabola, 0.5, 0.25) == pytest.approx(1.25, rel=1e-15)


@grades(limits.loglog_slope)
def test_loglog_slope_matches_linregress():
    h = np.logspace(-4, -1, 13)
    error = 3.0 * h**1.7 * (1 + 0.01 * np.sin(h * 100))
    expected = stats.linregress(np.log10(h), np.log10(error)).slope
    assert limits.loglog_slope(h, error) == pytest.approx(expected, rel=1e-12)


def test_truncation_range_starts_a_factor_above_the_best_step_and_stops_at_h_max():
    h = np.logspace(-10, 0, 11)
    error = np.abs(np.log10(h) + 6) + 1  # smallest at h = 1e-6
    mask = limits.truncation_range(h, error, factor=100.0, h_max=0.1)
    np.testing.assert_array_equal(h[mask], [1e-4, 1e-3, 1e-2, 1e-1])
