"""Losses of linear and logistic regression as pure PyTorch functions of (w, b, X, y).

Model. A linear score z = X w + b for X (n x p), weights w (p,) and intercept b (a scalar
tensor). Least squares and logistic regression minimize an empirical risk plus penalties
that never touch the intercept:

    mse_loss      = (1/2n) ||X w + b - y||^2
    logistic_loss = (1/n) sum_i log(1 + exp(-s_i z_i)),   s_i = 2 y_i - 1, y_i in {0, 1}
    l2_penalty    = (lam/2) ||w||^2
    l1_penalty    = lam ||w||_1

Gradients (the analytic forms the autograd gradient is checked against, W3.P1):

    d mse / dw = X^T r / n,          d mse / db = mean(r),        r = X w + b - y
    d log / dw = X^T (p - y) / n,    d log / db = mean(p - y),    p = sigma(z)

Hessians in w (W3.3): X^T X / n for least squares and X^T diag(p (1 - p)) X / n for the
logistic loss. Everything runs in the dtype of its inputs: pass float64 tensors.

Sources:
- T. Hastie, R. Tibshirani, J. Friedman, "The Elements of Statistical Learning", 2nd ed.
  (2009), sections 3.2, 3.4 (ridge, lasso) and 4.4 (logistic regression).
- S. Boyd, L. Vandenberghe, "Convex Optimization" (2004), sections 9.1-9.5.
"""

import torch
from torch.nn import functional as F

from common.exercises import exercise


def mse_loss(w, b, X, y):
    """(1/2n) ||X w + b - y||^2."""
    r = X @ w + b - y  # residuals, shape (n,)
    return 0.5 * (r @ r) / X.shape[0]


def logistic_loss(w, b, X, y):
    """(1/n) sum_i log(1 + exp(-s_i z_i)) with z = X w + b and s_i = 2 y_i - 1."""
    z = X @ w + b  # scores (logits), shape (n,)
    # log(1 + exp(-s z)) = -[y log sigma(z) + (1 - y) log(1 - sigma(z))], computed as
    # max(z, 0) - y z + log(1 + exp(-|z|)): no overflow of exp for large |z|, one fused op
    return F.binary_cross_entropy_with_logits(z, y)


@exercise("W3.X2", hint="||w||^2 is the dot product w @ w")
def l2_penalty(w, lam):
    """(lam/2) ||w||^2 (the intercept is never passed here, so never penalized).

    ``w``: tensor of shape (p,); ``lam``: a float >= 0. Returns a 0-d tensor that autograd
    can differentiate (gradient lam w: it shrinks every weight in proportion to itself).
    """
    return 0.5 * lam * (w @ w)


def l1_penalty(w, lam):
    """lam ||w||_1 (the intercept is never passed here, so never penalized)."""
    return lam * w.abs().sum()


LOSSES = {"mse": mse_loss, "logistic": logistic_loss}


def objective(kind, w, b, X, y, l1=0.0, l2=0.0):
    """LOSSES[kind](w, b, X, y) + l1 ||w||_1 + (l2/2) ||w||^2."""
    if kind not in LOSSES:
        raise ValueError(f"kind must be one of {sorted(LOSSES)}, got {kind!r}")
    loss = LOSSES[kind](w, b, X, y)
    # a zero penalty is skipped, not added as 0: fewer ops in every forward and backward
    if l1:
        loss = loss + l1_penalty(w, l1)
    if l2:
        loss = loss + l2_penalty(w, l2)
    return loss


