"""torch_updates against torch.optim's classes: the same iterates, bit for bit.

The reference is the straightforward loop (``torch.optim.SGD/RMSprop/Adam(...)``,
``zero_grad``, ``backward``, ``step``) on the breast-cancer logistic regression, full batch
and mini-batch; tolerance: none (``torch.equal``), since both call the same function on the
same state. A run of the pipeline must not import ``torch._dynamo`` through an optimizer.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from common.paths import REPO_ROOT
from projects.week3_regression import calculus
from projects.week3_regression.data import load_task
from projects.week3_regression.losses import objective
from projects.week3_regression.optimize import optim_iterates, train_torch_optim
from projects.week3_regression.torch_updates import RULES, torch_update

CLASSES = {
    "sgd": lambda theta, lr: torch.optim.SGD(theta, lr=lr),
    "momentum": lambda theta, lr: torch.optim.SGD(theta, lr=lr, momentum=0.9),
    "rmsprop": lambda theta, lr: torch.optim.RMSprop(theta, lr=lr),
    "adam": lambda theta, lr: torch.optim.Adam(theta, lr=lr),
}
LR = {"sgd": 0.5, "momentum": 0.1, "rmsprop": 0.01, "adam": 0.05}


def loss_fn(w, b, X, y):
    return objective("logistic", w, b, X, y, l2=0.01)


@pytest.fixture(scope="module")
def cancer():
    split = load_task("logistic", test_size=0.2, standardize=True, seed=0)
    return split.X_train, split.y_train


def zeros(X):
    return [torch.zeros(X.shape[1], dtype=X.dtype), torch.zeros((), dtype=X.dtype)]


def by_class(name, X, y, steps, rows=None):
    """theta after ``steps`` updates of the torch.optim class, on X[rows[k]] at step k."""
    theta = [p.requires_grad_(True) for p in zeros(X)]
    optimizer = CLASSES[name](theta, LR[name])
    for k in range(steps):
        optimizer.zero_grad()
        batch = slice(None) if rows is None else rows[k]
        loss_fn(*theta, X[batch], y[batch]).backward()
        optimizer.step()
    return [p.detach() for p in theta]


@pytest.mark.parametrize("name", RULES)
def test_each_rule_takes_the_steps_of_its_torch_optim_class_bit_for_bit(name, cancer):
    X, y = cancer
    theta = [p.requires_grad_(True) for p in zeros(X)]
    update = torch_update(name, theta, LR[name])
    for _ in range(300):
        for p in theta:
            p.grad = None
        loss_fn(*theta, X, y).backward()
        update()
    for ours, theirs in zip(theta, by_class(name, X, y, 300), strict=True):
        assert torch.equal(ours.detach(), theirs)


@pytest.mark.parametrize("name", RULES)
def test_mini_batch_training_ends_where_the_torch_optim_class_ends(name, cancer):
    X, y = cancer
    generator = torch.Generator().manual_seed(3)
    rows = [r for _ in range(3) for r in torch.randperm(len(X), generator=generator).split(32)]
    steps = len(rows)
    result = train_torch_optim(
        name, loss_fn, zeros(X), X, y, lr=LR[name], max_steps=steps, tol=0.0, batch_size=32,
        generator=torch.Generator().manual_seed(3),
    )  # fmt: skip
    assert result.steps == steps
    for ours, theirs in zip(result.params, by_class(name, X, y, steps, rows), strict=True):
        assert torch.equal(ours, theirs)


def test_the_by_hand_record_is_the_torch_optim_path(cancer):
    X, y = cancer
    path = optim_iterates("adam", loss_fn, zeros(X), X, y, lr=LR["adam"], steps=40)
    last = torch.cat([p.reshape(-1) for p in by_class("adam", X, y, 40)]).numpy()
    np.testing.assert_array_equal(path[-1], last)


@pytest.mark.parametrize("name", list(calculus.DRAWN_OPTIMIZERS))
def test_the_drills_trajectories_are_torch_optims(name):
    path = calculus.trajectory(name, (-2.0, 1.5), 0.05, 60)
    w = torch.tensor([-2.0, 1.5], dtype=torch.float64, requires_grad=True)
    optimizer = CLASSES[calculus.DRAWN_OPTIMIZERS[name]]([w], 0.05)
    for _ in range(60):
        optimizer.zero_grad()
        calculus.quadratic(w).backward()
        optimizer.step()
    np.testing.assert_array_equal(path[-1], w.detach().numpy())


def test_an_unknown_rule_is_refused_naming_the_rules():
    with pytest.raises(ValueError, match=r"name must be one of \['sgd', 'momentum'"):
        torch_update("adagrad", [torch.zeros(2)], 0.1)


def test_training_by_the_rules_never_imports_torch_dynamo():
    code = (
        "import sys, torch\n"
        "from projects.week3_regression.optimize import train_torch_optim\n"
        "from projects.week3_regression.losses import objective\n"
        "X, y = torch.randn(50, 3, dtype=torch.float64), (torch.rand(50) > 0.5).double()\n"
        "for name in ('sgd', 'momentum', 'rmsprop', 'adam'):\n"
        "    train_torch_optim(name, lambda w, b, X, y: objective('logistic', w, b, X, y),\n"
        "        [torch.zeros(3, dtype=torch.float64), torch.zeros((), dtype=torch.float64)],\n"
        "        X, y, lr=0.1, max_steps=20, tol=0.0)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
