"""Optimizers against closed forms and scikit-learn (W3.5, W3.P2-P4, W3.X1).

References: ``LinearRegression`` and the QR closed form for least squares on the
standardized diabetes data; ``LogisticRegression(C=1 / (n lam))`` (the mapping is derived
in ``reference``) on the standardized breast-cancer data. Tolerances are stated per test.
"""

import functools
import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import StandardScaler

from common.grading import grades
from projects.week3_regression.losses import logistic_loss, mse_loss, objective
from projects.week3_regression.optimize import (
    OPTIMIZERS,
    Diverged,
    descent_step,
    gradient_descent,
    loss_and_gradient,
    minibatches,
    newton,
    newton_step,
    train_torch_optim,
)
from projects.week3_regression.reference import sklearn_logistic

DTYPE = torch.float64
LAM = 1e-3  # the small L2 penalty of the logistic-regression tests


def standardized(load):
    """(X numpy, y numpy, X tensor, y tensor), columns of X standardized, float64."""
    X, y = load(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return X, y, torch.tensor(X, dtype=DTYPE), torch.tensor(y, dtype=DTYPE)


@pytest.fixture(scope="module")
def diabetes():
    return standardized(load_diabetes)


@pytest.fixture(scope="module")
def cancer():
    return standardized(load_breast_cancer)


@pytest.fixture(scope="module")
def least_squares_optimum(diabetes):
    """(w*, b*, f*) of LinearRegression and its loss."""
    X, y, X_t, y_t = diabetes
    model = LinearRegression().fit(X, y)
    w, b = torch.tensor(model.coef_), torch.tensor(model.intercept_)
    return model.coef_, model.intercept_, mse_loss(w, b, X_t, y_t).item()


@pytest.fixture(scope="module")
def logistic_optimum(cancer):
    """sklearn's (w*, b*, model, f*) for logistic_loss + (LAM/2) ||w||^2."""
    X, y, X_t, y_t = cancer
    w, b, model = sklearn_logistic(X, y, LAM, solver="newton-cg", tol=1e-12)
    f_star = objective("logistic", torch.tensor(w), torch.tensor(b), X_t, y_t, l2=LAM).item()
    return w, b, model, f_star


def zeros(p):
    """Initial (w, b) = (0, 0), float64."""
    return [torch.zeros(p, dtype=DTYPE), torch.zeros((), dtype=DTYPE)]


def smoothness(X):
    """L = largest eigenvalue of the MSE Hessian in (w, b), [X 1]^T [X 1] / n."""
    X1 = torch.cat([X, torch.ones(X.shape[0], 1, dtype=DTYPE)], dim=1)
    return torch.linalg.eigvalsh(X1.T @ X1 / X.shape[0]).max().item()


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@grades(descent_step)
def test_descent_step_is_w_minus_lr_times_the_gradient(kind):
    rng = np.random.default_rng(0)
    w, g = rng.normal(size=(2, 5))
    expected = w - 0.3 * g  # the formula, in NumPy
    if kind == "torch":
        w, g = torch.tensor(w, dtype=DTYPE), torch.tensor(g, dtype=DTYPE)
    before = w.copy() if kind == "numpy" else w.clone()
    new = descent_step(w, g, 0.3)
    assert new.shape == (5,)
    np.testing.assert_allclose(np.asarray(new), expected, rtol=1e-15, atol=1e-15)
    np.testing.assert_array_equal(np.asarray(w), np.asarray(before))  # w is not modified


@grades(loss_and_gradient)
def test_loss_and_gradient_is_the_closed_form_mse_gradient_and_clears_old_grads(diabetes):
    X, y, X_t, y_t = diabetes
    rng = np.random.default_rng(1)
    w0, b0 = rng.normal(size=X.shape[1]), 150.0
    theta = [torch.tensor(x, dtype=DTYPE, requires_grad=True) for x in (w0, b0)]
    for p in theta:
        p.grad = torch.full_like(p, 1e6)  # stale: backward() would add to it
    loss, grad_norm = loss_and_gradient(mse_loss, theta, X_t, y_t)
    r = X @ w0 + b0 - y  # the reference: the closed form in NumPy
    grad_w, grad_b = X.T @ r / len(y), r.mean()
    assert isinstance(loss, float)
    assert isinstance(grad_norm, float)
    assert loss == pytest.approx(0.5 * np.mean(r**2), rel=1e-12)
    np.testing.assert_allclose(theta[0].grad.numpy(), grad_w, rtol=1e-10, atol=1e-10)
    assert theta[1].grad.item() == pytest.approx(grad_b, rel=1e-10)
    assert grad_norm == pytest.approx(np.sqrt(grad_w @ grad_w + grad_b**2), rel=1e-10)
    np.testing.assert_array_equal(theta[0].detach().numpy(), w0)  # the values are untouched
    assert all(p.is_leaf and p.requires_grad for p in theta)
    again = loss_and_gradient(mse_loss, theta, X_t, y_t)  # twice: the same, not doubled
    assert again == (loss, grad_norm)


@pytest.mark.parametrize(("n", "batch_size"), [(10, 3), (442, 32), (5, 5)])
@grades(minibatches)
def test_minibatches_partition_the_rows_every_epoch_with_a_fresh_permutation(n, batch_size):
    batches = minibatches(n, batch_size, torch.Generator().manual_seed(0))
    per_epoch = math.ceil(n / batch_size)
    epochs = [[next(batches) for _ in range(per_epoch)] for _ in range(3)]
    for epoch in epochs:
        sizes = [len(rows) for rows in epoch]
        assert sizes == [batch_size] * (per_epoch - 1) + [n - batch_size * (per_epoch - 1)]
        np.testing.assert_array_equal(np.sort(torch.cat(epoch).numpy()), np.arange(n))
    if n > batch_size:  # a new order each epoch, and the seed decides it
        order = [torch.cat(epoch).numpy() for epoch in epochs]
        assert not np.array_equal(order[0], order[1])
        again = minibatches(n, batch_size, torch.Generator().manual_seed(0))
        np.testing.assert_array_equal(next(again).numpy(), epochs[0][0].numpy())
        other = minibatches(n, batch_size, torch.Generator().manual_seed(1))
        assert not np.array_equal(next(other).numpy(), epochs[0][0].numpy())


@grades(newton_step)
def test_newton_step_lands_on_the_minimum_of_a_quadratic():
    # f(x) = 1/2 x^T A x - c^T x: grad A x - c, Hessian A; one step from anywhere: A^{-1} c
    rng = np.random.default_rng(2)
    M = rng.normal(size=(6, 6))
    A, c, x = M @ M.T + 6 * np.eye(6), rng.normal(size=6), rng.normal(size=6)
    A_t, c_t, x_t = (torch.tensor(v, dtype=DTYPE) for v in (A, c, x))
    new = newton_step(x_t, A_t @ x_t - c_t, A_t)
    assert new.shape == (6,)
    np.testing.assert_allclose(new.numpy(), np.linalg.solve(A, c), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(x_t.numpy(), x)  # theta is not modified


@grades(descent_step, loss_and_gradient)
def test_gradient_descent_on_x_squared():
    # W3.P2: f(x) = x^2, x <- x - lr 2x = (1 - 2 lr) x, so x_k = (1 - 2 lr)^k x_0
    lr, x0 = 0.1, torch.tensor([3.0], dtype=DTYPE)
    result = gradient_descent(
        lambda x, X, y: (x**2).sum(),
        [x0],
        torch.zeros(1, 1),
        torch.zeros(1),
        lr=lr,
        max_steps=20,
        tol=0.0,
    )
    expected = [(3.0 * 0.8**k) ** 2 for k in range(21)]
    np.testing.assert_allclose(result.losses, expected, rtol=1e-12)
    assert result.steps == 20
    assert not result.converged
    assert x0.item() == 3.0  # the caller's tensor is never modified


def test_gradient_descent_reaches_least_squares_optimum(diabetes, least_squares_optimum):
    _, _, X, y = diabetes
    w_star, b_star, f_star = least_squares_optimum
    result = gradient_descent(
        mse_loss, zeros(X.shape[1]), X, y, lr=1 / smoothness(X), max_steps=20_000, tol=1e-7
    )
    assert result.converged
    assert len(result.losses) == len(result.grad_norms) == result.steps + 1
    assert np.all(np.diff(result.losses) <= 1e-9)  # lr = 1/L: monotone descent
    assert result.losses[-1] == pytest.approx(f_star, rel=1e-6)
    w, b = result.params
    np.testing.assert_allclose(w.numpy(), w_star, rtol=0, atol=1e-4)
    assert b.item() == pytest.approx(b_star, abs=1e-4)


LR = {"sgd": 0.2, "momentum": 0.02, "rmsprop": 0.5, "adam": 0.5, "lbfgs": 1.0}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_each_optimizer_decreases_the_loss(name, diabetes, least_squares_optimum):
    _, _, X, y = diabetes
    f_star = least_squares_optimum[2]
    result = train_torch_optim(
        name, mse_loss, zeros(X.shape[1]), X, y, lr=LR[name], max_steps=500, tol=1e-8
    )
    assert result.losses[-1] < result.losses[0]
    assert result.losses[-1] <= 1.05 * f_star  # within 5% of the optimum (f(0) ~ 10 f*)


@grades(newton_step, loss_and_gradient)
def test_lbfgs_and_newton_match_sklearn_logistic(cancer, logistic_optimum):
    X, _, X_t, y_t = cancer
    _, _, model, f_star = logistic_optimum
    start = zeros(X.shape[1])
    loss = functools.partial(objective, "logistic", l2=LAM)
    for result in (
        train_torch_optim(
            "lbfgs", loss, zeros(X.shape[1]), X_t, y_t, lr=1, max_steps=500, tol=1e-7
        ),
        newton(loss, start, X_t, y_t, max_steps=50, tol=1e-10),
    ):
        assert result.converged
        assert result.losses[-1] == pytest.approx(f_star, rel=1e-6)
        w, b = result.params
        predictions = (X @ w.numpy() + b.item() > 0).astype(int)
        np.testing.assert_array_equal(predictions, model.predict(X))


@grades(newton_step)
def test_newton_converges_in_a_handful_of_steps(cancer, logistic_optimum):
    _, _, X, y = cancer
    loss = functools.partial(objective, "logistic", l2=LAM)
    result = newton(loss, zeros(X.shape[1]), X, y, max_steps=50, tol=1e-10)
    assert result.converged
    assert result.steps <= 10
    # quadratic convergence near the optimum, ||g_{k+1}|| <= C ||g_k||^2 (1.5e-6 -> 1e-10),
    # before the last step hits round-off
    assert result.grad_norms[-2] <= 100 * result.grad_norms[-3] ** 2
    assert result.grad_norms[-1] <= 1e-10


def test_minibatch_sgd_reaches_the_optimum(diabetes, least_squares_optimum):
    _, _, X, y = diabetes
    f_star = least_squares_optimum[2]
    result = gradient_descent(
        mse_loss, zeros(X.shape[1]), X, y, lr=0.02, max_steps=3000, tol=1e-8, batch_size=32
    )
    assert result.losses[-1] <= 1.01 * f_star  # noisy gradients: near, not at, the optimum
    assert result.losses[-1] < 0.2 * result.losses[0]


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_same_seed_same_curve(name, diabetes):
    _, _, X, y = diabetes

    def run(seed):
        return train_torch_optim(
            name,
            mse_loss,
            zeros(X.shape[1]),
            X,
            y,
            lr=0.01,
            max_steps=200,
            tol=0.0,
            batch_size=16,
            generator=torch.Generator().manual_seed(seed),
        ).losses

    np.testing.assert_array_equal(run(7), run(7))
    assert not np.array_equal(run(7), run(8))  # the seed matters: the test can fail


@grades(minibatches)
def test_same_seed_same_curve_hand_written(diabetes):
    _, _, X, y = diabetes

    def run(seed):
        generator = torch.Generator().manual_seed(seed)
        return gradient_descent(
            mse_loss, zeros(X.shape[1]), X, y, lr=0.01, max_steps=200, tol=0.0,
            batch_size=16, generator=generator,
        ).losses  # fmt: skip

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_divergence_raises_at_the_first_non_finite_loss(diabetes):
    _, _, X, y = diabetes
    seen = []
    with pytest.raises(
        FloatingPointError, match=r"diverged at step (\d+); lower the learning"
    ) as e:
        gradient_descent(
            mse_loss,
            zeros(X.shape[1]),
            X,
            y,
            lr=10.0,
            max_steps=10_000,
            tol=1e-8,
            callback=lambda step, loss, grad_norm: seen.append(loss),
        )
    step = int(str(e.value).split("step ")[1].split(";")[0])
    assert step == len(seen)  # the step after the last finite loss, not later
    assert all(math.isfinite(loss) for loss in seen)
    assert "lr=10.0" in str(e.value)


def test_divergence_raises_for_torch_optim(diabetes):
    _, _, X, y = diabetes
    with pytest.raises(FloatingPointError, match=r"diverged at step \d+"):
        train_torch_optim(
            "sgd", mse_loss, zeros(X.shape[1]), X, y, lr=10.0, max_steps=10_000, tol=0
        )


def test_divergence_of_newton_names_no_learning_rate_and_a_bad_start_no_step():
    X, y = torch.zeros(4, 1, dtype=DTYPE), torch.zeros(4, dtype=DTYPE)

    def loss_fn(w, b, X, y):  # min at w = 1, where 0 * log(1 - w) = 0 * -inf is NaN
        return ((w - 1) ** 2).sum() + 0 * torch.log(1 - w).sum() + b**2

    with pytest.raises(Diverged, match=r"^diverged at step 1; the method's own step length") as e:
        newton(loss_fn, zeros(1), X, y, max_steps=10, tol=0)  # one unit step lands on w = 1
    assert (e.value.step, e.value.lr) == (1, None)
    assert "learning rate (lr=" not in str(e.value)
    with pytest.raises(Diverged, match=r"^diverged at step 0; the loss is nan at the start"):
        gradient_descent(
            lambda w, b, X, y: (w * math.nan).sum() + b, zeros(1), X, y, lr=0.1, max_steps=5, tol=0
        )


def test_the_callback_sees_every_step_and_its_loss(diabetes):
    _, _, X, y = diabetes
    calls = []
    result = gradient_descent(
        mse_loss, zeros(X.shape[1]), X, y, lr=0.1, max_steps=5, tol=0.0,
        callback=lambda step, loss, grad_norm: calls.append((step, loss)),
    )  # fmt: skip
    assert [step for step, _ in calls] == list(range(6))
    np.testing.assert_array_equal([loss for _, loss in calls], result.losses)


def test_the_step_bar_draws_the_steps_once_the_delay_has_passed(diabetes, capsys, monkeypatch):
    from projects.week3_regression import progress

    monkeypatch.setattr(progress, "DELAY_S", 0.0)  # a bar from the first step
    _, _, X, y = diabetes
    with progress.step_bar(5, enabled=True) as tick:
        gradient_descent(
            mse_loss, zeros(X.shape[1]), X, y, lr=0.1, max_steps=5, tol=0.0, callback=tick
        )
    assert "steps:   0%|          | 0/6 " in capsys.readouterr().err  # a bar of 6 steps, on stderr


ARGUMENTS = {"lr": 0.1, "max_steps": 10, "tol": 1e-6}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lr": -1.0}, r"^lr must be a finite number > 0, got -1.0$"),
        ({"lr": 0}, r"^lr must be a finite number > 0, got 0$"),
        ({"lr": float("nan")}, r"^lr must be a finite number > 0, got nan$"),
        ({"lr": float("inf")}, r"^lr must be a finite number > 0, got inf$"),
        ({"lr": True}, r"^lr must be a finite number > 0, got True$"),  # a bool is no step size
        ({"max_steps": 0}, r"^max_steps must be an int >= 1, got 0$"),
        ({"max_steps": True}, r"^max_steps must be an int >= 1, got True$"),
        ({"tol": -1e-3}, r"^tol must be a number >= 0, got -0.001$"),
        ({"tol": float("nan")}, r"^tol must be a number >= 0, got nan$"),
        ({"batch_size": 0}, r"^batch_size must be an int in \[1, 442\], got 0$"),
        ({"batch_size": 443}, r"^batch_size must be an int in \[1, 442\], got 443$"),
        ({"batch_size": 8.0}, r"^batch_size must be an int in \[1, 442\], got 8.0$"),
    ],
)
@pytest.mark.parametrize("method", ["gradient_descent", "adam"])
def test_invalid_arguments(changes, message, method, diabetes):
    _, _, X, y = diabetes
    run = {
        "gradient_descent": gradient_descent,
        "adam": functools.partial(train_torch_optim, "adam"),
    }[method]
    with pytest.raises(ValueError, match=message):
        run(mse_loss, zeros(X.shape[1]), X, y, **(ARGUMENTS | changes))