def objective_rows(kind, W, B, X, y, l1=0.0, l2=0.0):
    """objective(kind, W[j], B[j], X, y, l1, l2) for every row j at once, shape (k,).

    ``W`` (k, p) and ``B`` (k,): k parameter vectors, one forward pass for all of them (what
    ``side_by_side`` runs several optimizers on). Row j's loss depends on row j alone. The
    values equal the row-by-row ones up to rounding: the product W X^T sums each score in
    another order than X w does (about 1e-16 relative).
    """
    if kind not in LOSSES:
        raise ValueError(f"kind must be one of {sorted(LOSSES)}, got {kind!r}")
    Z = W @ X.T + B[:, None]  # row j: the scores X w_j + b_j, shape (k, n)
    if kind == "mse":
        R = Z - y  # residuals
        loss = 0.5 * (R * R).sum(1) / X.shape[0]
    else:
        loss = F.binary_cross_entropy_with_logits(Z, y.expand_as(Z), reduction="none").mean(1)
    if l1:
        loss = loss + l1 * W.abs().sum(1)
    if l2:
        loss = loss + 0.5 * l2 * (W * W).sum(1)
    return loss


@exercise("W3.X2", hint="d|w_j|/dw_j = sign(w_j), and 0 is a valid subgradient at w_j = 0")
def penalty_gradient(w, l1=0.0, l2=0.0):
    """d/dw [l1 ||w||_1 + (l2/2) ||w||^2] = l1 sign(w) + l2 w (a subgradient at w_j = 0).

    ``w``: tensor of shape (p,); ``l1``, ``l2``: floats >= 0. Returns a tensor of shape (p,):
    the L1 part pulls every weight toward 0 by the same l1, the L2 part by l2 |w_j|.
    """
    return l1 * torch.sign(w) + l2 * w


@exercise("W3.3", hint="residuals r = X @ w + b - y; add penalty_gradient(w, l1, l2) to the w part")
def mse_gradient(w, b, X, y, l1=0.0, l2=0.0):
    """(X^T r / n + l1 sign(w) + l2 w, mean(r)) with r = X w + b - y: the gradient of
    mse_loss + penalties in w and in b.

    ``X``: (n, p), ``y``: (n,), ``w``: (p,), ``b``: a 0-d tensor. Returns (grad_w of shape
    (p,), grad_b of shape ()), both tensors.
    """
    r = X @ w + b - y  # shape (n,)
    return X.T @ r / X.shape[0] + penalty_gradient(w, l1, l2), r.mean()


@exercise("W3.3", hint="p = torch.sigmoid(X @ w + b); the same shape of answer as mse_gradient")
def logistic_gradient(w, b, X, y, l1=0.0, l2=0.0):
    """(X^T (p - y) / n + l1 sign(w) + l2 w, mean(p - y)) with p = sigma(X w + b): the
    gradient of logistic_loss + penalties in w and in b.

    ``X``: (n, p), ``y``: (n,) of 0s and 1s, ``w``: (p,), ``b``: a 0-d tensor. Returns
    (grad_w of shape (p,), grad_b of shape ()), both tensors.
    """
    p = torch.sigmoid(X @ w + b)  # P(y = 1 | x), shape (n,)
    return X.T @ (p - y) / X.shape[0] + penalty_gradient(w, l1, l2), (p - y).mean()


GRADIENTS = {"mse": mse_gradient, "logistic": logistic_gradient}


def mse_hessian(X):
    """d^2 mse / dw^2 = X^T X / n, shape (p, p)."""
    return X.T @ X / X.shape[0]


@exercise(
    "W3.3", hint="scale the rows of X by p (1 - p) with broadcasting; never build the n x n diag"
)
def logistic_hessian(w, b, X):
    """d^2 logistic / dw^2 = X^T diag(p (1 - p)) X / n with p = sigma(X w + b).

    ``X``: (n, p), ``w``: (p,), ``b``: a 0-d tensor. Returns the (p, p) tensor: symmetric,
    positive semidefinite (the logistic loss is convex), without the penalty's l2 I.
    """
    p = torch.sigmoid(X @ w + b)  # shape (n,)
    return (X.T * (p * (1 - p))) @ X / X.shape[0]


def residual(w, X, y):
    """r(w) = X w - y, whose Jacobian dr/dw is X (n x p)."""
    return X @ w - y
