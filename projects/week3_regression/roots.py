"""Root finding by Newton-Raphson (W3.X4): x_{k+1} = x_k - phi(x_k) / phi'(x_k), and its
quadratic convergence, e_{k+1} ~ C e_k^2 near a simple root (the number of correct digits
doubles every step).

The root it finds: the ridge multiplier of the norm-constrained least squares problem
(W3.X3), the lam > 0 with ||w(lam)||^2 = t^2, where w(lam) minimizes
(1/2n) ||X_c w - y_c||^2 + (lam/2) ||w||^2. With the thin SVD X_c = U S V^T and
c_i = s_i (U^T y_c)_i, w(lam) = V diag(s_i / (s_i^2 + n lam)) U^T y_c, so the secular equation

    phi(lam)  = sum_i c_i^2 / (s_i^2 + n lam)^2 - t^2 = 0
    phi'(lam) = -2 n sum_i c_i^2 / (s_i^2 + n lam)^3

costs O(p) per evaluation once the SVD is known. phi is decreasing and convex on lam >= 0,
so Newton from lam_0 = 0 (where phi > 0 when t < ||w_ols||) climbs monotonically to the
root without overshooting: each tangent meets zero left of the root.

Sources:
- J. Nocedal, S. J. Wright, "Numerical Optimization", 2nd ed. (2006), 11.1 (Newton's
  method for nonlinear equations, its quadratic rate) and 4.3 (the secular equation of
  the trust-region subproblem, the same ||w(lam)|| = t).
- G. H. Golub, C. F. Van Loan, "Matrix Computations", 4th ed. (2013), 6.1.5 (least squares
  with a quadratic inequality constraint via the SVD).
"""

import numpy as np

from common.exercises import exercise


@exercise(
    "W3.X4",
    hint="a loop: the tangent at x_k meets zero at x_k - phi(x_k) / dphi(x_k); keep every x",
)
def newton_raphson(phi, dphi, x0, tol=1e-12, max_steps=100):
    """The iterates x_0, x_1, ... of x_{k+1} = x_k - phi(x_k) / phi'(x_k), up to the first
    step with |x_{k+1} - x_k| <= tol |x_{k+1}| (or ``max_steps`` steps); a float array.

    ``phi``, ``dphi``: functions of a float returning floats; ``x0``: a float. Returns the
    float64 array [x_0, x_1, ..., x_K], shape (K + 1,), K <= max_steps. tol = 1e-12 is
    enough: near the root the next error is about the square of this step.
    """
    x = float(x0)
    iterates = [x]
    for _ in range(max_steps):
        x_next = x - phi(x) / dphi(x)
        iterates.append(x_next)
        if abs(x_next - x) <= tol * abs(x_next):
            break
        x = x_next
    return np.array(iterates)


def secular_equation(X, y, t):
    """(phi, phi') of ||w_ridge(lam)||^2 - t^2 from one SVD of the centred X (see above)."""
    X_c, y_c = X - X.mean(axis=0), y - y.mean()
    n = X_c.shape[0]
    U, s, _ = np.linalg.svd(X_c, full_matrices=False)
    c2 = (s * (U.T @ y_c)) ** 2  # c_i^2, shape (p,)

    def phi(lam):
        return float(np.sum(c2 / (s**2 + n * lam) ** 2) - t**2)

    def dphi(lam):
        return float(-2 * n * np.sum(c2 / (s**2 + n * lam) ** 3))

    return phi, dphi


def ridge_multiplier_newton(X, y, t, tol=1e-12, max_steps=100):
    """The Newton iterates lam_0 = 0, lam_1, ... towards the lam with ||w_ridge(lam)|| = t;
    the last one is the multiplier. Needs 0 < t < ||w_ols|| (an active constraint)."""
    phi, dphi = secular_equation(X, y, t)
    if not (t > 0 and phi(0.0) > 0):
        raise ValueError(f"t must be in (0, ||w_ols|| = {np.sqrt(phi(0.0) + t**2):.6g}), got {t!r}")
    return newton_raphson(phi, dphi, 0.0, tol=tol, max_steps=max_steps)


@exercise("W3.X4", hint="e_{k+1} ~ C e_k^q: take logs of two successive ratios and divide")
def convergence_orders(errors, floor=1e-10):
    """q_k = log(e_{k+1} / e_k) / log(e_k / e_{k-1}) for each k whose three errors are above
    ``floor``; about 1 for linear convergence, 2 for quadratic. Errors are relative, and the
    floor must stay well above the accuracy of the root they are measured from (brentq's
    multiplier is good to about 1e-13 here): below it the ratios are round-off.
    Skips a k with e_k = e_{k-1}. ``errors``: (m,) floats; returns a float64 array, one q
    per k kept, in order of k (empty if none)."""
    e = np.asarray(errors, dtype=np.float64)
    orders = []
    for k in range(1, len(e) - 1):
        if min(e[k - 1], e[k], e[k + 1]) > floor and e[k] != e[k - 1]:
            orders.append(np.log(e[k + 1] / e[k]) / np.log(e[k] / e[k - 1]))
    return np.array(orders)
