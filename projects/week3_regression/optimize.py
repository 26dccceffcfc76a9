"""Minimize a differentiable loss with autograd: gradient descent, torch.optim, Newton.

Model. Parameters theta = (w, b) minimize f(theta) = loss_fn(w, b, X, y), for example
``functools.partial(objective, "logistic", l2=1e-3)`` from ``losses``. Three ways down:

- ``gradient_descent``: the hand-written loop, theta <- theta - lr grad f(theta), with the
  gradient from ``loss.backward()`` (W3.P3); full batch, or mini-batch SGD over a seeded
  permutation of the rows per epoch (W3.5, W3.P4).
- ``train_torch_optim``: the same loop making torch.optim's updates (SGD, momentum, RMSProp,
  Adam by ``torch_updates``, and ``torch.optim.LBFGS`` with a strong-Wolfe line search).
- ``newton``: theta <- theta - H^{-1} g with the autograd Hessian H, by a linear solve
  (W3.X1); quadratic convergence near the minimum of a strictly convex f.
- ``optim_iterates``: every iterate of a ``torch.optim`` optimizer, the record the
  by-hand update rules of ``update_rules`` are checked against (W3.X5).

Every method records f(theta_k) and ||grad f(theta_k)||_2 on the full batch at each step
k = 0, 1, ... (before the k-th update), stops as soon as ||grad f|| <= tol or after
max_steps updates, and raises FloatingPointError the step the loss stops being finite.

Sources:
- J. Nocedal, S. J. Wright, "Numerical Optimization", 2nd ed. (2006), chapters 3
  (line search), 6 (Newton) and 7.2 (L-BFGS).
- S. Ruder, "An overview of gradient descent optimization algorithms" (2016),
  arXiv:1609.04747 (momentum, RMSProp, Adam).
"""

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from common.exercises import exercise
from common.validation import check_int, check_number
from projects.week3_regression.torch_updates import RULES, torch_update


@dataclass
class OptimizeResult:
    """params: the final (w, b), detached; losses[k], grad_norms[k]: f and ||grad f|| at step k."""

    params: list[torch.Tensor]
    losses: np.ndarray
    grad_norms: np.ndarray
    steps: int  # parameter updates made
    converged: bool  # ||grad f|| <= tol was reached


def check_arguments(n_samples, max_steps, tol, lr=1.0, batch_size=None):
    """Validate the arguments shared by every method, before any work: lr a finite
    number > 0, max_steps an int >= 1, tol a number >= 0, batch_size None or an int in
    [1, n_samples] (n_samples is read only then)."""
    check_number(lr, "lr", 0, include_boundaries="neither")
    check_int(max_steps, "max_steps", 1)
    check_number(tol, "tol", 0, finite=False)
    if batch_size is not None:
        check_int(batch_size, "batch_size", 1, n_samples)


def leaf_copies(params):
    """Fresh leaf tensors theta with requires_grad=True: the caller's tensors stay untouched."""
    return [p.detach().clone().requires_grad_(True) for p in params]


@exercise(
    "W3.P3",
    hint="set each p.grad = None first, then loss_fn(*theta, X, y).backward(); sum p.grad**2",
)
def loss_and_gradient(loss_fn, theta, X, y):
    """f(theta) and grad f(theta) by reverse-mode autograd: f.backward() fills p.grad.

    ``theta``: leaf tensors with ``requires_grad=True`` (w of shape (p,), b of shape ());
    ``loss_fn(*theta, X, y)`` returns the scalar f. Clears every p.grad first (backward()
    accumulates into .grad), leaves theta's values untouched, and sets p.grad = df/dp.
    Returns (f, ||grad f||_2) as Python floats, the norm over all of theta's entries.
    """
    for p in theta:
        p.grad = None
    loss = loss_fn(*theta, X, y)
    loss.backward()
    grad_norm = torch.sqrt(sum((p.grad**2).sum() for p in theta))
    return loss.item(), grad_norm.item()


