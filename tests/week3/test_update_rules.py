"""Momentum, RMSProp and Adam by hand (W3.X5) against ``torch.optim``, step for step.

References: ``torch.optim.SGD(momentum=...)``, ``RMSprop`` and ``Adam`` built here with
explicit hyperparameters, on the week's losses (diabetes least squares, breast-cancer
logistic regression); the by-hand rules get the analytic gradient (no autograd). Tolerance:
every parameter of every one of 50 steps within 1e-12 times the parameters' scale (float64:
a few rounding errors per step; measured ~1e-16 relative).
"""

import numpy as np
import pytest
import torch

from common.grading import grades
from projects.week3_regression import update_rules as ur
from projects.week3_regression.data import load_task
from projects.week3_regression.losses import GRADIENTS, objective
from projects.week3_regression.optimize import optim_iterates

STEPS = 50
RTOL = 1e-9  # relative to max |theta| (see above)
TASKS = {"linear": ("mse", 0.0), "logistic": ("logistic", 0.01)}
# name -> (torch optimizer from params and lr, the same hyperparameters for the rule)
CASES = {
    "momentum": (lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.8), {"momentum": 0.8}),
    "rmsprop": (
        lambda p, lr: torch.optim.RMSprop(p, lr=lr, alpha=0.9, eps=1e-6),
        {"alpha": 0.9, "eps": 1e-6},
    ),
    "adam": (
        lambda p, lr: torch.optim.Adam(p, lr=lr, betas=(0.8, 0.99), eps=1e-7),
        {"betas": (0.8, 0.99), "eps": 1e-7},
    ),
}
LR = {"momentum": 0.05, "rmsprop": 0.01, "adam": 0.05}


@pytest.fixture(scope="module", params=sorted(TASKS))
def problem(request):
    kind, l2 = TASKS[request.param]
    split = load_task(request.param, test_size=0.2, standardize=True, seed=0)
    X, y = split.X_train, split.y_train

    def loss_fn(w, b, X, y):
        return objective(kind, w, b, X, y, l2=l2)

    def grad(theta):
        theta = torch.as_tensor(theta)
        g_w, g_b = GRADIENTS[kind](theta[:-1], theta[-1], X, y, l2=l2)
        return torch.cat([g_w, g_b.reshape(1)]).numpy()

    return loss_fn, grad, X, y


def torch_path(make, loss_fn, X, y, lr):
    theta = torch.zeros(X.shape[1] + 1, dtype=torch.float64, requires_grad=True)
    optimizer = make([theta], lr)
    path = [theta.detach().clone()]
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss_fn(theta[:-1], theta[-1], X, y).backward()
        optimizer.step()
        path.append(theta.detach().clone())
    return torch.stack(path).numpy()


def assert_same_path(by_hand, by_torch):
    scale = max(1.0, np.max(np.abs(by_torch)))
    assert by_hand.shape == by_torch.shape == (STEPS + 1, by_torch.shape[1])
    assert np.max(np.abs(by_hand - by_torch)) <= RTOL * scale
    assert np.max(np.abs(by_torch[-1] - by_torch[0])) > 1e-3  # they did move


@pytest.mark.parametrize("name", sorted(CASES))
@grades(ur.momentum_step, ur.rmsprop_step, ur.adam_step)
def test_rule_by_hand_equals_torch_optim_step_for_step(problem, name):
    loss_fn, grad, X, y = problem
    make, hyperparameters = CASES[name]
    by_torch = torch_path(make, loss_fn, X, y, LR[name])
    theta0 = np.zeros(X.shape[1] + 1)
    by_hand = ur.iterate(ur.RULES[name], grad, theta0, STEPS, lr=LR[name], **hyperparameters)
    assert_same_path(by_hand, by_torch)


@pytest.mark.parametrize("name", sorted(ur.RULES))
@grades(ur.momentum_step, ur.rmsprop_step, ur.adam_step)
def test_default_hyperparameters_are_those_of_the_pipelines_torch_optimizers(problem, name):
    loss_fn, grad, X, y = problem
    zeros = [torch.zeros(X.shape[1], dtype=torch.float64), torch.zeros((), dtype=torch.float64)]
    by_torch = optim_iterates(name, loss_fn, zeros, X, y, lr=LR[name], steps=STEPS)
    by_hand = ur.iterate(ur.RULES[name], grad, np.zeros(X.shape[1] + 1), STEPS, lr=LR[name])
    assert_same_path(by_hand, by_torch)


def test_adam_without_bias_correction_would_fail_the_comparison(problem):
    loss_fn, grad, X, y = problem

    def adam_uncorrected(theta, g, state, lr, betas=(0.9, 0.999), eps=1e-8):
        m = betas[0] * state.get("m", 0.0) + (1 - betas[0]) * g
        v = betas[1] * state.get("v", 0.0) + (1 - betas[1]) * g**2
        return theta - lr * m / (v**0.5 + eps), {"m": m, "v": v}

    by_torch = torch_path(lambda p, lr: torch.optim.Adam(p, lr=lr), loss_fn, X, y, 0.05)
    by_hand = ur.iterate(adam_uncorrected, grad, np.zeros(X.shape[1] + 1), STEPS, lr=0.05)
    with pytest.raises(AssertionError):
        assert_same_path(by_hand, by_torch)


@grades(ur.momentum_step, ur.rmsprop_step, ur.adam_step)
def test_rules_leave_their_inputs_untouched():
    theta, g = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    for rule in ur.RULES.values():
        state = {}
        for _ in range(3):
            before = (theta.copy(), g.copy(), {k: np.copy(v) for k, v in state.items()})
            new_theta, new_state = rule(theta, g, state, lr=0.1)
            np.testing.assert_array_equal(theta, before[0])
            np.testing.assert_array_equal(g, before[1])
            assert state.keys() == before[2].keys()
            theta, state = new_theta, new_state


def test_optim_iterates_rejects_lbfgs():
    X, y = torch.zeros(4, 2, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"^name must be one of .*, got 'lbfgs'$"):
        optim_iterates("lbfgs", objective, [torch.zeros(2), torch.zeros(())], X, y, lr=1, steps=1)
