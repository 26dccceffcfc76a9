"""Reference solutions the iterative optimizers are tested against: closed forms and sklearn.

Least squares. With the intercept handled by centring (X_c = X - 1 mu_x^T, y_c = y - mean y;
exact because b is unpenalized), w minimizes ||X_c w - y_c||^2 and b = mean(y) - mu_x^T w.
QR: X_c = Q R gives R w = Q^T y_c (a triangular solve; no (X^T X)^{-1}, whose condition
number is the square of X's). ``lstsq`` uses the SVD-based LAPACK gelsd.

Ridge. Our objective (1/2n) ||X_c w - y_c||^2 + (lam/2) ||w||^2 has gradient
X_c^T (X_c w - y_c) / n + lam w = 0, i.e. (X_c^T X_c + n lam I) w = X_c^T y_c: the least-
squares solution of the augmented system [X_c; sqrt(n lam) I] w ~ [y_c; 0].
Multiplying the objective by 2n (same minimizer) gives ||r||^2 + n lam ||w||^2: sklearn
``Ridge(alpha=n * lam)`` exactly.

Lasso. (1/2n) ||r||^2 + lam ||w||_1 is sklearn's ``Lasso`` objective with alpha = lam.

Logistic regression. sklearn minimizes C sum_i log(1 + exp(-s_i z_i)) + (1/2) ||w||^2.
Dividing by C n gives (1/n) sum_i log(1 + exp(-s_i z_i)) + (1/(2 C n)) ||w||^2, ours with
lam = 1 / (C n): ``LogisticRegression(C=1 / (n * lam))``; lam = 0 is C = inf (sklearn >= 1.8
spells penalty=None this way).

Lagrange view (W3.X3). min ||X_c w - y_c||^2 / 2n subject to ||w||^2 <= t^2 has the
Lagrangian (1/2n) ||r||^2 + (mu/2) (||w||^2 - t^2); when the bound is active (t < ||w_ols||)
its stationary point is ridge at lam = mu, with mu > 0 the unique lam where
||w_ridge(lam)|| = t (the norm decreases strictly in lam).

Sources:
- G. H. Golub, C. F. Van Loan, "Matrix Computations", 4th ed. (2013), 5.3 (least squares by QR).
- T. Hastie, R. Tibshirani, J. Friedman, "The Elements of Statistical Learning", 2nd ed.
  (2009), 3.4.1 (ridge as a constrained problem), 3.4.2 (lasso).
- A. Beck, M. Teboulle, "A fast iterative shrinkage-thresholding algorithm", SIAM J.
  Imaging Sciences 2(1) (2009) (proximal gradient, ISTA).
"""

import numpy as np
from scipy import linalg, optimize
from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression, Ridge

from common.exercises import exercise


def center(X, y):
    """(X_c, y_c, mu_x, mean y): centred data, so the intercept drops out of the fit."""
    mu_x, y_mean = X.mean(axis=0), y.mean()
    return X - mu_x, y - y_mean, mu_x, y_mean


def intercept(w, mu_x, y_mean):
    """b = mean(y) - mu_x^T w: the intercept that goes with w on uncentred data."""
    return y_mean - mu_x @ w


@exercise(
    "W3.X1",
    hint="center(X, y), then np.linalg.qr and scipy.linalg.solve_triangular; b from intercept",
)
def least_squares_qr(X, y):
    """(w, b) with R w = Q^T y_c, X_c = Q R (thin QR; triangular solve, no inverse).

    ``X``: array (n, p) of full column rank, ``y``: (n,). X_c, y_c are centred (``center``)
    and b = mean(y) - mu_x^T w (``intercept``). Returns (w of shape (p,), b a float).
    """
    X_c, y_c, mu_x, y_mean = center(X, y)
    Q, R = np.linalg.qr(X_c)  # Q (n, p), R (p, p) upper triangular
    w = linalg.solve_triangular(R, Q.T @ y_c)
    return w, intercept(w, mu_x, y_mean)


def least_squares_lstsq(X, y):
    """(w, b) with w = argmin ||X_c w - y_c||^2 by LAPACK gelsd (SVD)."""
    X_c, y_c, mu_x, y_mean = center(X, y)
    w = np.linalg.lstsq(X_c, y_c, rcond=None)[0]
    return w, intercept(w, mu_x, y_mean)


def ridge_qr(X, y, lam):
    """(w, b) minimizing (1/2n)||X w + b - y||^2 + (lam/2)||w||^2: QR of [X_c; sqrt(n lam) I]."""
    X_c, y_c, mu_x, y_mean = center(X, y)
    n, p = X_c.shape
    A = np.vstack([X_c, np.sqrt(n * lam) * np.eye(p)])  # shape (n + p, p)
    Q, R = np.linalg.qr(A)
    w = linalg.solve_triangular(R, Q[:n].T @ y_c)  # Q^T [y_c; 0] = Q[:n]^T y_c
    return w, intercept(w, mu_x, y_mean)


@exercise(
    "W3.X3",
    hint="build G = X_c.T @ X_c + n * lam * I; scipy.linalg.cho_factor / cho_solve, not inv",
)
def ridge_cholesky(X, y, lam):
    """(w, b) with (X_c^T X_c + n lam I) w = X_c^T y_c, by Cholesky (lam > 0: SPD system).

    The stationary point of the Lagrangian (1/2n) ||X_c w - y_c||^2 + (lam/2)(||w||^2 - t^2)
    for the multiplier lam: ridge regression. ``X``: array (n, p), ``y``: (n,), ``lam``: a
    float > 0. Returns (w of shape (p,), b = mean(y) - mu_x^T w a float).
    """
    X_c, y_c, mu_x, y_mean = center(X, y)
    n, p = X_c.shape
    G = X_c.T @ X_c + n * lam * np.eye(p)  # shape (p, p)
    w = linalg.cho_solve(linalg.cho_factor(G), X_c.T @ y_c)
    return w, intercept(w, mu_x, y_mean)