def test_unknown_optimizer_lists_the_valid_ones(diabetes):
    _, _, X, y = diabetes
    message = r"unknown optimizer 'adagrad'; valid optimizers: \['adam', 'lbfgs', 'momentum'"
    with pytest.raises(ValueError, match=message):
        train_torch_optim("adagrad", mse_loss, zeros(X.shape[1]), X, y, **ARGUMENTS)


def test_lbfgs_is_full_batch(diabetes):
    _, _, X, y = diabetes
    with pytest.raises(ValueError, match="lbfgs is full batch: batch_size must be None, got 8"):
        train_torch_optim("lbfgs", mse_loss, zeros(X.shape[1]), X, y, batch_size=8, **ARGUMENTS)


def test_newton_validates_max_steps(cancer):
    _, _, X, y = cancer
    with pytest.raises(ValueError, match="max_steps must be an int >= 1, got 0"):
        newton(logistic_loss, zeros(X.shape[1]), X, y, max_steps=0, tol=1e-8)


def test_a_loop_that_ends_within_the_delay_draws_no_progress_bar(diabetes, capfd):
    from projects.week3_regression.progress import DELAY_S, step_bar

    _, _, X_t, y_t = diabetes
    with step_bar(20_000, enabled=True) as tick:
        result = train_torch_optim(
            "adam", mse_loss, zeros(X_t.shape[1]), X_t, y_t, lr=0.1, max_steps=20_000, tol=1e3,
            callback=tick,
        )  # fmt: skip
    assert result.converged  # within a few steps of 20,001, far within the delay
    assert result.steps < 100
    assert DELAY_S >= 1.0
    assert capfd.readouterr().err == ""  # no bar flashed for 0/20001
