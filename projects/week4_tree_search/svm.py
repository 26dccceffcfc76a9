"""A linear support vector machine trained on its primal by autograd (W4.5).

Model. Labels y_i in {-1, +1}, a hyperplane f(x) = w.x + b and the primal objective

    P(w, b) = C sum_i max(0, 1 - y_i f(x_i)) + ||w||_2^2 / 2

(hinge losses plus an L2 penalty; b is not penalized, as in ``sklearn.svm.SVC``). The two
lines f(x) = +-1 lie 2 / ||w||_2 apart: the margin. Points with y_i f(x_i) < 1 pay a hinge
loss; the support vectors are the points with y_i f(x_i) <= 1 (on or inside the margin),
the only ones whose dual weights alpha_i are non-zero (w = sum_i alpha_i y_i x_i).

Training. The hinge is not differentiable at 1, and L-BFGS on it stalls far from the
optimum. So it is smoothed, max(0, z) ~ tau log(1 + exp(z / tau)) (softplus, at most
tau log 2 above the hinge), and the smoothed objective P_tau is minimized by L-BFGS for
tau = 0.1, 1e-3, 1e-5, 1e-7, each stage starting where the last ended (continuation). Torch
autograd computes P_tau and its gradient (``loss.backward()``) at every point the
optimizer asks for; the steps are ``scipy.optimize.minimize(method="L-BFGS-B")``'s, with
up to 100 line-search trials (the default 20 give up once tau is small and the kinks steep).
(``torch.optim.LBFGS`` takes the same steps, but its first use imports ``torch._dynamo``:
2 to 6 s, more than the whole fit.) Since P <= P_tau <= P + C n tau log 2, the last
stage's (w, b) is within C n tau log 2 of the exact optimum of P (5.6e-5 for C = 10,
n = 81).

Sources:
- C. Cortes, V. Vapnik, "Support-vector networks", Machine Learning 20 (1995).
- M. P. Deisenroth, A. A. Faisal, C. S. Ong, "Mathematics for Machine Learning" (2020),
  chapter 12 (the hard and soft margin, the hinge loss).
- O. Chapelle, "Training a support vector machine in the primal", Neural Computation 19
  (2007): smooth approximations of the hinge in primal training.
"""

import numpy as np
import torch

from common.exercises import exercise
from common.validation import check_int, check_number

TAUS = (1e-1, 1e-3, 1e-5, 1e-7)  # smoothing widths of the continuation
SUPPORT_TOL = 1e-4  # y f(x) <= 1 + tol: on the margin up to the solvers' precision


def check_binary_labels(y):
    """y as a float64 array of -1s and +1s, both present."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1 or set(np.unique(y)) != {-1.0, 1.0}:
        raise ValueError(f"y must be a 1-D array of -1 and +1 (both), got {np.unique(y)}")
    return y


def two_class_points(X, labels, classes, features):
    """(X_s, y_s): the rows of classes[0] (y = -1) and classes[1] (y = +1) on two features,
    each distinct (point, label) once. A repeated point on the margin would make the dual
    weights, and so which copy ``SVC`` calls a support vector, not unique."""
    rows = np.isin(labels, classes)
    X_s = np.asarray(X, dtype=np.float64)[rows][:, list(features)]
    y_s = np.where(labels[rows] == classes[1], 1.0, -1.0)
    _, first = np.unique(np.column_stack([X_s, y_s]), axis=0, return_index=True)
    keep = np.sort(first)
    return X_s[keep], y_s[keep]


@exercise("W4.5", hint="the margins y_i f(x_i) for all i at once: y * (X @ w + b); np.maximum")
def hinge_objective(X, y, w, b, C):
    """P(w, b) = C sum_i max(0, 1 - y_i (w.x_i + b)) + ||w||^2 / 2 for points X (n, d),
    labels y (n,) in {-1, +1}, weights w (d,), a bias b and C > 0: a number."""
    return C * np.maximum(0.0, 1 - y * (X @ w + b)).sum() + 0.5 * w @ w


@exercise(
    "W4.5",
    hint="the distance between two parallel lines w.x = c1 and w.x = c2 is |c1 - c2| / ||w||",
)
def margin(w):
    """2 / ||w||_2 for weights w (d,), the distance between the lines w.x + b = -1 and
    w.x + b = +1: a number."""
    return 2 / np.linalg.norm(w)


def support_vectors(X, y, w, b, tol=SUPPORT_TOL):
    """The indices i with y_i (w.x_i + b) <= 1 + tol: on or inside the margin."""
    return np.flatnonzero(y * (X @ w + b) <= 1 + tol)


def smoothed_objective(X, y, w, b, C, tau):
    """P_tau(w, b) = C sum_i tau log(1 + exp((1 - y_i f(x_i)) / tau)) + ||w||^2 / 2 (torch)."""
    z = 1 - y * (X @ w + b)
    return C * tau * torch.nn.functional.softplus(z / tau).sum() + 0.5 * w @ w


def check_svm_params(C, max_iter):
    """Raise ValueError unless C is a finite number > 0 and max_iter an int >= 1."""
    check_number(C, "C", 0, include_boundaries="neither")
    check_int(max_iter, "max_iter", 1)


def fit_linear_svm(X, y, C, max_iter=100, taus=TAUS):
    """(w, b, objectives): the minimizer of P by L-BFGS on P_tau, tau decreasing (see the
    module); ``objectives`` holds the exact P after each stage."""
    from scipy.optimize import minimize

    check_svm_params(C, max_iter)
    y = check_binary_labels(y)
    X = np.asarray(X, dtype=np.float64)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    theta = np.zeros(X.shape[1] + 1)  # (w, b)
    objectives = []
    for tau in taus:

        def value_and_gradient(theta, tau=tau):
            theta = torch.tensor(theta, requires_grad=True)
            loss = smoothed_objective(X_t, y_t, theta[:-1], theta[-1], C, tau)
            loss.backward()  # d P_tau / d(w, b) by autograd
            return loss.item(), theta.grad.numpy()

        options = {"maxiter": max_iter, "maxls": 100, "gtol": 1e-12, "ftol": 1e-16}
        theta = minimize(value_and_gradient, theta, jac=True, method="L-BFGS-B", options=options).x
        objectives.append(hinge_objective(X, y, theta[:-1], theta[-1], C))
    return theta[:-1], float(theta[-1]), objectives
