"""Week 3 drills: derivatives three ways (by hand, by autograd, by finite differences) and
gradient descent, from a hand-written loop on x^2 to ``torch.optim`` on ill-conditioned losses.

Curriculum ids: W3.1 derivatives and partial derivatives, W3.P1 finite differences (a gradient
check), W3.P3 autograd (``requires_grad=True``, ``backward()``), W3.2 the chain rule,
W3.P2 gradient descent on f(x) = x^2 by hand, W3.4 convex versus non-convex functions, local
versus global minima, W3.5 / W3.P4 SGD, momentum, RMSProp and Adam on a 2-D loss.

Every tensor is float64 (``dtype=torch.float64`` at creation; the global default is untouched).
A function of a point ``w`` reads its coordinates from the last axis (``w[..., 0]``), so the
same code evaluates one point or a stack of points.

Sources:
- I. Goodfellow, Y. Bengio, A. Courville, "Deep Learning" (2016): 4.3 (gradient descent,
  the Hessian and ill-conditioning), 6.5 (back-propagation and the chain rule), 8.3-8.5
  (SGD, momentum, RMSProp, Adam).
- J. Nocedal, S. J. Wright, "Numerical Optimization", 2nd ed. (2006): 8.1 (central
  differences, error O(h^2) + O(eps / h)), 2.2 and 3.3 (convergence rate of steepest descent
  and the condition number).
- S. Boyd, L. Vandenberghe, "Convex Optimization" (2004): 3.1.4 (second-order condition:
  f is convex on an interval iff f'' >= 0 there).
- H. H. Rosenbrock, "An automatic method for finding the greatest or least value of a
  function", The Computer Journal 3 (1960): the banana-shaped valley.
"""

import math

import numpy as np
import pandas as pd
import torch
from scipy import optimize

from common.exercises import exercise
from projects.week3_regression.optimize import descent_step
from projects.week3_regression.torch_updates import torch_update

DTYPE = torch.float64


def _tensor(x, requires_grad=False):
    return torch.tensor(np.asarray(x, dtype=np.float64), dtype=DTYPE, requires_grad=requires_grad)


# ---------------------------------------------------------------- W3.1, W3.P1, W3.P3


@exercise(
    "W3.1",
    hint="row i of h * torch.eye(n) is h e_i: f of the stack x + steps gives every f(x + h e_i)",
)
def central_difference(f, x, h=1e-6):
    """df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2h) for every coordinate i at once (W3.1).

    The error is h^2 |f'''| / 6 (truncation) plus about eps |f| / h (rounding), so at
    h = 1e-6 a smooth O(1) function gets about 1e-10 relative accuracy. ``f`` maps a stack of
    points (coordinates on the last axis, shape (k, n)) to a stack of values (k,); a 0-d ``x``
    is a scalar function evaluated elementwise. ``x``: shape (n,) or (), array or tensor.
    Returns a float64 tensor shaped like ``x``.
    """
    x = torch.as_tensor(x, dtype=DTYPE)
    if x.ndim == 0:
        return (f(x + h) - f(x - h)) / (2 * h)
    steps = h * torch.eye(x.shape[-1], dtype=DTYPE)  # row i is h e_i, shape (n, n)
    return (f(x + steps) - f(x - steps)) / (2 * h)  # shape (n,)


@exercise(
    "W3.P1",
    hint="estimate with central_difference(f, x, h); compare with np.abs(...).max() ratios",
)
def gradient_check_error(f, grad, x, h=1e-6):
    """A gradient check: max_i |g_i - d_i| / max_i |g_i|, d = central_difference(f, x, h).

    ``grad`` (g, shape (n,), array or tensor) is the gradient to check at ``x`` (shape (n,));
    ``f`` maps a stack of points (k, n) to values (k,), as for ``central_difference``.
    Returns a float: about 1e-10 for a correct gradient of a smooth O(1) function, of
    order 1 for a wrong one.
    """
    g = np.asarray(grad, dtype=np.float64)
    d = np.asarray(central_difference(f, x, h), dtype=np.float64)
    return float(np.max(np.abs(g - d)) / np.max(np.abs(g)))


