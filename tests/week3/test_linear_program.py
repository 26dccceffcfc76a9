"""Least absolute deviations as a linear program (W3.X6) against scikit-learn's
``QuantileRegressor(quantile=0.5, alpha=0, solver="highs")`` (a different LP formulation of
the same median regression). Tolerances: coefficients within 1e-6 absolute (weights of
order 10-100; measured ~1e-13), objective values within 1e-8 relative.
"""

import numpy as np
import pytest
from sklearn.linear_model import QuantileRegressor

from common.grading import grades
from projects.week3_regression import linear_program as lp
from projects.week3_regression.data import load_task
from projects.week3_regression.pipeline import OUTLIERS

COEF_ATOL = 1e-6
OBJECTIVE_RTOL = 1e-8


@pytest.fixture(scope="module")
def diabetes():
    split = load_task("linear", test_size=0.2, standardize=True, seed=0)
    return split.X_train.numpy(), split.y_train.numpy()


def median_regression(X, y):
    model = QuantileRegressor(quantile=0.5, alpha=0.0, solver="highs").fit(X, y)
    return model.coef_, model.intercept_


@pytest.mark.parametrize("outliers", [False, True])
@grades(lp.lad_linprog, lp.absolute_deviations)
def test_lad_linear_program_matches_quantile_regressor(diabetes, outliers):
    X, y = diabetes
    if outliers:
        y = lp.inject_outliers(y, 10, 1000.0, seed=1)[0]
    w, b, objective = lp.lad_linprog(X, y)
    w_sk, b_sk = median_regression(X, y)
    np.testing.assert_allclose(w, w_sk, atol=COEF_ATOL)
    assert b == pytest.approx(b_sk, abs=COEF_ATOL)
    assert objective == pytest.approx(lp.absolute_deviations(X, y, w_sk, b_sk), rel=OBJECTIVE_RTOL)
    assert objective == pytest.approx(lp.absolute_deviations(X, y, w, b), rel=OBJECTIVE_RTOL)


@grades(lp.lad_linprog)
def test_lad_optimum_interpolates_at_least_p_plus_one_points_and_beats_least_squares(diabetes):
    X, y = diabetes
    w, b, objective = lp.lad_linprog(X, y)
    residuals = y - X @ w - b
    assert np.sum(np.abs(residuals) < 1e-8) >= X.shape[1] + 1  # a vertex of the LP
    w_ls, b_ls = lp.lad_and_least_squares(X, y)["least_squares"]
    assert objective < lp.absolute_deviations(X, y, w_ls, b_ls)


def test_lad_moves_far_less_than_least_squares_when_outliers_are_injected(diabetes):
    X, y = diabetes
    shift = OUTLIERS["shift_in_std"] * y.std()
    y_out, rows = lp.inject_outliers(y, OUTLIERS["count"], shift, seed=0)
    assert len(rows) == OUTLIERS["count"]
    np.testing.assert_allclose(y_out[rows] - y[rows], shift)
    clean, dirty = lp.lad_and_least_squares(X, y), lp.lad_and_least_squares(X, y_out)
    moved = {m: np.linalg.norm(dirty[m][0] - clean[m][0]) for m in clean}
    assert moved["lad"] < moved["least_squares"] / 3


def test_least_squares_part_is_the_closed_form(diabetes):
    X, y = diabetes
    w, b = lp.lad_and_least_squares(X, y)["least_squares"]
    X1 = np.column_stack([X, np.ones(len(X))])
    np.testing.assert_allclose(np.append(w, b), np.linalg.lstsq(X1, y, rcond=None)[0], rtol=1e-10)
