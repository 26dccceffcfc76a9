"""Several first-order optimizers from one start, side by side: one autograd pass a step for all.

Why. The comparison runs gd, sgd, momentum, RMSProp, Adam and a mini-batch SGD on the same
data for the same number of steps. On problems this small (at most 455 x 30) a step costs
torch's fixed cost per operation, not arithmetic: k runs one after the other cost k forward
and k backward passes a step; stacked, about what one costs.

Model. Run j's parameters (w_j, b_j) are row j of W (k, p) and B (k,). One batched forward
gives every run's full-batch loss L_j = f(w_j, b_j) (``losses.objective_rows``), and one
backward pass of sum_i L_i gives every run's gradient, because L_j depends on row j alone:

    d(sum_i L_i) / d(w_j, b_j) = grad f(w_j, b_j)          (W.grad[j], B.grad[j]).

Then each run makes its own update on its own row, the one it makes alone
(``optimize.gradient_descent``, ``optimize.train_torch_optim``): ``descent_step`` for "gd",
torch.optim's functional rule (``torch_updates``) for "sgd", "momentum", "rmsprop" and
"adam"; a run with a ``batch_size`` first replaces its row's gradient by the gradient on its
next mini-batch (a pass of its own, ``optimize.batch_gradient``). Each run records f and
||grad f|| at every step and stops on its own test, as ``optimize.run_steps`` does:
||grad f|| <= tol, the step cap, or a non-finite loss (its Diverged; the others go on).

Rounding. W X^T sums each score in another order than X w (a matrix product, not a
matrix-vector one), and the batched sums of the loss and of ||grad f||^2 do too: each
full-batch loss and gradient differs from the one-run value by about 1e-16 relative, and
the iterates of a full-batch run drift from the one-run ones by rounding only (the records
agree to 1e-12 relative, ``tests/week3/test_fast_paths.py``). A mini-batch run's iterates
are the one-run ones exactly: its steps use only its own mini-batch passes.
``one_at_a_time`` is the straightforward reference: each run alone, by the code above.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from projects.week3_regression.optimize import (
    Diverged,
    OptimizeResult,
    batch_gradient,
    check_arguments,
    check_finite,
    descent_step,
    gradient_descent,
    leaf_copies,
    minibatches,
    train_torch_optim,
)
from projects.week3_regression.torch_updates import RULES as TORCH_RULES
from projects.week3_regression.torch_updates import torch_update

RULES = ("gd", *TORCH_RULES)  # what a run's rule can be


@dataclass(frozen=True)
class Run:
    """One optimizer: ``rule`` ("gd": ``descent_step``, the hand-written loop; else a rule of
    ``torch_updates``), its step size ``lr``, and ``batch_size`` (None: the full batch; else
    mini-batches of permutations drawn from ``generator``, seed 0 when None)."""

    rule: str
    lr: float
    batch_size: int | None = None
    generator: torch.Generator | None = None

    def batches(self, n_samples: int):
        """The run's mini-batch rows (``optimize.minibatches``), or None on the full batch."""
        if self.batch_size is None:
            return None
        generator = self.generator
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        return minibatches(n_samples, self.batch_size, generator)


def descent_update(params: list[torch.Tensor], lr: float) -> Callable[[], None]:
    """theta <- ``descent_step(theta, theta.grad, lr)`` in place: ``gradient_descent``'s step."""

    @torch.no_grad()
    def update():
        for p in params:
            p.copy_(descent_step(p, p.grad, lr))

    return update


class Lane:
    """Run ``j`` of a stack: its (w, b) as views of row j of (W, B) (its update changes the
    stack), its update, its mini-batches, and its record so far."""

    def __init__(self, run: Run, j: int, W, B, n_samples: int, momentum: float):
        self.run, self.j = run, j
        self.params = [W.detach()[j], B.detach()[j]]
        self.update = (
            descent_update(self.params, run.lr)
            if run.rule == "gd"
            else torch_update(run.rule, self.params, run.lr, momentum)
        )
        self.batches = run.batches(n_samples)
        self.leaves = leaf_copies(self.params) if self.batches is not None else None
        self.losses, self.grad_norms = [], []

    def record(self, step: int, loss: float, grad_norm: float, max_steps: int, tol: float):
        """Step ``step``'s f and ||grad f|| into the record; the run's result if it stops
        here, else None. Diverged on a non-finite loss, before it is recorded."""
        check_finite(loss, step, self.run.lr)
        self.losses.append(loss)
        self.grad_norms.append(grad_norm)
        converged = grad_norm <= tol
        if not (converged or step == max_steps):
            return None
        params = [p.clone() for p in self.params]
        return OptimizeResult(
            params, np.array(self.losses), np.array(self.grad_norms), step, converged
        )

    def step(self, grads: list[torch.Tensor], loss_fn: Callable, X, y) -> None:
        """One update from ``grads``, the row's full-batch gradient, or from the gradient on
        the run's next mini-batch."""
        if self.batches is not None:
            with torch.no_grad():  # leaves of their own holding the row's values
                for leaf, p in zip(self.leaves, self.params, strict=True):
                    leaf.copy_(p)
            batch_gradient(loss_fn, self.leaves, X, y, next(self.batches))
            grads = [leaf.grad for leaf in self.leaves]
        for p, grad in zip(self.params, grads, strict=True):
            p.grad = grad
        self.update()