def autograd_gradient(f, x):
    """grad f(x) by reverse-mode autograd: a leaf with ``requires_grad=True``, ``backward()``."""
    w = _tensor(x, requires_grad=True)
    f(w).backward()
    return w.grad


# name -> (f(w) on the last axis of w, its gradient written by hand as a tuple of partials)
FUNCTIONS_2D = {
    "x^2 y + sin(x y)": (
        lambda w: w[..., 0] ** 2 * w[..., 1] + torch.sin(w[..., 0] * w[..., 1]),
        lambda x, y: (2 * x * y + y * math.cos(x * y), x**2 + x * math.cos(x * y)),
    ),
    "exp(x) / (1 + y^2)": (
        lambda w: torch.exp(w[..., 0]) / (1 + w[..., 1] ** 2),
        lambda x, y: (math.exp(x) / (1 + y**2), -2 * y * math.exp(x) / (1 + y**2) ** 2),
    ),
    "sqrt(x^2 + y^2)": (
        lambda w: torch.sqrt(w[..., 0] ** 2 + w[..., 1] ** 2),
        lambda x, y: (x / math.hypot(x, y), y / math.hypot(x, y)),
    ),
}


def partial_derivatives_table(point=(0.8, 1.5), h=1e-6):
    """df/dx and df/dy of each of ``FUNCTIONS_2D`` at ``point``: by hand, autograd, and
    central differences, with the relative errors |estimate - analytic| / |analytic| (W3.1).
    """
    rows = []
    for name, (f, analytic_grad) in FUNCTIONS_2D.items():
        analytic = np.array(analytic_grad(*point))
        by_autograd = autograd_gradient(f, point).numpy()
        by_difference = central_difference(f, _tensor(point), h).numpy()
        for i, variable in enumerate("xy"):
            rows.append(
                {
                    "function": name,
                    "variable": variable,
                    "analytic": analytic[i],
                    "autograd": by_autograd[i],
                    "central_difference": by_difference[i],
                    "rel_error_autograd": abs(by_autograd[i] - analytic[i]) / abs(analytic[i]),
                    "rel_error_central": abs(by_difference[i] - analytic[i]) / abs(analytic[i]),
                }
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- W3.2


def sigmoid(z):
    """sigma(z) = 1 / (1 + exp(-z)); sigma'(z) = sigma(z) (1 - sigma(z))."""
    return 1.0 / (1.0 + math.exp(-z))


@exercise(
    "W3.2",
    hint="forward pass z, a, L first; each local derivative is one line; multiply along the path",
)
def chain_rule(w, x, b, t):
    """dL/dw and dL/db of L = (sigma(w x + b) - t)^2 as a product of local derivatives (W3.2).

    z = w x + b, a = sigma(z), L = (a - t)^2, so
    dL/dw = dL/da * da/dz * dz/dw = 2 (a - t) * a (1 - a) * x   and   dz/db = 1.
    All arguments and values are Python floats. Returns the dict with the keys
    "z", "a", "L" (forward values), "dL/da", "da/dz", "dz/dw", "dz/db" (local derivatives)
    and "dL/dw", "dL/db" (their products).
    """
    z = w * x + b
    a = sigmoid(z)
    loss = (a - t) ** 2
    dL_da, da_dz, dz_dw, dz_db = 2 * (a - t), a * (1 - a), x, 1.0
    return {
        "z": z,
        "a": a,
        "L": loss,
        "dL/da": dL_da,
        "da/dz": da_dz,
        "dz/dw": dz_dw,
        "dz/db": dz_db,
        "dL/dw": dL_da * da_dz * dz_dw,
        "dL/db": dL_da * da_dz * dz_db,
    }


def chain_rule_table(w, x, b, t):
    """``chain_rule`` by hand beside autograd's dL/dw and dL/db from ``backward()`` on the
    same graph (keys "dL/dw (autograd)", "dL/db (autograd)")."""
    w_, b_ = _tensor(w, requires_grad=True), _tensor(b, requires_grad=True)
    (torch.sigmoid(w_ * x + b_) - t).pow(2).backward()
    return {
        **chain_rule(w, x, b, t),
        "dL/dw (autograd)": w_.grad.item(),
        "dL/db (autograd)": b_.grad.item(),
    }


# ---------------------------------------------------------------- W3.P2


@exercise("W3.P2", hint="a Python loop is fine here: f'(x) = 2x; keep x_0 as the first entry")
def descend_parabola(x0, lr, steps):
    """Gradient descent on f(x) = x^2 by hand: x_{k+1} = x_k - lr * 2 x_k (W3.P2).

    ``x0``, ``lr``: floats, ``steps``: an int. Returns the ``steps + 1`` iterates
    x_0..x_steps as a float64 array of shape (steps + 1,); in closed form
    x_k = (1 - 2 lr)^k x_0.
    """
    x = float(x0)
    iterates = [x]
    for _ in range(steps):  # the loop is the lesson
        x = x - lr * 2 * x  # f'(x) = 2x
        iterates.append(x)
    return np.array(iterates)


def parabola_regime(lr):
    """How x_{k+1} = (1 - 2 lr) x_k behaves, for lr > 0 (W3.P2).

    "converges": 0 < lr <= 1/2, factor in [0, 1): |x_k| falls monotonically, never changes
    sign (at lr = 1/2 it lands on 0 in one step).
    "oscillates": 1/2 < lr <= 1, factor in [-1, 0): the sign flips every step; |x_k| still
    shrinks geometrically for lr < 1 and stays |x_0| at lr = 1 (it never converges).
    "diverges": lr > 1, factor < -1: the sign flips and |x_k| grows geometrically.
    """
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if lr <= 0.5:
        return "converges"
    return "oscillates" if lr <= 1 else "diverges"


# ---------------------------------------------------------------- W3.4


def nonconvex(x):
    """f(x) = x^4 - 3 x^2 + x: a global minimum near -1.30, a local one near 1.13, a maximum
    near 0.17; convex only where f''(x) = 12 x^2 - 6 >= 0, i.e. |x| >= 1 / sqrt(2).

    Written with operators only, so it takes floats, NumPy arrays and tensors alike.
    """
    return x**4 - 3 * x**2 + x


def nonconvex_grad(x):
    """f'(x) = 4 x^3 - 6 x + 1 for ``nonconvex``."""
    return 4 * x**3 - 6 * x + 1


def descend(f_grad, x0, lr, steps):
    """Plain gradient descent x_{k+1} = x_k - lr * grad f(x_k) (``descent_step``); returns
    x_0..x_steps, shape (steps + 1, *x0.shape). ``f_grad`` takes and returns NumPy arrays
    (W3.4, W3.5).
    """
    x = np.asarray(x0, dtype=np.float64)
    iterates = [x]
    for _ in range(steps):
        x = descent_step(x, f_grad(x), lr)
        iterates.append(x)
    return np.stack(iterates)


def second_derivative(f, x):
    """f''(x) elementwise by autograd twice (``create_graph=True`` keeps f' differentiable)."""
    x = _tensor(x, requires_grad=True)
    (df,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
    (d2f,) = torch.autograd.grad(df.sum(), x)
    return d2f.numpy()


@exercise(
    "W3.4",
    hint="second_derivative(f, x) gives f'' on a grid np.linspace(a, b, n); convex: all >= 0",
)
def is_convex_on(f, interval, n=1001):
    """Second-order condition: f is convex on [a, b] iff f''(x) >= 0 there, checked on an
    n-point grid with autograd's f'' (W3.4). A grid can miss a dip narrower than its step.

    ``f`` maps a float64 tensor to a tensor of the same shape, elementwise; ``interval`` is
    (a, b) with a < b (else ValueError). Returns a Python bool.
    """
    a, b = interval
    if not a < b:
        raise ValueError(f"interval must have a < b, got {interval}")
    return bool(np.all(second_derivative(f, np.linspace(a, b, n)) >= 0))


def global_minimum_on_grid(f, interval, n=200_001):
    """argmin of f over an n-point grid of [a, b]: the global minimum, to about (b - a) / n."""
    x = np.linspace(*interval, n)
    i = np.argmin(f(x))
    return x[i], f(x[i])


def minima_table(starts, lr=0.02, steps=500, interval=(-3.0, 3.0)):
    """Where gradient descent on ``nonconvex`` lands from each start, against
    ``scipy.optimize.minimize`` (BFGS) from the same start and the global minimum of a dense
    grid (W3.4). Each row: start, x and f(x) found by descent and by scipy, is_global, and
    convex_around (``is_convex_on`` within 0.25 of the point found).
    """
    x_global, f_global = global_minimum_on_grid(nonconvex, interval)
    rows = []
    for x0 in starts:
        x_gd = descend(nonconvex_grad, x0, lr, steps)[-1]
        scipy_result = optimize.minimize(
            lambda x: nonconvex(x[0]),
            x0=[x0],
            jac=lambda x: nonconvex_grad(x),
            method="BFGS",
            options={"gtol": 1e-12},
        )
        rows.append(
            {
                "start": x0,
                "x_descent": x_gd,
                "f_descent": nonconvex(x_gd),
                "x_scipy": scipy_result.x[0],
                "f_scipy": scipy_result.fun,
                "is_global": bool(abs(x_gd - x_global) < 1e-3),
                # a minimum sits in a convex neighbourhood: f'' >= 0 on [x - 0.25, x + 0.25]
                "convex_around": is_convex_on(nonconvex, (x_gd - 0.25, x_gd + 0.25)),
            }
        )
    table = pd.DataFrame(rows)
    table.attrs["global"] = (x_global, f_global)
    return table


# ---------------------------------------------------------------- W3.5, W3.P4

A = torch.tensor([1.0, 10.0], dtype=DTYPE)  # the diagonal of A: condition number 10


def quadratic(w):
    """f(w) = 1/2 w^T A w with A = diag(1, 10): minimum 0 at w = 0, condition number 10."""
    return 0.5 * (A * w**2).sum(-1)


def rosenbrock(w):
    """f(w) = (1 - w_1)^2 + 100 (w_2 - w_1^2)^2: minimum 0 at (1, 1), in a curved valley."""
    return (1 - w[..., 0]) ** 2 + 100 * (w[..., 1] - w[..., 0] ** 2) ** 2


SURFACES = {"quadratic": quadratic, "rosenbrock": rosenbrock}  # the 2-D test functions drawn
# drawn name -> torch.optim's rule (torch_updates: its numbers without building an Optimizer)
DRAWN_OPTIMIZERS = {"SGD": "sgd", "momentum": "momentum", "RMSprop": "rmsprop", "Adam": "adam"}


def trajectory(optimizer_name, w0, lr, steps, loss="quadratic"):
    """The iterates w_0..w_steps, shape (steps + 1, 2), of a ``torch.optim`` optimizer on
    ``SURFACES[loss]`` with full (exact) gradients (W3.5, W3.P4):
    SGD w <- w - lr g; momentum v <- 0.9 v + g, w <- w - lr v; RMSprop and Adam scale each
    coordinate's step by a running root-mean-square of its gradients.
    """
    if optimizer_name not in DRAWN_OPTIMIZERS:
        raise ValueError(
            f"optimizer_name must be one of {list(DRAWN_OPTIMIZERS)}, got {optimizer_name!r}"
        )
    if loss not in SURFACES:
        raise ValueError(f"loss must be one of {list(SURFACES)}, got {loss!r}")
    w = _tensor(w0, requires_grad=True)
    update = torch_update(DRAWN_OPTIMIZERS[optimizer_name], [w], lr)
    iterates = [w.detach().clone()]
    for _ in range(steps):
        w.grad = None
        SURFACES[loss](w).backward()
        update()
        iterates.append(w.detach().clone())
    return torch.stack(iterates).numpy()


def loss_along(path, loss="quadratic"):
    """f(w_k) for each iterate of a path, shape (steps + 1,)."""
    return SURFACES[loss](torch.as_tensor(path, dtype=DTYPE)).numpy()