class Diverged(FloatingPointError):
    """The loss turned inf or NaN at ``step`` (0: at the start), with the step size ``lr``
    (None: a method that chooses its own step length)."""

    def __init__(self, step, lr, loss):
        self.step, self.lr, self.loss = step, lr, loss
        if step == 0:
            advice = f"the loss is {loss} at the start, before any step"
        elif lr is None:
            advice = "the method's own step length overshot (it takes no learning rate)"
        else:  # on f's steepest direction a step lr > 2 / (the curvature there) grows
            advice = f"lower the learning rate (lr={lr})"
        super().__init__(f"diverged at step {step}; {advice}")

    def __reduce__(self):  # pickled by its arguments (it crosses to and from a second process)
        return Diverged, (self.step, self.lr, self.loss)


def check_finite(loss, step, lr):
    """Diverged (a FloatingPointError) at the first step whose loss is inf or NaN."""
    if not math.isfinite(loss):
        raise Diverged(step, lr, loss)


@exercise(
    "W3.P4",
    hint="an endless generator: each epoch draws torch.randperm(n, generator=...) and yields "
    "its consecutive slices",
)
def minibatches(n_samples, batch_size, generator):
    """Row indices of successive mini-batches: a fresh seeded permutation every epoch.

    Epoch e draws pi_e = ``torch.randperm(n_samples, generator=generator)`` and yields its
    consecutive slices pi_e[0:B], pi_e[B:2B], ... (int64 tensors; the last may be shorter),
    then starts the next epoch, forever. A mini-batch gradient is the gradient of the loss
    on X[rows], y[rows]: an unbiased estimate of the full-batch gradient.
    """
    while True:
        yield from torch.randperm(n_samples, generator=generator).split(batch_size)


def batch_gradient(loss_fn, theta, X, y, rows):
    """theta.grad = grad of the loss on the rows X[rows], y[rows] (a stochastic gradient)."""
    for p in theta:
        p.grad = None
    loss_fn(*theta, X[rows], y[rows]).backward()


@exercise("W3.5", hint="one line; it works unchanged on NumPy arrays and on tensors")
def descent_step(w, grad, lr):
    """w_{k+1} = w_k - lr * grad f(w_k): one step of gradient descent.

    ``w`` and ``grad``: arrays or tensors of one shape; ``lr``: a float > 0. Returns a new
    array or tensor of that shape (``w`` itself is not modified).
    """
    return w - lr * grad


def run_steps(step_fn, evaluate, theta, lr, max_steps, tol, callback):
    """The shared loop: measure f and ||grad f|| on the full batch, stop or step, repeat.

    ``evaluate()`` returns (f, ||grad f||) at the current theta and sets theta.grad;
    ``step_fn(step)`` then makes the step-th update (it may overwrite theta.grad with a
    mini-batch gradient), or returns False when it found no update to make: the loop ends
    there, not converged. ``callback(step, f, ||grad f||)``, if given, sees every step (the
    pipeline draws its progress bar with it).
    """
    losses, grad_norms, converged = [], [], False
    for step in range(max_steps + 1):
        loss, grad_norm = evaluate()
        check_finite(loss, step, lr)
        losses.append(loss)
        grad_norms.append(grad_norm)
        if callback is not None:
            callback(step, loss, grad_norm)
        converged = grad_norm <= tol
        if converged or step == max_steps or step_fn(step) is False:
            break
    params = [p.detach() for p in theta]
    return OptimizeResult(params, np.array(losses), np.array(grad_norms), step, converged)


def gradient_descent(
    loss_fn: Callable,
    params,
    X,
    y,
    *,
    lr: float,
    max_steps: int,
    tol: float,
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
    callback: Callable | None = None,
) -> OptimizeResult:
    """theta_{k+1} = theta_k - lr g_k, g_k = grad f(theta_k) (or its mini-batch estimate).

    ``loss_fn(*params, X, y)`` returns a scalar tensor. With ``batch_size`` set, g_k is the
    gradient on the next ``batch_size`` rows of a permutation drawn from ``generator``
    (``torch.Generator().manual_seed(0)`` when None): the same seed gives the same curve.
    ``callback(step, loss, grad_norm)`` is called at every step.
    """
    check_arguments(X.shape[0], max_steps, tol, lr, batch_size)
    theta = leaf_copies(params)
    batches = None
    if batch_size is not None:
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        batches = minibatches(X.shape[0], batch_size, generator)

    def step_fn(step):
        if batches is not None:
            batch_gradient(loss_fn, theta, X, y, next(batches))
        with torch.no_grad():  # the update is not part of the graph
            for p in theta:
                p.copy_(descent_step(p, p.grad, lr))
                p.grad = None  # zeroed: backward() accumulates

    evaluate = functools.partial(loss_and_gradient, loss_fn, theta, X, y)
    return run_steps(step_fn, evaluate, theta, lr, max_steps, tol, callback)


