"""Losses, gradients, Jacobians and Hessians against independent references (W3.P1, W3.3).

References: central finite differences, torch autograd (gradcheck, functional.jacobian and
hessian), torch's binary_cross_entropy_with_logits, and the analytic forms in ``losses``.
All in float64; tolerances are stated per test.
"""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.preprocessing import StandardScaler
from torch.nn import functional as F

from common.grading import grades
from projects.week3_regression.losses import (
    GRADIENTS,
    LOSSES,
    l1_penalty,
    l2_penalty,
    logistic_gradient,
    logistic_hessian,
    logistic_loss,
    mse_gradient,
    mse_hessian,
    mse_loss,
    objective,
    penalty_gradient,
    residual,
)

DTYPE = torch.float64
DATASETS = {"mse": load_diabetes, "logistic": load_breast_cancer}


def standardized(kind):
    """(X, y) float64 tensors of the dataset of this loss, columns standardized."""
    X, y = DATASETS[kind](return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return torch.tensor(X, dtype=DTYPE), torch.tensor(y, dtype=DTYPE)


def weights_away_from_zero(p, seed=0):
    """w_j = +-(0.1 + U[0, 0.4]): |w_j| >= 0.1 so ||w||_1 is differentiable near w."""
    generator = torch.Generator().manual_seed(seed)
    magnitude = 0.1 + 0.4 * torch.rand(p, generator=generator, dtype=DTYPE)
    sign = torch.where(torch.rand(p, generator=generator, dtype=DTYPE) < 0.5, -1.0, 1.0)
    return (magnitude * sign).to(DTYPE)


def central_difference(f, theta, h=1e-6):
    """(f(theta + h e_i) - f(theta - h e_i)) / 2h for each i: error O(h^2)."""
    grad = torch.empty_like(theta)
    for i in range(theta.numel()):
        e = torch.zeros_like(theta)
        e[i] = h
        grad[i] = (f(theta + e) - f(theta - e)) / (2 * h)
    return grad


def relative_error(a, b):
    """||a - b|| / max(||a||, ||b||)."""
    return (torch.linalg.norm(a - b) / torch.maximum(a.norm(), b.norm())).item()


@pytest.mark.parametrize("kind", sorted(LOSSES))
@pytest.mark.parametrize(("l1", "l2"), [(0.0, 0.0), (0.05, 0.1)])
@grades(mse_gradient, logistic_gradient, penalty_gradient, l2_penalty)
def test_gradient_autograd_analytic_finite_differences(kind, l1, l2):
    X, y = standardized(kind)
    w = weights_away_from_zero(X.shape[1])
    b = torch.tensor(0.3, dtype=DTYPE)
    theta = torch.cat([w, b[None]]).requires_grad_(True)  # (w, b) flat, shape (p + 1,)

    def f(v):
        return objective(kind, v[:-1], v[-1], X, y, l1=l1, l2=l2)

    f(theta).backward()
    autograd = theta.grad
    grad_w, grad_b = GRADIENTS[kind](w, b, X, y, l1=l1, l2=l2)
    analytic = torch.cat([grad_w, grad_b[None]])
    with torch.no_grad():
        numeric = central_difference(f, theta.detach())
    assert relative_error(autograd, analytic) <= 1e-12
    assert relative_error(autograd, numeric) <= 1e-6
    assert relative_error(analytic, numeric) <= 1e-6


@pytest.mark.parametrize("kind", sorted(LOSSES))
@grades(l2_penalty)
def test_gradcheck(kind):
    X, y = standardized(kind)
    X, y = X[:40, :5], y[:40]  # gradcheck builds a dense numerical Jacobian: keep it small
    if kind == "mse":  # y ~ 150 makes f ~ 1e4, and round-off in f(x +- eps) ~ 1e-6
        y = (y - y.mean()) / y.std()
    w = weights_away_from_zero(5).requires_grad_(True)
    b = torch.tensor(0.2, dtype=DTYPE, requires_grad=True)

    def f(w, b):
        return objective(kind, w, b, X, y, l1=0.05, l2=0.1)

    assert torch.autograd.gradcheck(f, (w, b), eps=1e-6, atol=1e-8, rtol=1e-6)
    assert torch.autograd.gradgradcheck(f, (w, b), eps=1e-6, atol=1e-8, rtol=1e-6)


def test_mse_hessian_is_gram_matrix():
    X, y = standardized("mse")
    w, b = weights_away_from_zero(X.shape[1]), torch.tensor(0.0, dtype=DTYPE)
    H = torch.autograd.functional.hessian(lambda v: mse_loss(v, b, X, y), w)
    torch.testing.assert_close(H, mse_hessian(X), rtol=1e-12, atol=1e-12)
    assert torch.linalg.eigvalsh(H).min() > 0  # strictly convex: X has full column rank


@grades(logistic_hessian)
def test_logistic_hessian_is_weighted_gram_matrix():
    X, y = standardized("logistic")
    w, b = 0.1 * weights_away_from_zero(X.shape[1]), torch.tensor(0.1, dtype=DTYPE)
    H = torch.autograd.functional.hessian(lambda v: logistic_loss(v, b, X, y), w)
    torch.testing.assert_close(H, logistic_hessian(w, b, X), rtol=1e-10, atol=1e-12)
    assert torch.linalg.eigvalsh(H).min() >= -1e-12  # convex: H is positive semidefinite


def test_residual_jacobian_is_X():
    X, y = standardized("mse")
    w = weights_away_from_zero(X.shape[1])
    J = torch.autograd.functional.jacobian(lambda v: residual(v, X, y), w)
    assert J.shape == X.shape
    torch.testing.assert_close(J, X, rtol=0, atol=0)  # linear map: exact


def test_logistic_loss_matches_torch_bce_and_is_stable():
    X, y = standardized("logistic")
    w, b = weights_away_from_zero(X.shape[1]), torch.tensor(-0.2, dtype=DTYPE)
    reference = F.binary_cross_entropy_with_logits(X @ w + b, y)
    torch.testing.assert_close(logistic_loss(w, b, X, y), reference, rtol=1e-14, atol=0)
    # scores of +-1000: exp(1000) overflows, softplus does not
    X_big = torch.tensor([[1.0], [-1.0]], dtype=DTYPE)
    y_big = torch.tensor([0.0, 0.0], dtype=DTYPE)
    w_big = torch.tensor([1000.0], dtype=DTYPE)
    loss = logistic_loss(w_big, torch.tensor(0.0, dtype=DTYPE), X_big, y_big)
    assert loss.item() == pytest.approx(500.0, rel=1e-14)  # (1000 + log(1 + e^-1000)) / 2


def test_mse_loss_is_half_mean_squared_error():
    X, y = standardized("mse")
    w, b = weights_away_from_zero(X.shape[1]), torch.tensor(150.0, dtype=DTYPE)
    r = (X @ w + b - y).numpy()
    assert mse_loss(w, b, X, y).item() == pytest.approx(0.5 * np.mean(r**2), rel=1e-14)


@pytest.mark.parametrize("lam", [0.0, 0.5, 3.0])
@grades(penalty_gradient, l2_penalty)
def test_penalty_gradient_is_autograds_away_from_zero_and_a_subgradient_at_zero(lam):
    w = weights_away_from_zero(7, seed=3).requires_grad_(True)
    (l1_penalty(w, lam) + l2_penalty(w, 2 * lam)).backward()  # the reference: autograd
    torch.testing.assert_close(
        penalty_gradient(w.detach(), l1=lam, l2=2 * lam), w.grad, rtol=1e-12, atol=1e-15
    )
    # at w_j = 0 the L1 term has the subdifferential [-l1, l1]; sign(0) = 0 picks 0 from it
    zero = torch.zeros(3, dtype=DTYPE)
    torch.testing.assert_close(penalty_gradient(zero, l1=lam, l2=2.0), zero, rtol=0, atol=0)


@grades(l2_penalty)
def test_penalties():
    w = torch.tensor([3.0, -4.0], dtype=DTYPE)
    assert l2_penalty(w, 0.5).item() == pytest.approx(0.25 * 25.0)
    assert l1_penalty(w, 0.5).item() == pytest.approx(3.5)
    X, y = standardized("mse")
    w, b = weights_away_from_zero(X.shape[1]), torch.tensor(1.0, dtype=DTYPE)
    # the intercept is never penalized: the penalty does not change with b
    gap = [objective("mse", w, c, X, y, l1=0.1, l2=0.2) - mse_loss(w, c, X, y) for c in (b, 2 * b)]
    torch.testing.assert_close(gap[0], gap[1], rtol=1e-12, atol=1e-9)


def test_objective_rejects_unknown_kind():
    X, y = standardized("mse")
    w, b = torch.zeros(X.shape[1], dtype=DTYPE), torch.tensor(0.0, dtype=DTYPE)
    with pytest.raises(ValueError, match=r"kind must be one of \['logistic', 'mse'\], got 'mae'"):
        objective("mae", w, b, X, y)
