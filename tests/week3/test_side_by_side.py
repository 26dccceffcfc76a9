"""Runs side by side, one autograd pass a step for all, against each run alone.

The reference is ``one_at_a_time``: ``gradient_descent`` and ``train_torch_optim``, one run
after the other. The stacked forward sums in another order (a matrix product, not a
matrix-vector one), so full-batch records agree to rounding: losses to 1e-13 relative,
gradient norms to 1e-9 (they end near tol = 1e-6, small differences of large terms), final
weights to 1e-12; step counts, convergence and divergence exactly. A mini-batch run's
weights are exact: its steps use only its own mini-batch passes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from projects.week3_regression.data import load_task
from projects.week3_regression.losses import objective, objective_rows
from projects.week3_regression.optimize import Diverged
from projects.week3_regression.side_by_side import Run, one_at_a_time, side_by_side


@pytest.fixture(scope="module")
def cancer():
    split = load_task("logistic", test_size=0.2, standardize=True, seed=0)
    return split.X_train, split.y_train


def loss_fn(w, b, X, y):
    return objective("logistic", w, b, X, y, l2=0.01)


def rows_loss_fn(W, B, X, y):
    return objective_rows("logistic", W, B, X, y, l2=0.01)


def zeros(X):
    return [torch.zeros(X.shape[1], dtype=X.dtype), torch.zeros((), dtype=X.dtype)]


def runs():
    """Every rule, one mini-batch run, one that converges early (momentum) and one that
    diverges (gd at lr 1e5, by its L2 term): fresh generators each call."""
    return {
        "gd": Run("gd", 0.3),
        "sgd": Run("sgd", 0.3),
        "momentum": Run("momentum", 0.3),
        "rmsprop": Run("rmsprop", 0.001),
        "adam": Run("adam", 0.05),
        "minibatch": Run("gd", 0.1, 45, torch.Generator().manual_seed(3)),
        "too long a step": Run("gd", 1e5),
    }


@pytest.mark.parametrize("kind", ["mse", "logistic"])
@pytest.mark.parametrize("penalty", [{}, {"l2": 0.3}, {"l1": 0.2}])
def test_objective_rows_equals_the_objective_of_each_row_and_its_gradient_to_rounding(
    kind, penalty
):
    task = {"mse": "linear", "logistic": "logistic"}[kind]
    split = load_task(task, test_size=0.2, standardize=True, seed=0)
    X, y = split.X_train, split.y_train
    generator = torch.Generator().manual_seed(0)
    W = torch.randn(4, X.shape[1], dtype=X.dtype, generator=generator).requires_grad_(True)
    B = torch.randn(4, dtype=X.dtype, generator=generator).requires_grad_(True)
    stacked = objective_rows(kind, W, B, X, y, **penalty)
    stacked.sum().backward()
    assert stacked.shape == (4,)
    for j in range(4):
        w, b = (t.detach()[j].clone().requires_grad_(True) for t in (W, B))
        alone = objective(kind, w, b, X, y, **penalty)
        alone.backward()
        np.testing.assert_allclose(stacked[j].item(), alone.item(), rtol=1e-14)
        np.testing.assert_allclose(W.grad[j].numpy(), w.grad.numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(B.grad[j].item(), b.grad.item(), rtol=1e-12, atol=1e-15)


def test_side_by_side_gives_each_run_its_record_alone_to_rounding(cancer):
    X, y = cancer
    stacked = side_by_side(runs(), loss_fn, rows_loss_fn, zeros(X), X, y, max_steps=120, tol=1e-3)
    alone = one_at_a_time(runs(), loss_fn, zeros(X), X, y, max_steps=120, tol=1e-3)
    assert list(stacked) == list(alone) == list(runs())
    assert alone["momentum"].converged  # stops early
    assert alone["momentum"].steps < 120
    for label in runs():
        ours, theirs = stacked[label], alone[label]
        if isinstance(theirs, Diverged):
            assert isinstance(ours, Diverged)
            assert (ours.step, ours.lr) == (theirs.step, theirs.lr)
            continue
        assert (ours.steps, ours.converged) == (theirs.steps, theirs.converged), label
        np.testing.assert_allclose(ours.losses, theirs.losses, rtol=1e-13, err_msg=label)
        np.testing.assert_allclose(ours.grad_norms, theirs.grad_norms, rtol=1e-9, err_msg=label)
        for p, q in zip(ours.params, theirs.params, strict=True):
            assert p.shape == q.shape
            np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-12, atol=1e-14)
    for p, q in zip(stacked["minibatch"].params, alone["minibatch"].params, strict=True):
        assert torch.equal(p, q)  # its own passes only: the same iterates, bit for bit
    assert isinstance(alone["too long a step"], Diverged)


def test_a_run_that_stops_leaves_the_others_unchanged(cancer):
    X, y = cancer
    together = side_by_side(runs(), loss_fn, rows_loss_fn, zeros(X), X, y, max_steps=60, tol=1e-3)
    for label in ("gd", "adam"):
        [(_, single)] = side_by_side(
            {label: runs()[label]}, loss_fn, rows_loss_fn, zeros(X), X, y, max_steps=60, tol=1e-3
        ).items()
        np.testing.assert_allclose(together[label].losses, single.losses, rtol=1e-14)


def test_side_by_side_refuses_an_unknown_rule_or_a_bad_argument(cancer):
    X, y = cancer
    with pytest.raises(ValueError, match="rule must be one of"):
        side_by_side({"x": Run("lbfgs", 1.0)}, loss_fn, rows_loss_fn, zeros(X), X, y,
                     max_steps=5, tol=0.0)  # fmt: skip
    with pytest.raises(ValueError, match="lr"):
        side_by_side({"x": Run("gd", -1.0)}, loss_fn, rows_loss_fn, zeros(X), X, y,
                     max_steps=5, tol=0.0)  # fmt: skip
