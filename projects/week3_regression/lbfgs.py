"""L-BFGS written out: the two-loop recursion and a weak Wolfe line search, on autograd.

Model. Minimize f(theta) = loss_fn(w, b, X, y) over the flat vector theta = (w, b). At
iterate k, with g_k = grad f(theta_k) and the last m pairs

    s_i = theta_{i+1} - theta_i,   y_i = g_{i+1} - g_i,   rho_i = 1 / (y_i^T s_i),

L-BFGS steps along d_k = -H_k g_k, where H_k is the BFGS inverse-Hessian approximation

    H_{i+1} = (I - rho_i s_i y_i^T) H_i (I - rho_i y_i s_i^T) + rho_i s_i s_i^T,
    H_{k-m} = gamma_k I,   gamma_k = s_{k-1}^T y_{k-1} / (y_{k-1}^T y_{k-1}),

applied to g_k by the two-loop recursion in O(m p) without ever forming H_k. The step
length t meets the weak Wolfe conditions (sufficient decrease and curvature), found by
bisection from t = 1; the first step, along -g with no curvature known yet, starts at
length 1, t = 1 / ||g_0|| (L-BFGS-B's choice). The curvature condition gives y^T s > 0,
so H_k stays positive definite; a pair with y^T s <= 1e-10 (round-off) is not stored.

Each evaluation is one forward pass and one backward pass: f and grad f together
(``torch.autograd.grad``), so an accepted unit step costs exactly one evaluation. Autograd
does only that; the algebra on p-vectors (two loops, line search) is NumPy, whose calls on
small arrays cost a fraction of torch's per-call dispatch. Everything runs in the dtype
of its inputs: float32 halves the memory each pass over X reads, at a noise floor of
about 1e-7 relative in f. When the line search finds no step that lowers f by more than
round-off (that floor, reached by a tol below what the dtype resolves), the run stops
there with converged=False.

``lbfgs`` follows the contract of ``optimize``: losses[k] and grad_norms[k] at every
iterate, stop at ||grad f|| <= tol or after max_steps updates, FloatingPointError on a
non-finite loss. ``optimize.train_torch_optim("lbfgs", ...)`` (torch.optim.LBFGS, strong
Wolfe) is the straightforward reference it is tested against.

Sources:
- J. Nocedal, S. J. Wright, "Numerical Optimization", 2nd ed. (2006): sections 3.1 (the
  Wolfe conditions), Algorithm 7.4 (the two-loop recursion), Algorithm 7.5 and eq. (7.20)
  (L-BFGS, the scaling gamma_k).
- A. S. Lewis, M. L. Overton, "Nonsmooth optimization via quasi-Newton methods", Math.
  Programming 141 (2013), section 4.2 (the bisection weak Wolfe line search).
"""

import functools
import math
from collections import deque
from collections.abc import Callable

import numpy as np
import torch

from common.validation import check_int
from projects.week3_regression.optimize import OptimizeResult, check_arguments, run_steps

ARMIJO_C1 = 1e-4  # sufficient decrease: f falls by at least c1 * t * |g^T d|
CURVATURE_C2 = 0.9  # curvature: the slope along d rises to at least c2 times its start
MAX_TRIALS = 25  # evaluations per line search, at most


def two_loop_direction(g, history):
    """H_k g by the two-loop recursion (Nocedal and Wright, Algorithm 7.4).

    ``g``: array (p,); ``history``: (s_i, y_i, rho_i) oldest first, rho_i = 1 / y_i^T s_i.
    With no history H_k = I: returns a copy of g.
    """
    q = g.copy()
    alphas = []
    for s, y, rho in reversed(history):  # newest first
        alpha = rho * (s @ q)
        q -= alpha * y
        alphas.append(alpha)
    if history:  # H_k^0 = gamma_k I, gamma_k = s^T y / y^T y of the newest pair
        s, y, rho = history[-1]
        q *= 1.0 / (rho * (y @ y))
    for (s, y, rho), alpha in zip(history, reversed(alphas), strict=True):  # oldest first
        beta = rho * (y @ q)
        q += (alpha - beta) * s
    return q


