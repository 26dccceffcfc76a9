"""torch.optim's own update rules, applied without building a ``torch.optim.Optimizer``.

``torch.optim.SGD(...).step()`` keeps some state per parameter and calls one function of
torch's functional API on it: ``torch.optim.sgd.sgd``, ``rmsprop.rmsprop``, ``adam.adam``.
``torch_update`` keeps the same state, starting from the same values, and calls the same
function with the same arguments: the same iterates, bit for bit (tests/week3 checks it
against the classes). What it leaves out costs a tiny problem more than its arithmetic:

- the first ``Optimizer`` built imports ``torch._dynamo`` (1.7 s of CPU on this machine);
- every ``step()`` enters a profiler range, two graph breaks and the step hooks (about
  twice the cost of the update itself on a 455 x 30 logistic regression).

The defaults are torch.optim's: RMSprop alpha = 0.99, eps = 1e-8; Adam betas = (0.9, 0.999),
eps = 1e-8; no weight decay, no Nesterov, no AMSGrad. The rules themselves, written out,
are ``update_rules`` (W3.X5).
"""

from collections.abc import Callable

import torch
from torch.optim.adam import adam
from torch.optim.rmsprop import rmsprop
from torch.optim.sgd import sgd

RULES = ("sgd", "momentum", "rmsprop", "adam")


def scalar_step() -> torch.Tensor:
    """The step counter torch.optim keeps on the CPU: float64 if that is the default dtype."""
    dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    return torch.zeros((), dtype=dtype)


def torch_update(name: str, params: list[torch.Tensor], lr: float, momentum: float = 0.9):
    """A function that makes one update of ``params`` from their ``.grad``, as
    ``torch.optim.<name>(params, lr=lr).step()`` does ("momentum": SGD with ``momentum``)."""
    if name not in RULES:
        raise ValueError(f"name must be one of {list(RULES)}, got {name!r}")
    if name == "adam":
        return adam_update(params, lr)
    if name == "rmsprop":
        return rmsprop_update(params, lr)
    return sgd_update(params, lr, momentum if name == "momentum" else 0.0)


def sgd_update(params, lr: float, momentum: float) -> Callable[[], None]:
    """v <- momentum v + g (v = g at the first step), theta <- theta - lr v; or theta -= lr g."""
    buffers = [None] * len(params)  # torch.optim.sgd.sgd fills them at the first step

    @torch.no_grad()
    def update():
        grads = [p.grad for p in params]
        sgd(params, grads, buffers, weight_decay=0.0, momentum=momentum, lr=lr,
            dampening=0.0, nesterov=False, maximize=False)  # fmt: skip

    return update


def rmsprop_update(params, lr: float) -> Callable[[], None]:
    """s <- alpha s + (1 - alpha) g^2, theta <- theta - lr g / (sqrt(s) + eps)."""
    square_avgs = [torch.zeros_like(p) for p in params]
    steps = [scalar_step() for _ in params]

    @torch.no_grad()
    def update():
        grads = [p.grad for p in params]
        rmsprop(params, grads, square_avgs, [], [], steps, lr=lr, alpha=0.99, eps=1e-8,
                weight_decay=0.0, momentum=0.0, centered=False, maximize=False,
                differentiable=False, capturable=False, has_complex=False)  # fmt: skip

    return update


def adam_update(params, lr: float) -> Callable[[], None]:
    """m and v, running means of g and g^2, bias-corrected; theta -= lr m^ / (sqrt(v^) + eps)."""
    exp_avgs = [torch.zeros_like(p) for p in params]
    exp_avg_sqs = [torch.zeros_like(p) for p in params]
    steps = [scalar_step() for _ in params]

    @torch.no_grad()
    def update():
        grads = [p.grad for p in params]
        adam(params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False, has_complex=False,
             beta1=0.9, beta2=0.999, lr=lr, weight_decay=0.0, eps=1e-8, maximize=False,
             capturable=False, differentiable=False, decoupled_weight_decay=False)  # fmt: skip

    return update