def least_squares_descent(X, y, *, lr: float, max_steps: int, tol: float) -> OptimizeResult:
    """``gradient_descent`` from w = 0, b = 0 on f(w, b) = (1/2n) ||X w + b - y||^2, in NumPy:
    the gradient (X^T r / n, mean(r)), r = X w + b - y, by its formula instead of autograd.

    ``X`` (n, p) and ``y`` (n,): float64 arrays. The same iterates as ``gradient_descent``
    up to rounding (sums taken in another order: about 1e-15 relative per step), for a
    tenth of its cost per step on a problem this small, where a step costs torch's dispatch
    and not arithmetic. For studies that count the steps (how they grow with the condition
    number), not for the training, whose lesson is autograd.
    """
    check_arguments(X.shape[0], max_steps, tol, lr)
    n = X.shape[0]
    w, b = np.zeros(X.shape[1]), np.zeros(())
    grad = []  # (grad_w, grad_b) at the current point, set by evaluate()

    def evaluate():
        r = X @ w + b - y  # residuals, shape (n,)
        grad[:] = X.T @ r / n, r.sum() / n
        return 0.5 * float(r @ r) / n, math.sqrt(float(grad[0] @ grad[0] + grad[1] ** 2))

    def step_fn(step):
        w[:] = descent_step(w, grad[0], lr)
        b[...] = descent_step(b, grad[1], lr)

    theta = [torch.from_numpy(w), torch.from_numpy(b)]  # views: the final (w, b) as tensors
    return run_steps(step_fn, evaluate, theta, lr, max_steps, tol, None)


OPTIMIZERS = (*RULES, "lbfgs")  # what train_torch_optim runs


def torch_lbfgs(theta, lr):
    """torch.optim.LBFGS making one iteration per step, its own stopping tests off (ours
    decide); built only when asked for (its first use imports torch._dynamo)."""
    return torch.optim.LBFGS(
        theta,
        lr=lr,
        max_iter=1,
        max_eval=26,  # 1 + the line search's default cap of 25 evaluations
        history_size=10,
        tolerance_grad=0.0,
        tolerance_change=0.0,
        line_search_fn="strong_wolfe",
    )


def train_torch_optim(
    name: str,
    loss_fn: Callable,
    params,
    X,
    y,
    *,
    lr: float,
    max_steps: int,
    tol: float,
    batch_size: int | None = None,
    momentum: float = 0.9,
    generator: torch.Generator | None = None,
    callback: Callable | None = None,
) -> OptimizeResult:
    """The ``gradient_descent`` loop with the update torch.optim makes for ``name``.

    "sgd": theta -= lr g; "momentum": v = momentum v + g, theta -= lr v; "rmsprop" and
    "adam" scale g by running averages of g^2 (all four by ``torch_updates``: torch.optim's
    numbers without its Optimizer); "lbfgs": ``torch.optim.LBFGS``, a quasi-Newton direction
    and a strong-Wolfe line search, always on the full batch (``batch_size`` must be None).
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid optimizers: {sorted(OPTIMIZERS)}")
    check_arguments(X.shape[0], max_steps, tol, lr, batch_size)
    if name == "lbfgs" and batch_size is not None:
        raise ValueError(f"lbfgs is full batch: batch_size must be None, got {batch_size!r}")
    theta = leaf_copies(params)
    if name != "lbfgs":
        return train_by_rule(
            torch_update(name, theta, lr, momentum), loss_fn, theta, X, y,
            lr=lr, max_steps=max_steps, tol=tol, batch_size=batch_size, generator=generator,
            callback=callback,
        )  # fmt: skip
    return train_torch_lbfgs(
        loss_fn, theta, X, y, lr=lr, max_steps=max_steps, tol=tol, callback=callback,
    )  # fmt: skip


def train_torch_lbfgs(loss_fn, theta, X, y, *, lr, max_steps, tol, callback):
    """``torch.optim.LBFGS`` in the shared loop, one iteration a step: the straightforward
    reference ``lbfgs`` is tested against (each step evaluates f at theta once more)."""
    optimizer = torch_lbfgs(theta, lr)

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(*theta, X, y)
        loss.backward()
        return loss

    def step_fn(step):
        optimizer.step(closure)

    evaluate = functools.partial(loss_and_gradient, loss_fn, theta, X, y)
    return run_steps(step_fn, evaluate, theta, lr, max_steps, tol, callback)


def train_by_rule(
    update, loss_fn, theta, X, y, *, lr, max_steps, tol, batch_size, generator, callback
) -> OptimizeResult:
    """The ``gradient_descent`` loop with ``update()`` (a ``torch_updates`` rule) as its step,
    on the full-batch gradient or on the next mini-batch's."""
    batches = None
    if batch_size is not None:
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        batches = minibatches(X.shape[0], batch_size, generator)

    def step_fn(step):
        if batches is not None:
            batch_gradient(loss_fn, theta, X, y, next(batches))
        update()

    evaluate = functools.partial(loss_and_gradient, loss_fn, theta, X, y)
    return run_steps(step_fn, evaluate, theta, lr, max_steps, tol, callback)