def weak_wolfe(evaluate, theta, f, g, d, t):
    """(t, theta + t d, f and g there) for a t meeting the weak Wolfe conditions

        f(theta + t d) <= f + c1 t g^T d      (sufficient decrease: Armijo)
        grad f(theta + t d)^T d >= c2 g^T d   (curvature: the slope has flattened)

    by bisection (Lewis and Overton 2013): a t that fails Armijo is too long (hi = t), one
    that fails the curvature test too short (lo = t); t doubles until some t is too long,
    then halves [lo, hi]. Returns the last Armijo point after MAX_TRIALS evaluations, or
    once a t lowers f by no more than round-off (eps |f|); None if there is none.
    """
    slope = g @ d  # g^T d < 0 along a descent direction
    round_off = np.finfo(g.dtype).eps * abs(f)
    lo, hi, accepted = 0.0, math.inf, None
    for _ in range(MAX_TRIALS):
        trial = theta + t * d
        f_trial, g_trial = evaluate(trial)
        if not f_trial <= f + ARMIJO_C1 * t * slope:  # too long (or inf, NaN)
            hi = t
        elif f - f_trial <= round_off:  # f cannot be resolved any lower along d
            return accepted
        else:
            accepted = (t, trial, f_trial, g_trial)
            if g_trial @ d >= CURVATURE_C2 * slope:
                return accepted
            lo = t  # too short: f still falls steeply along d
        t = (lo + hi) / 2 if hi < math.inf else 2 * t
    return accepted


def flat_loss_and_gradient(loss_fn, shapes, X, y, theta):
    """(f(theta) as a float, grad f(theta) as an array): one forward and one backward pass.

    ``theta``: the flat NumPy vector of all parameters; autograd sees it as a leaf tensor
    on X's device (on the CPU ``torch.from_numpy`` shares its memory: no copy either way).
    """
    leaf = torch.from_numpy(theta).to(X.device).requires_grad_(True)
    parts = leaf.split([shape.numel() for shape in shapes])
    loss = loss_fn(*(part.view(shape) for part, shape in zip(parts, shapes, strict=True)), X, y)
    (grad,) = torch.autograd.grad(loss, leaf)
    return loss.item(), grad.cpu().numpy()


def lbfgs_step(evaluate, state: dict, history: deque, first: bool) -> bool:
    """One iteration from ``state`` (theta_k, f_k, g_k), updated in place: the direction
    d = -H_k g_k, a Wolfe step t_k along it, and the pair (s_k, y_k) into ``history``.
    False when the line search finds no decrease left (the loop stops, not converged)."""
    theta, f, g = state["theta"], state["f"], state["g"]
    d = -two_loop_direction(g, history)
    if g @ d >= 0:  # not a descent direction (round-off): restart along -g
        history.clear()
        d = -g
    # the first step, with no curvature known, has length 1 (L-BFGS-B's choice)
    t = 1.0 / float(np.linalg.norm(g)) if first else 1.0
    accepted = weak_wolfe(evaluate, theta, f, g, d, t)
    if accepted is None:
        return False
    t, state["theta"], state["f"], state["g"] = accepted
    s, y_diff = state["theta"] - theta, state["g"] - g
    ys = float(y_diff @ s)
    if ys > 1e-10:  # y^T s > 0 (the curvature condition) keeps H_{k+1} positive definite
        history.append((s, y_diff, 1.0 / ys))
    return True


def lbfgs(
    loss_fn: Callable,
    params,
    X,
    y,
    *,
    max_steps: int,
    tol: float,
    history_size: int = 10,
    callback: Callable | None = None,
) -> OptimizeResult:
    """theta_{k+1} = theta_k - t_k H_k g_k: L-BFGS with memory ``history_size`` (module doc).

    ``loss_fn(*params, X, y)`` returns a scalar tensor; params, X and y share one dtype.
    ``callback(step, loss, grad_norm)`` is called at every step.
    """
    check_arguments(X.shape[0], max_steps, tol)
    check_int(history_size, "history_size", 1)
    shapes = [p.shape for p in params]
    evaluate = functools.partial(flat_loss_and_gradient, loss_fn, shapes, X, y)
    theta = torch.cat([p.detach().reshape(-1) for p in params]).numpy()  # theta_0, (n_params,)
    f, g = evaluate(theta)
    state = {"theta": theta, "f": f, "g": g}  # the current iterate and its evaluation
    history = deque(maxlen=history_size)  # (s_i, y_i, rho_i), oldest first

    def current():
        return state["f"], float(np.linalg.norm(state["g"]))

    def step_fn(step):
        return lbfgs_step(evaluate, state, history, first=step == 0)

    result = run_steps(step_fn, current, [], None, max_steps, tol, callback)
    parts = torch.from_numpy(state["theta"]).to(X.device).split([s.numel() for s in shapes])
    result.params = [part.view(shape).clone() for part, shape in zip(parts, shapes, strict=True)]
    return result