def stacked_loss_and_gradients(rows_loss_fn: Callable, W, B, X, y):
    """(f of every row, ||grad f||_2 of every row) as lists, with W.grad and B.grad set: one
    forward and one backward pass for all rows."""
    W.grad = B.grad = None
    losses = rows_loss_fn(W, B, X, y)
    losses.sum().backward()
    with torch.no_grad():
        grad_norms = torch.sqrt((W.grad**2).sum(1) + B.grad**2)
    return losses.detach().tolist(), grad_norms.tolist()


def check_runs(runs: dict[str, Run], n_samples: int, max_steps: int, tol: float) -> None:
    """Every run's rule known and its arguments valid (``optimize.check_arguments``)."""
    for label, run in runs.items():
        if run.rule not in RULES:
            raise ValueError(f"{label}: rule must be one of {list(RULES)}, got {run.rule!r}")
        check_arguments(n_samples, max_steps, tol, run.lr, run.batch_size)


def side_by_side(
    runs: dict[str, Run],
    loss_fn: Callable,
    rows_loss_fn: Callable,
    params,
    X,
    y,
    *,
    max_steps: int,
    tol: float,
    momentum: float = 0.9,
) -> dict[str, OptimizeResult | Diverged]:
    """Every run of ``runs`` (label -> Run) from ``params`` = (w, b), stacked (module doc):
    label -> its record, what ``one_at_a_time`` gives up to rounding, or its Diverged.

    ``loss_fn(w, b, X, y)``: f of one (w, b) (for mini-batch gradients); ``rows_loss_fn(W,
    B, X, y)``: f of every row of W (k, p) and B (k,), shape (k,) (``objective_rows``).
    """
    check_runs(runs, X.shape[0], max_steps, tol)
    w, b = (p.detach() for p in params)
    W = w.expand(len(runs), *w.shape).clone().requires_grad_(True)
    B = b.expand(len(runs)).clone().requires_grad_(True)
    lanes = {label: Lane(run, j, W, B, X.shape[0], momentum) for j, (label, run) in
             enumerate(runs.items())}  # fmt: skip
    results = {}
    for step in range(max_steps + 1):
        losses, grad_norms = stacked_loss_and_gradients(rows_loss_fn, W, B, X, y)
        for label, lane in list(lanes.items()):
            try:
                results[label] = lane.record(step, losses[lane.j], grad_norms[lane.j],
                                             max_steps, tol)  # fmt: skip
            except Diverged as error:
                results[label] = error
            if results[label] is None:
                lane.step([W.grad[lane.j], B.grad[lane.j]], loss_fn, X, y)
            else:
                del lanes[label]
        if not lanes:
            break
    return {label: results[label] for label in runs}


def one_at_a_time(
    runs: dict[str, Run], loss_fn: Callable, params, X, y, *, max_steps: int, tol: float
) -> dict[str, OptimizeResult | Diverged]:
    """Every run of ``runs`` alone, ``gradient_descent`` for "gd" and ``train_torch_optim``
    for the others: the straightforward reference of ``side_by_side``, the same result."""
    results = {}
    for label, run in runs.items():
        common = {"lr": run.lr, "max_steps": max_steps, "tol": tol,
                  "batch_size": run.batch_size, "generator": run.generator}  # fmt: skip
        try:
            if run.rule == "gd":
                results[label] = gradient_descent(loss_fn, params, X, y, **common)
            else:
                results[label] = train_torch_optim(run.rule, loss_fn, params, X, y, **common)
        except Diverged as error:
            results[label] = error
    return results
