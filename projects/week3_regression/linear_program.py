"""Least absolute deviations as a linear program (W3.X6).

LAD regression minimizes sum_i |y_i - x_i^T w - b|, which is not differentiable but is
linear once each |r_i| gets a slack t_i >= |r_i|, i.e. -t_i <= y_i - x_i^T w - b <= t_i:

    minimize    1^T t                       over w (p, free), b (free), t (n, >= 0)
    subject to   X w + b 1 - t <= y
                -X w - b 1 - t <= -y

At the optimum t_i = |r_i| (a larger t_i could be lowered), so 1^T t is the LAD objective.
An optimal vertex has at least p + 1 zero residuals: the fit passes through data points,
and moving an outlier's y further away changes nothing while it stays on the same side
(the median's robustness, in p dimensions). Least squares, by contrast, moves with every y.

Sources:
- S. Boyd, L. Vandenberghe, "Convex Optimization" (2004), 4.3 (linear programs; 4.3.1 the
  l1-norm approximation as an LP) and 6.1.2 (penalty functions and robustness to outliers).
- R. Koenker, "Quantile Regression" (2005), 1.3 and 6.2 (the median regression LP).
"""

import numpy as np
from scipy import optimize, sparse

from common.exercises import exercise
from projects.week3_regression.reference import least_squares_qr


@exercise(
    "W3.X6",
    hint="variables [w, b, t]: c = [0, 0, 1]; stack [X 1 -I] and [-X -1 -I] as A_ub; t >= 0",
)
def lad_linprog(X, y):
    """(w, b, objective sum_i |y_i - x_i^T w - b|) from the LP above, by HiGHS.

    minimize 1^T t over (w, b, t) s.t. X w + b 1 - t <= y, -X w - b 1 - t <= -y, t >= 0
    (``scipy.optimize.linprog(..., method="highs")``). ``X``: array (n, p), ``y``: (n,).
    Returns (w of shape (p,), b a float, the optimal objective a float).
    """
    n, p = X.shape
    ones, eye = np.ones((n, 1)), sparse.identity(n, format="csr")
    fit = sparse.csr_matrix(np.hstack([X, ones]))  # [X 1], shape (n, p + 1)
    A_ub = sparse.vstack([sparse.hstack([fit, -eye]), sparse.hstack([-fit, -eye])])
    b_ub = np.concatenate([y, -y])
    c = np.concatenate([np.zeros(p + 1), np.ones(n)])  # minimize 1^T t
    bounds = [(None, None)] * (p + 1) + [(0, None)] * n
    result = optimize.linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if not result.success:
        raise RuntimeError(f"linprog failed: {result.message}")
    return result.x[:p], float(result.x[p]), float(result.fun)


@exercise("W3.X6", hint="the residuals y - X @ w - b, then their absolute values summed")
def absolute_deviations(X, y, w, b):
    """sum_i |y_i - x_i^T w - b|: the LAD objective at (w, b).

    ``X``: array (n, p), ``y``: (n,), ``w``: (p,), ``b``: a float. Returns a float.
    """
    return float(np.sum(np.abs(y - X @ w - b)))


def lad_and_least_squares(X, y):
    """{"lad": (w, b), "least_squares": (w, b)}: both fits of the same data."""
    return {"lad": lad_linprog(X, y)[:2], "least_squares": least_squares_qr(X, y)}


def inject_outliers(y, count, shift, seed):
    """(y with ``count`` seeded rows moved up by ``shift``, the rows moved)."""
    rows = np.random.default_rng(seed).choice(len(y), size=count, replace=False)
    y_out = np.array(y, dtype=np.float64)
    y_out[rows] += shift
    return y_out, np.sort(rows)