def ridge_multiplier(X, y, t):
    """The lam > 0 with ||w_ridge(lam)|| = t, by Brent's method on log lam.

    Needs 0 < t < ||w_ols||: otherwise the norm bound is inactive and lam = 0.
    """
    w_ols = least_squares_lstsq(X, y)[0]
    if not 0 < t < np.linalg.norm(w_ols):
        raise ValueError(f"t must be in (0, ||w_ols|| = {np.linalg.norm(w_ols):.6g}), got {t!r}")

    def gap(log_lam):
        return np.linalg.norm(ridge_cholesky(X, y, np.exp(log_lam))[0]) - t

    lo, hi = -30.0, 0.0
    while gap(hi) > 0:  # ||w(lam)|| -> 0 as lam -> inf: widen until the bound is met
        hi += 5.0
    return float(np.exp(optimize.brentq(gap, lo, hi, xtol=1e-14, rtol=1e-14)))


def project_ball(w, t):
    """Euclidean projection onto {||w|| <= t}: w min(1, t / ||w||)."""
    norm = np.linalg.norm(w)
    return w if norm <= t else w * (t / norm)


def fista(G, c, prox, max_steps, tol):
    """argmin 1/2 w^T G w - c^T w + h(w) by accelerated proximal gradient (Beck, Teboulle 2009).

    w_{k+1} = prox_h(v_k - (G v_k - c) / L, 1/L), L = lambda_max(G), and Nesterov's
    v_{k+1} = w_{k+1} + ((s_k - 1) / s_{k+1}) (w_{k+1} - w_k). ``prox(v, step)`` is the
    proximal map of step * h: a projection for a constraint, soft thresholding for L1.
    """
    L = np.linalg.eigvalsh(G)[-1]
    w = v = np.zeros(len(c))
    s = 1.0
    for _ in range(max_steps):
        w_next = prox(v - (G @ v - c) / L, 1 / L)
        s_next = (1 + np.sqrt(1 + 4 * s**2)) / 2
        v = w_next + ((s - 1) / s_next) * (w_next - w)
        done = np.linalg.norm(w_next - w) <= tol
        w, s = w_next, s_next
        if done:
            break
    return w


def constrained_least_squares(X, y, t, max_steps=100_000, tol=1e-13):
    """(w, b, mu): argmin (1/2n)||X_c w - y_c||^2 s.t. ||w|| <= t, by accelerated projected GD.

    w_{k+1} = P(v_k - grad f(v_k) / L) with L = sigma_max(X_c)^2 / n and Nesterov momentum
    v (FISTA with a projection for the prox). mu = -w^T grad f(w) / t^2 recovers the KKT
    multiplier from grad f(w) + mu w = 0.
    """
    X_c, y_c, mu_x, y_mean = center(X, y)
    n = X_c.shape[0]
    G, c = X_c.T @ X_c / n, X_c.T @ y_c / n  # grad f(w) = G w - c
    w = fista(G, c, lambda v, step: project_ball(v, t), max_steps, tol)
    mu = -w @ (G @ w - c) / t**2
    return w, intercept(w, mu_x, y_mean), mu


def soft_threshold(v, kappa):
    """prox of kappa ||.||_1: sign(v) max(|v| - kappa, 0) (exact zeros below kappa)."""
    return np.sign(v) * np.maximum(np.abs(v) - kappa, 0.0)


def lasso_ista(X, y, lam, max_steps=100_000, tol=1e-12):
    """(w, b) minimizing (1/2n)||X_c w - y_c||^2 + lam ||w||_1 by proximal gradient (FISTA).

    w_{k+1} = soft_threshold(v_k - grad f(v_k) / L, lam / L), L = sigma_max(X_c)^2 / n.
    """
    X_c, y_c, mu_x, y_mean = center(X, y)
    n = X_c.shape[0]
    G, c = X_c.T @ X_c / n, X_c.T @ y_c / n  # grad f(w) = G w - c
    w = fista(G, c, lambda v, step: soft_threshold(v, lam * step), max_steps, tol)
    return w, intercept(w, mu_x, y_mean)


def sklearn_linear(X, y):
    """(w, b) of sklearn ``LinearRegression``."""
    model = LinearRegression().fit(X, y)
    return model.coef_, model.intercept_


def sklearn_ridge(X, y, lam):
    """(w, b) of sklearn ``Ridge(alpha=n * lam)``: the minimizer of our ridge objective."""
    model = Ridge(alpha=X.shape[0] * lam, solver="cholesky").fit(X, y)
    return model.coef_, model.intercept_


def sklearn_lasso(X, y, lam, tol=1e-12, max_iter=100_000):
    """(w, b) of sklearn ``Lasso(alpha=lam)``: the minimizer of mse_loss + l1_penalty."""
    model = Lasso(alpha=lam, tol=tol, max_iter=max_iter).fit(X, y)
    return model.coef_, model.intercept_


def sklearn_logistic(X, y, lam, solver="lbfgs", tol=1e-10, max_iter=10_000):
    """(w, b, model) of sklearn ``LogisticRegression(C=1 / (n * lam))``; lam = 0: C = inf."""
    C = np.inf if lam == 0 else 1.0 / (X.shape[0] * lam)
    model = LogisticRegression(C=C, solver=solver, tol=tol, max_iter=max_iter).fit(X, y)
    return model.coef_[0], model.intercept_[0], model