@exercise("W3.X1", hint="torch.linalg.solve(H, g) gives d with H d = g; never form inv(H)")
def newton_step(theta, g, H):
    """theta_{k+1} = theta_k - d with H d = g: one Newton step, by a linear solve.

    ``theta``, ``g`` (the gradient at theta): float64 tensors of shape (m,); ``H`` (the
    Hessian at theta): shape (m, m), symmetric positive definite near a strict minimum.
    Returns the new point, shape (m,). Solving costs O(m^3) like an inverse, but is
    cheaper by a constant and more accurate; on a quadratic it lands on the minimum.
    """
    return theta - torch.linalg.solve(H, g)


def newton(
    loss_fn: Callable,
    params,
    X,
    y,
    *,
    max_steps: int,
    tol: float,
    callback: Callable | None = None,
) -> OptimizeResult:
    """theta_{k+1} = theta_k - H_k^{-1} g_k, with H_k = hessian of f at theta_k (solve, no inverse).

    theta is the flat vector of all parameters; H comes from
    ``torch.autograd.functional.hessian``, row by row (its ``vectorize=True`` loads torch's
    symbolic shapes and sympy, 0.4 s, for a 31 x 31 H). No line search: meant for strictly convex,
    smooth f such as L2-penalized logistic regression (not for an L1 penalty).
    """
    check_arguments(X.shape[0], max_steps, tol)
    theta = leaf_copies(params)
    shapes = [p.shape for p in theta]
    sizes = [p.numel() for p in theta]

    def f(flat):
        parts = [part.reshape(shape) for part, shape in zip(flat.split(sizes), shapes, strict=True)]
        return loss_fn(*parts, X, y)

    def step_fn(step):
        with torch.no_grad():
            flat = torch.cat([p.reshape(-1) for p in theta])  # theta_k, shape (n_params,)
            g = torch.cat([p.grad.reshape(-1) for p in theta])  # grad f(theta_k)
        H = torch.autograd.functional.hessian(f, flat)  # (n_params, n_params), row by row
        with torch.no_grad():
            for p, part in zip(theta, newton_step(flat, g, H).split(sizes), strict=True):
                p.copy_(part.reshape(p.shape))

    evaluate = functools.partial(loss_and_gradient, loss_fn, theta, X, y)
    return run_steps(step_fn, evaluate, theta, None, max_steps, tol, callback)


def optim_iterates(name: str, loss_fn: Callable, params, X, y, *, lr: float, steps: int):
    """theta_0..theta_steps, shape (steps + 1, n_params), of torch.optim's rule ``name`` (not lbfgs)
    on the full batch: zero_grad, f(theta).backward(), step. The record by-hand update rules
    are compared against (W3.X5)."""
    if name not in RULES:
        raise ValueError(f"name must be one of {sorted(RULES)}, got {name!r}")
    theta = leaf_copies(params)
    update = torch_update(name, theta, lr, 0.9)

    def flat():
        return torch.cat([p.detach().reshape(-1) for p in theta])

    path = [flat()]
    for _ in range(steps):
        for p in theta:
            p.grad = None  # as zero_grad() does
        loss_fn(*theta, X, y).backward()
        update()
        path.append(flat())
    return torch.stack(path).cpu().numpy()
