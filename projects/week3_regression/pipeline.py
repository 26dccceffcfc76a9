"""Week 3 recipe: calculus drills, then regression trained through autograd to the optimum.

For each task (least squares on diabetes, logistic regression on breast cancer):
the optimum from an independent reference (QR least squares, scikit-learn), a
gradient check, the configured optimizer run until the gradient vanishes, every
optimizer's loss curve on one plot, and the trained model. The linear task also
shows conditioning (raw vs standardized features), the L1/L2 weight paths
with the Lagrange view of ridge (its multiplier by brentq and by Newton-Raphson) and least
absolute deviations as a linear program; the logistic task shows Newton's method and the
derivative as a limit. Both check momentum, RMSProp and Adam by hand against torch.optim.

Speed. The problems are tiny (at most 455 x 30), so a step costs what torch's dispatch costs,
not arithmetic: the run keeps torch on one thread (a second one costs more to synchronize than
it saves, and one thread gives the same numbers on every machine), and a run whose first
steps another run already took is cut from it (``capped``), never run twice. The comparison's
gd, sgd, momentum, Adam and mini-batch SGD run side by side (``side_by_side``: their weights
are the rows of one matrix, one forward and one backward pass a step give every run its
loss and gradient, then each makes its own update, torch.optim's for the torch.optim ones);
their curves equal the runs alone to rounding (5e-16 relative), RMSProp runs alone. With a
second core, the comparisons of the tasks after the first run in the run's second process
(``comparisons_aside``) while the first task runs here: the same records, to the last bit. The
conditioning study's two runs, of which only the step counts are logged, are gradient
descent in NumPy (``least_squares_descent``); the models are logged as code and weights,
without importing ``torch.export``. ``figures=false`` skips what only the figures need; every
metric stays the same.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig

from common.curves import log_curve
from common.devices import torch_device
from common.estimator_files import log_code_model
from common.exercises import learner_version_chosen
from common.figure_process import submit
from common.plotting import figure
from common.steps import step
from common.threads import limited_threads, thread_limit, torch_threads
from common.tracking import implementation
from common.validation import check_number, under
from projects.week3_regression import (
    calculus,
    limits,
    linear_program,
    plots,
    reference,
    roots,
    side_by_side,
    update_rules,
)
from projects.week3_regression.data import Split, load_task
from projects.week3_regression.lbfgs import lbfgs
from projects.week3_regression.losses import (
    GRADIENTS,
    l2_penalty,
    logistic_hessian,
    objective,
    objective_rows,
)
from projects.week3_regression.optimize import (
    OPTIMIZERS,
    Diverged,
    OptimizeResult,
    check_arguments,
    descent_step,
    gradient_descent,
    least_squares_descent,
    loss_and_gradient,
    newton,
    optim_iterates,
    train_torch_optim,
)
from projects.week3_regression.progress import step_bar

log = logging.getLogger(__name__)

KIND = {"linear": "mse", "logistic": "logistic"}  # task -> loss
TRAINERS = ("gd", *OPTIMIZERS, "newton")  # values of optimizer.name
STEP_SIZE_IS_1_OVER_L = ("gd", "sgd", "momentum")
OWN_STEP_LENGTH = ("lbfgs", "newton")  # a line search, a unit Newton step: no lr, full batch
NEWTON_MAX_STEPS = 100  # Newton needs a handful; more is a setting it cannot use
DTYPE = torch.float64
DRILL_LR = {"SGD": 0.09, "momentum": 0.03, "RMSprop": 0.1, "Adam": 0.2}  # paths on the contour
FD_STEPS = np.logspace(-16, 0, 65)  # the steps h of the derivative-as-a-limit study (W3.6)
UPDATE_RULE_STEPS = 50  # steps of each by-hand update rule against torch.optim (W3.X5)
OUTLIERS = {"count": 10, "shift_in_std": 10.0}  # injected into the diabetes targets (W3.X6)
TORCH_THREADS = 1  # intra-op threads: tiny tensors, so synchronization would dominate
CONDITIONING = {"max_steps": 20_000, "tol": 1e-6}  # gradient descent in the conditioning study
NUMPY_CONDITIONING = True  # the conditioning runs in NumPy (False: on autograd, as the rest)
MODEL_REQUIREMENTS = ("mlflow", "torch", "cloudpickle", "numpy", "pandas")  # what loading needs
SERVING_CODE = Path(__file__).with_name("serving.py")  # loads a logged model (models from code)
REUSE_RUNS = True  # cut a run from a longer identical one (False: run each one afresh)
SIDE_BY_SIDE = True  # the comparison's first-order runs stacked (False: one at a time)
COMPARE_ASIDE = True  # the later tasks' comparisons run in the second process (False: here)
# Stacked in the comparison: rmsprop runs alone. Its step g / sqrt(s) turns the rounding noise of
# a gradient near 0 into a step of size lr, so a difference of one rounding grows to 1e-2 in its
# weights within 3,000 steps; the others' records stay within 1e-15 of the one-run ones.
STACKED = ("gd", "sgd", "momentum", "adam")
# loss_gap_rel above this (a loss more than twice f*): no result, the run FAILS. Runs that
# stop short legitimately stay well below: mini-batch SGD's noise floor (batch 32, 20,000
# steps, linear) 0.12, 200 steps of it (logistic) 0.11, gd on raw features 2.5e-3, Adam at
# lr=0.001 in 5,000 steps 2.5e-5; the start w = 0 is 6 (logistic) to 10 (linear) above f*.
GAP_FAILS = 1.0


class OptimumMissed(RuntimeError):
    """The trained loss is too far above the optimum to be a result."""


def run(cfg: DictConfig) -> float:
    """Drills, then each task to its optimum; returns the worst relative loss gap."""
    device = check_settings(cfg)
    mlflow.set_tags({"device": str(device), "torch.threads": str(TORCH_THREADS)})
    with torch_threads(TORCH_THREADS):
        asides = comparisons_aside(cfg, device)  # started first: they overlap what follows
        with step("calculus drills"):
            log_calculus_drills(cfg.figures)
        gaps = [fit_task(task, cfg, device, asides.get(task)) for task in cfg.tasks]
    mlflow.log_metric("loss_gap_rel", max(gaps))
    return max(gaps)


def check_settings(cfg: DictConfig) -> torch.device:
    """Fail before any work on a setting no step can use; returns the device to run on."""
    device = torch_device(cfg.device)  # ValueError in one line: device=cuda without a GPU
    unknown = [task for task in cfg.tasks if task not in KIND]
    if unknown or not cfg.tasks:
        raise ValueError(f"tasks must be a non-empty list from {sorted(KIND)}, got {unknown}")
    for task in cfg.tasks:
        for key in ("l1", "l2"):  # inf or NaN would surface as a solver's error naming no key
            check_number(cfg[task][key], f"{task}.{key}", 0)
    if "linear" in cfg.tasks and cfg.linear.l1 and cfg.linear.l2:
        raise ValueError("linear: set l1 or l2, not both (no reference optimum for elastic net)")
    if "logistic" in cfg.tasks and cfg.logistic.l1:
        raise ValueError(f"logistic.l1 must be 0 (the reference fit is L2), got {cfg.logistic.l1}")
    opt = cfg.optimizer
    step_size = {} if opt.lr is None else {"lr": opt.lr}  # None: 1/L or the method's default
    for task in cfg.tasks:
        n = None  # the training rows, read only to bound a mini-batch
        if opt.batch_size is not None:
            split = load_task(task, test_size=cfg.data.test_size, standardize=False, seed=cfg.seed)
            n = len(split.X_train)
        with under("optimizer"):  # the optimizers' own rules: lr a finite number > 0, ...
            check_arguments(n, opt.max_steps, opt.tol, batch_size=opt.batch_size, **step_size)
    if opt.name in OWN_STEP_LENGTH and (opt.lr is not None or opt.batch_size is not None):
        raise ValueError(
            f"optimizer.name={opt.name} chooses its own step length on the full batch:"
            f" leave optimizer.lr and optimizer.batch_size null (got {opt.lr} and {opt.batch_size})"
        )
    return device


def fit_task(task: str, cfg: DictConfig, device: torch.device, aside=None) -> float:
    """One task end to end; logs ``<task>.*`` metrics and returns its relative loss gap.
    ``aside``: its comparison's records on the way from the second process (``ComparisonAside``)."""
    penalty, kind, opt = cfg[task], KIND[task], cfg.optimizer
    loss_fn = task_loss(task, cfg)
    with step(f"{task}: optimum, gradient check, {opt.name} to the optimum"):
        split = to_device(task_split(task, cfg), device)
        optimal = optimal_loss(task, split, penalty, loss_fn)
        result, gap = fit_to_optimum(task, loss_fn, split, optimal, cfg)
    known = {opt.name: (result, step_cap(opt.name, opt.max_steps))}  # the comparison cuts these
    if task == "linear":
        with step("linear: conditioning, raw vs standardized"):
            standardized = log_conditioning(cfg.seed, cfg.data.test_size, device, cfg.figures)
        if standardized is not None and same_as_conditioning(cfg):  # on autograd: its record
            known.setdefault("gd", (standardized, CONDITIONING["max_steps"]))
    with step(f"{task}: every optimizer compared"):
        log_optimizer_comparison(task, loss_fn, split, optimal, cfg, known, cfg.figures, aside)
    with step(f"{task}: momentum, RMSProp, Adam by hand"):
        log_update_rules(task, loss_fn, by_hand_gradient(kind, penalty, split), split)
    log_task_lessons(task, loss_fn, split, optimal, cfg)
    with step(f"{task}: log the model"):
        log_model(task, *(to_numpy(p) for p in result.params), split)
    return gap


@dataclasses.dataclass
class ComparisonAside:
    """A task's ``comparison_records`` on the way from the run's second process, which left
    out ``cut``: the optimizers the run cuts from its own runs."""

    future: Future
    cut: frozenset[str]

    def records(self, cut: set[str]) -> dict | None:
        """The records, once there; None (the run computes them) where the run's cuts are not
        those left out or the process died."""
        if set(cut) != self.cut:
            self.future.cancel()
            return None
        try:
            return self.future.result()
        except BrokenProcessPool:
            return None


def comparisons_aside(cfg: DictConfig, device: torch.device) -> dict[str, ComparisonAside]:
    """task -> its comparison, started now in the run's second process for each task after
    the first (the steps before it overlap it); none on one thread (no second process), off
    the CPU, under ``impl=mine`` (the learner's functions run in this process) or with
    ``COMPARE_ASIDE`` off. Its records are those of the run here, to the last bit (tested)."""
    limit = thread_limit()
    if not COMPARE_ASIDE or limit < 2 or device.type != "cpu" or implementation(cfg) != "reference":
        return {}
    opt, asides = cfg.optimizer, {}
    main_cut = always_cut(step_cap(opt.name, opt.max_steps), step_cap(opt.name, cfg.compare_steps))
    for task in cfg.tasks[1:]:  # the run's own optimizer: cut from its run (fit_task's known)
        cut = frozenset({opt.name} if main_cut and opt.name in compared(task) else ())
        future = submit(comparison_in_worker, task, cfg, task_split(task, cfg), cut, limit)
        asides[task] = ComparisonAside(future, cut)
    return asides


def task_split(task: str, cfg: DictConfig) -> Split:
    """The seeded train/test split of ``task`` with the run's data settings, on the CPU."""
    return load_task(
        task, test_size=cfg.data.test_size, standardize=cfg.data.standardize, seed=cfg.seed
    )


def comparison_in_worker(task: str, cfg: DictConfig, split: Split, cut, limit: int) -> dict:
    """In the second process: ``comparison_records`` under the run's thread limits."""
    with limited_threads(limit), torch_threads(TORCH_THREADS):
        extra = minibatch_sgd(split, cfg.seed)
        return comparison_records(task, task_loss(task, cfg), split, cfg, cut, extra)


def task_loss(task: str, cfg: DictConfig):
    """``loss_fn(w, b, X, y)``: the objective of ``task`` with its penalties, a picklable
    callable (the second process runs it too); the penalties are read once (a DictConfig
    lookup costs more than a step)."""
    return functools.partial(objective, KIND[task], l1=cfg[task].l1, l2=cfg[task].l2)


def fit_to_optimum(task: str, loss_fn, split: Split, optimal: float, cfg: DictConfig):
    """Train ``cfg.optimizer`` from w = 0 and log how close it came: the gradient check, the
    loss curve and ``<task>.*`` metrics; (the run, its relative loss gap). A run that missed
    its optimum is judged by :func:`judge_training`."""
    opt, penalty = cfg.optimizer, cfg[task]
    grad_error = gradient_check(KIND[task], split, penalty, cfg.seed)
    try:
        with step_bar(opt.max_steps, cfg.progress) as tick:
            result = train(opt.name, loss_fn, split, opt, cfg.seed, tick=tick)
    except Diverged as error:
        raise FloatingPointError(divergence(error, task, opt.name, penalty, split)) from error
    log_curve(f"{task}.loss", result.losses)
    final = float(loss_fn(*result.params, split.X_train, split.y_train))
    gap = abs(final - optimal) / abs(optimal)
    w, b = (to_numpy(p) for p in result.params)
    metrics = {
        "final_loss": final,
        "optimal_loss": optimal,
        "loss_gap_rel": gap,
        "grad_check_rel_error": grad_error,
        "steps": result.steps,
        **test_score(task, w, b, split),
    }
    mlflow.log_metrics({f"{task}.{k}": float(v) for k, v in metrics.items()})
    log.info("%s: %s", task, {k: float(f"{v:.6g}") for k, v in metrics.items()})
    judge_training(task, opt, result, final, optimal)
    return result, gap


def log_task_lessons(task: str, loss_fn, split: Split, optimal: float, cfg: DictConfig) -> None:
    """What only one task teaches: linear, the L1/L2 paths and least absolute deviations;
    logistic, Newton's method and the derivative as a limit."""
    if task == "linear":
        with step("linear: L1/L2 paths, Lagrange multiplier"):
            log_regularization(split, cfg.figures)
        with step("linear: least absolute deviations (LP)"):
            log_least_absolute_deviations(split, cfg.seed, cfg.figures)
    else:
        with step("logistic: Newton's method"):
            log_newton(loss_fn, split, optimal)
        with step("logistic: the derivative as a limit"):
            log_derivative_limit(loss_fn, split, cfg.seed, cfg.figures)


def judge_training(
    task: str, opt: DictConfig, result: OptimizeResult, final: float, optimal: float
) -> None:
    """Tag ``<task>.converged`` (||grad f|| <= tol reached); raise OptimumMissed, the run
    FAILED before its model is logged, when the loss is more than ``GAP_FAILS`` relative
    above f* or above its start f(0); warn when it is close but the gradient test was not
    met."""
    gap, grad_norm = abs(final - optimal) / abs(optimal), result.grad_norms[-1]
    mlflow.set_tag(f"{task}.converged", str(result.converged).lower())
    start = result.losses[0]  # f(0): every optimizer starts at w = 0, b = 0
    if gap > GAP_FAILS or final > start:
        why = f"more than {GAP_FAILS:g} is no result" if gap > GAP_FAILS else "worse than w = 0"
        raise OptimumMissed(
            f"{task}: {opt.name} stopped at loss {final:.3g} after {result.steps} steps,"
            f" {gap:.3g} relative above the optimum {optimal:.4g} ({why});"
            f" {missed_optimum_fix(opt, start, final)}"
        )
    if not result.converged:
        capped_here = result.steps == step_cap(opt.name, opt.max_steps)
        log.warning(
            "%s: %s did not converge: ||grad f|| = %.3g > optimizer.tol = %g after %d steps, "
            "loss %.3g relative above the optimum (tag %s.converged=false); %s",
            task, opt.name, grad_norm, opt.tol, result.steps, gap, task,
            "raise optimizer.max_steps" if capped_here else "no step lowered the loss further",
        )  # fmt: skip


def missed_optimum_fix(opt: DictConfig, start: float, final: float) -> str:
    """What to change when optimizer ``opt.name``, started at loss ``start``, stopped far from
    the optimum at ``final``."""
    if opt.name in OWN_STEP_LENGTH:
        return (
            "its unit steps overshoot: try optimizer.name=lbfgs"
            if final > start and opt.name == "newton"
            else "raise optimizer.max_steps or try another optimizer.name"
        )
    if final > start:
        return f"the loss rose above its start {start:.3g} at w = 0: lower optimizer.lr"
    if opt.batch_size is not None:  # mini-batch noise, or too few steps
        return "raise optimizer.batch_size or optimizer.max_steps, or lower optimizer.lr"
    return "raise optimizer.max_steps or optimizer.lr"


def divergence(
    error: Diverged, task: str, name: str, penalty: DictConfig, split: Split, label: str = ""
) -> str:
    """``error`` in one line naming the task, the optimizer (``label``, else ``name``, one of
    ``TRAINERS``) and the cause: the step ``lr``, or the L2 penalty when it is what makes the
    loss too steep for it (a ``label`` names a run whose lr is not ``optimizer.lr``).

    Gradient steps theta <- theta - lr grad f grow along a direction of curvature c once
    lr > 2 / c. The curvature is at most L + l2: L (the data's: the largest eigenvalue of the
    MSE Hessian, a quarter of it for the logistic loss) plus the penalty's l2 on every
    weight. Once l2 exceeds L, lowering the penalty is the fix; a smaller lr would also do.
    """
    data = lipschitz(split) / (4 if task == "logistic" else 1)
    lr, l2 = error.lr, penalty.l2
    label = label or name
    if error.step == 0 or lr is None or name not in STEP_SIZE_IS_1_OVER_L or l2 <= data:
        return f"{task}: {label} {error}"
    bound = 2 / (data + l2)
    return (
        f"{task}: {label} diverged at step {error.step} with lr={lr:.3g}: {task}.l2={l2:g} makes"
        f" the loss too steep for it (gradient steps need lr < 2 / (L + l2) = {bound:.3g}, with"
        f" L = {data:.3g} from the data); lower {task}.l2"
        + ("" if label != name else ", or optimizer.lr below that bound")
    )


def to_device(split: Split, device: torch.device) -> Split:
    """The split with its tensors on ``device``."""
    tensors = {k: v.to(device) for k, v in vars(split).items() if isinstance(v, torch.Tensor)}
    return dataclasses.replace(split, **tensors)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A tensor's values as a NumPy array, wherever the tensor lives."""
    return tensor.detach().cpu().numpy()


def same_as_conditioning(cfg: DictConfig) -> bool:
    """Whether the comparison's gradient descent on the linear task is the run of the
    conditioning study on standardized features: same data, loss, step 1/L and tolerance."""
    opt = cfg.optimizer
    return (
        REUSE_RUNS
        and cfg.data.standardize
        and not (cfg.linear.l1 or cfg.linear.l2)
        and opt.lr is None
        and opt.batch_size is None
        and opt.tol == CONDITIONING["tol"]
    )


# -- the optimum and the gradient check -------------------------------------------------------


def optimal_loss(task: str, split: Split, penalty: DictConfig, loss_fn) -> float:
    """f* from an independent solver: QR least squares (ridge) or scikit-learn's logistic fit."""
    X, y = to_numpy(split.X_train), to_numpy(split.y_train)
    if task == "linear" and penalty.l1 == 0:
        w, b = (
            reference.ridge_qr(X, y, penalty.l2) if penalty.l2 else reference.least_squares_qr(X, y)
        )
    elif task == "linear":
        w, b = reference.sklearn_lasso(X, y, penalty.l1)  # an l2 term too is not covered here
    else:
        w, b, _ = reference.sklearn_logistic(X, y, penalty.l2)
    device = split.X_train.device
    w, b = torch.as_tensor(w, device=device), torch.as_tensor(b, dtype=DTYPE, device=device)
    return float(loss_fn(w, b, split.X_train, split.y_train))


def gradient_check(kind: str, split: Split, penalty: DictConfig, seed: int) -> float:
    """W3.P1: max relative error of autograd against the analytic gradient and central
    differences, at a random point (float64)."""
    generator = torch.Generator().manual_seed(seed)
    d = split.X_train.shape[1]
    X, y = split.X_train, split.y_train
    w = torch.randn(d, dtype=DTYPE, generator=generator).to(X.device).requires_grad_(True)
    b = torch.zeros((), dtype=DTYPE, device=X.device, requires_grad=True)
    objective(kind, w, b, X, y, l1=penalty.l1, l2=penalty.l2).backward()
    autograd = to_numpy(torch.cat([w.grad, b.grad.reshape(1)]))
    analytic = torch.cat(
        [
            g.reshape(-1)
            for g in GRADIENTS[kind](w.detach(), b.detach(), X, y, l1=penalty.l1, l2=penalty.l2)
        ]
    )

    def f(thetas):  # f at each row of thetas, shape (k, d + 1) -> (k,): the perturbed points
        rows = torch.as_tensor(np.atleast_2d(thetas), device=X.device)
        return np.array(
            [
                float(objective(kind, t[:-1], t[-1], X, y, l1=penalty.l1, l2=penalty.l2))
                for t in rows
            ]
        )

    theta = np.concatenate([to_numpy(w), [0.0]])
    by_difference = calculus.gradient_check_error(f, autograd, theta)
    by_formula = np.max(np.abs(autograd - to_numpy(analytic))) / np.max(np.abs(autograd))
    return float(max(by_formula, by_difference))


# -- training -----------------------------------------------------------------------------------


def hessian_eigenvalues(split: Split) -> torch.Tensor:
    """Eigenvalues (ascending) of the MSE Hessian [X 1]^T [X 1] / n."""
    X = split.X_train
    X1 = torch.cat([X, torch.ones(len(X), 1, dtype=DTYPE, device=X.device)], dim=1)
    return torch.linalg.eigvalsh(X1.T @ X1 / len(X1))


def lipschitz(split: Split) -> float:
    """L = largest eigenvalue of the MSE Hessian [X 1]^T [X 1] / n: gradient descent's step 1/L."""
    return float(hessian_eigenvalues(split)[-1])


def zeros(split: Split) -> list[torch.Tensor]:
    """w = 0, b = 0 on the split's device: where every optimizer starts."""
    X = split.X_train
    return [
        torch.zeros(X.shape[1], dtype=DTYPE, device=X.device),
        torch.zeros((), dtype=DTYPE, device=X.device),
    ]


def step_cap(name: str, max_steps: int) -> int:
    """The step cap ``train`` gives optimizer ``name`` when asked for ``max_steps``."""
    return min(max_steps, NEWTON_MAX_STEPS) if name == "newton" else max_steps


def capped(result: OptimizeResult, cap: int, max_steps: int) -> OptimizeResult | None:
    """The record ``result`` (a run with the step cap ``cap``) would be under the cap
    ``max_steps``, without running it again; None when it cannot tell (a lower cap that
    might have run on, or ``REUSE_RUNS`` off).

    Every optimizer here is deterministic and its k-th update does not depend on the cap:
    the run capped at N is the first N + 1 points of the run capped at M >= N. A cut record
    has no final parameters (``params`` is None) and has not converged (it went on).
    """
    if not (always_cut(cap, max_steps) or (REUSE_RUNS and result.converged)):
        return None
    if result.steps <= max_steps:
        return result
    points = slice(0, max_steps + 1)
    return OptimizeResult(None, result.losses[points], result.grad_norms[points], max_steps, False)


def always_cut(cap: int, max_steps: int) -> bool:
    """Whether ``capped`` cuts any run with the step cap ``cap`` to ``max_steps``, whatever
    the run did (a run that converged is cut to any cap)."""
    return REUSE_RUNS and max_steps <= cap


def train(name: str, loss_fn, split: Split, opt: DictConfig, seed: int, max_steps=None, tick=None):
    """Run one optimizer from w = 0, b = 0; ``name`` as in ``TRAINERS``; ``tick(step, f,
    ||grad f||)`` sees each step (a progress bar)."""
    params = zeros(split)
    steps = max_steps or opt.max_steps
    data = (split.X_train, split.y_train)
    if name == "newton":
        return newton(
            loss_fn, params, *data, max_steps=step_cap(name, steps), tol=opt.tol, callback=tick
        )
    if name == "lbfgs":  # its own step lengths (a line search), full batch
        return lbfgs(loss_fn, params, *data, max_steps=steps, tol=opt.tol, callback=tick)
    lr = opt.lr or default_lr(name, split)
    common = {"lr": lr, "max_steps": steps, "tol": opt.tol, "callback": tick}
    generator = torch.Generator().manual_seed(seed)
    if name == "gd":
        return gradient_descent(
            loss_fn, params, *data, batch_size=opt.batch_size, generator=generator, **common
        )
    return train_torch_optim(
        name, loss_fn, params, *data, batch_size=opt.batch_size, generator=generator, **common
    )


def default_lr(name: str, split: Split) -> float:
    """1/L for the plain gradient methods (safe for the logistic loss too: its L is L_mse/4)."""
    defaults = {"rmsprop": 0.01, "adam": 0.05}
    return 1.0 / lipschitz(split) if name in STEP_SIZE_IS_1_OVER_L else defaults[name]


def test_score(task: str, w: np.ndarray, b: np.ndarray, split: Split) -> dict[str, float]:
    """R^2 (linear) or accuracy (logistic) of the trained model on the held-out part."""
    X, y = to_numpy(split.X_test), to_numpy(split.y_test)
    z = X @ w + b
    if task == "linear":
        return {"test_r2": 1 - np.sum((y - z) ** 2) / np.sum((y - y.mean()) ** 2)}
    return {"test_accuracy": float(np.mean((z > 0) == (y == 1)))}


# -- what the run shows -------------------------------------------------------------------------


def compared_runs(
    task: str, loss_fn, split: Split, cfg, known=None, extra=None, aside=None
) -> dict[str, OptimizeResult]:
    """Each optimizer of ``TRAINERS`` run for ``cfg.compare_steps`` steps with the settings of
    ``cfg.optimizer`` (a default step size too large for the task: left out, with a warning),
    then the runs of ``extra`` (label -> ``side_by_side.Run``, same steps and tol; their
    record, or the Diverged they raised). ``known`` maps a name to (a run of it with these
    settings, its step cap): a run cut from it (``capped``) instead of a run afresh. The
    other runs are ``comparison_records``, computed here or, given ``aside`` for the same
    cuts, taken from the second process."""
    known = {name: run for name, run in (known or {}).items() if name in compared(task)}
    cuts = {name: capped(*run, step_cap(name, cfg.compare_steps)) for name, run in known.items()}
    cuts = {name: run for name, run in cuts.items() if run is not None}
    records = aside.records(set(cuts)) if aside is not None else None
    if records is None:
        records = comparison_records(task, loss_fn, split, cfg, set(cuts), extra)
    runs = {**records, **cuts}
    ordered = {name: runs[name] for name in (*TRAINERS, *(extra or {})) if name in runs}
    for name, result in list(ordered.items()):
        if name not in (extra or {}) and isinstance(result, Diverged):
            why = divergence(result, task, name, cfg[task], split)  # a default lr too large
            log.warning("%s (left out of the comparison)", why)
            del ordered[name]
    return ordered


def compared(task: str) -> tuple[str, ...]:
    """The optimizers the comparison of ``task`` shows: ``TRAINERS``, but Newton on least
    squares (one Newton step is the closed form)."""
    return tuple(name for name in TRAINERS if not (task == "linear" and name == "newton"))


def comparison_records(task: str, loss_fn, split: Split, cfg, cut=frozenset(), extra=None) -> dict:
    """The comparison's runs afresh: each optimizer ``compared`` but those in ``cut``, then
    those of ``extra``; the first-order runs of ``STACKED`` and ``extra`` side by side
    (``stacked_runs``). label -> record or Diverged."""
    runs, opt, fresh = {}, cfg.optimizer, {}
    for name in compared(task):
        if name in cut:
            continue
        if name in side_by_side.RULES:
            lr = opt.lr or default_lr(name, split)
            generator = torch.Generator().manual_seed(cfg.seed)
            fresh[name] = side_by_side.Run(name, lr, opt.batch_size, generator)
        else:
            runs[name] = run_or_error(train, name, loss_fn, split, opt, cfg.seed, cfg.compare_steps)
    runs.update(stacked_runs(task, loss_fn, split, cfg, {**fresh, **(extra or {})}))
    return runs


def run_or_error(function, *args):
    """``function(*args)``, or the Diverged it raised."""
    try:
        return function(*args)
    except Diverged as error:
        return error


def stacked_runs(task: str, loss_fn, split: Split, cfg, runs: dict) -> dict:
    """The first-order ``runs`` (label -> ``side_by_side.Run``) from w = 0, b = 0 for
    ``cfg.compare_steps`` steps: those of ``STACKED`` side by side, one autograd pass a step
    for all (the same records up to rounding), the others one at a time; all one at a time
    when ``SIDE_BY_SIDE`` is off or a learner's version of a function only the one-run loop
    calls is chosen (``loss_and_gradient``, ``l2_penalty``). label -> record or Diverged."""
    mine = any(map(learner_version_chosen, (loss_and_gradient, l2_penalty)))
    together = {k: r for k, r in runs.items() if SIDE_BY_SIDE and not mine and r.rule in STACKED}
    alone = {k: r for k, r in runs.items() if k not in together}
    penalty, kind = cfg[task], KIND[task]
    data, steps = (
        (split.X_train, split.y_train),
        {"max_steps": cfg.compare_steps, "tol": cfg.optimizer.tol},
    )

    def rows_loss_fn(W, B, X, y):
        return objective_rows(kind, W, B, X, y, l1=penalty.l1, l2=penalty.l2)

    results = side_by_side.one_at_a_time(alone, loss_fn, zeros(split), *data, **steps)
    if together:
        stacked = side_by_side.side_by_side(
            together, loss_fn, rows_loss_fn, zeros(split), *data, **steps
        )
        results.update(stacked)
    return results


def log_optimizer_comparison(
    task: str, loss_fn, split: Split, optimal: float, cfg, known=None, figures=True, aside=None
) -> None:
    """W3.5, W3.P4: every optimizer's f(theta_k) - f* per step, full batch and mini-batch SGD."""
    curves, rows = {}, []
    extra = minibatch_sgd(split, cfg.seed)
    [minibatch] = extra
    batch = extra[minibatch].batch_size
    runs = compared_runs(task, loss_fn, split, cfg, known, extra, aside)
    sgd = runs.pop(minibatch)
    if isinstance(sgd, Diverged):
        label = f"the comparison's sgd (batch {batch})"
        why = divergence(sgd, task, "sgd", cfg[task], split, label)
        raise FloatingPointError(why) from sgd
    for name, result in runs.items():
        curves[name] = result.losses
        log_curve(f"{task}.compare.{name}.loss", result.losses)
        rows.append(
            {
                "optimizer": name,
                "steps": result.steps,
                "converged": result.converged,
                "final_gap_rel": (result.losses[-1] - optimal) / abs(optimal),
            }
        )
    curves[minibatch] = sgd.losses
    log_curve(f"{task}.compare.sgd_batch_{batch}.loss", sgd.losses)
    mlflow.log_table(pd.DataFrame(rows), f"tables/{task}/optimizers.json")
    if figures:
        with figure(f"{task}/optimizer_comparison", figsize=(8, 5)) as (_, ax):
            plots.loss_curves(ax, curves, optimal, notes=comparison_notes(cfg.optimizer, split))
            ax.set_title(f"{task}: f(θ_k) − f* per step")


def minibatch_sgd(split: Split, seed: int) -> dict[str, side_by_side.Run]:
    """The comparison's mini-batch SGD: gd's loop on a tenth of the rows, step 0.5 / L."""
    batch = max(1, len(split.X_train) // 10)
    generator = torch.Generator().manual_seed(seed)
    return {
        f"sgd (batch {batch})": side_by_side.Run("gd", 0.5 / lipschitz(split), batch, generator)
    }


def comparison_notes(opt: DictConfig, split: Split) -> dict[str, str]:
    """What the comparison's legend says beside a curve: the step size of each optimizer
    that takes one (RMSProp and Adam barely move at theirs), and why full-batch sgd is
    drawn over gd."""
    notes = {
        name: f"lr {opt.lr or default_lr(name, split):.3g}"
        for name in TRAINERS
        if name not in OWN_STEP_LENGTH
    }
    if opt.batch_size is None:
        notes["sgd"] = f"full batch: the steps of gd, {notes['sgd']}"
    return notes


def log_conditioning(
    seed: int, test_size: float, device: torch.device, figures: bool = True
) -> OptimizeResult | None:
    """Condition number of the design raw vs standardized, and the steps gradient descent needs;
    returns the run on standardized features when it ran on autograd (else None)."""
    rows = []
    for standardize in (False, True):
        split = to_device(
            load_task("linear", test_size=test_size, standardize=standardize, seed=seed), device
        )
        eigenvalues = hessian_eigenvalues(split)
        kappa = float(eigenvalues[-1] / eigenvalues[0])
        result = conditioning_steps(split)
        rows.append(
            {
                "setting": "standardized" if standardize else "raw",
                "condition_number": kappa,
                "steps": result.steps,
                "converged": result.converged,
                "steps_bound": kappa * np.log(1e6),  # ln(1 / tol)
            }
        )
        mlflow.log_metric(f"linear.condition_number_{rows[-1]['setting']}", kappa)
    table = pd.DataFrame(rows)
    mlflow.log_table(table, "tables/linear/conditioning.json")
    if figures:
        with figure("linear/conditioning", figsize=(6, 4)) as (_, ax):
            plots.condition_steps(ax, table)
    return None if conditioning_in_numpy() else result


def conditioning_run(split: Split) -> OptimizeResult:
    """Gradient descent with step 1/L on the unpenalized least squares of ``split``, from 0,
    until ||grad f|| <= 1e-6 (at most 20,000 steps)."""

    def loss_fn(w, b, X, y):
        return objective("mse", w, b, X, y)

    data = (split.X_train, split.y_train)
    return gradient_descent(loss_fn, zeros(split), *data, lr=1 / lipschitz(split), **CONDITIONING)


def conditioning_in_numpy() -> bool:
    """Whether the conditioning runs are gradient descent in NumPy: ``NUMPY_CONDITIONING`` on
    and no learner's version of an exercise the autograd loop runs chosen."""
    exercises = (loss_and_gradient, descent_step)
    return NUMPY_CONDITIONING and not any(map(learner_version_chosen, exercises))


def conditioning_steps(split: Split) -> OptimizeResult:
    """``conditioning_run`` where only its step count and whether it converged are logged: in
    NumPy (``least_squares_descent``) when ``conditioning_in_numpy()``, else on autograd.

    Rounding in another order cannot move the counts: the raw run stops at its cap far from
    the test (||grad f|| = 0.012 against 1e-6), and the standardized one converges at a
    steady rate, ||grad f|| falling by 0.2% a step, far more than rounding moves it. The
    comparison's gd curve, on autograd, is then a run of its own (``compared_runs``)."""
    if not conditioning_in_numpy():
        return conditioning_run(split)
    X, y = to_numpy(split.X_train), to_numpy(split.y_train)
    return least_squares_descent(X, y, lr=1 / lipschitz(split), **CONDITIONING)


def log_regularization(split: Split, figures: bool = True) -> None:
    """W3.X2: ridge and lasso weight paths; W3.X3: norm-constrained least squares is ridge."""
    X, y = to_numpy(split.X_train), to_numpy(split.y_train)
    lambdas = np.logspace(-3, 1, 25)
    shown = lambdas if figures else lambdas[-1:]  # the metric needs the last fit only
    lasso = np.array([reference.sklearn_lasso(X, y, lam)[0] for lam in shown])
    if figures:
        ridge = np.array([reference.ridge_qr(X, y, lam)[0] for lam in lambdas])
        with figure("linear/regularization_paths", ncols=2, figsize=(12, 4.5)) as (_, axes):
            plots.regularization_path(axes[0], lambdas, ridge, "L2 (ridge): weights shrink")
            plots.regularization_path(axes[1], lambdas, lasso, "L1 (lasso): weights hit zero")
    t = 0.5 * np.linalg.norm(reference.least_squares_qr(X, y)[0])
    lam = reference.ridge_multiplier(X, y, t)
    w_constrained = reference.constrained_least_squares(X, y, t)[0]
    w_ridge = reference.ridge_qr(X, y, lam)[0]
    mlflow.log_metrics(
        {
            "linear.lagrange_multiplier": lam,
            "linear.lagrange_max_abs_diff": float(np.max(np.abs(w_constrained - w_ridge))),
            "linear.lasso_zero_weights_at_max_lambda": float(np.sum(np.abs(lasso[-1]) < 1e-10)),
        }
    )
    log_multiplier_newton(X, y, t, lam)


def log_multiplier_newton(X: np.ndarray, y: np.ndarray, t: float, lam_brent: float) -> None:
    """W3.X4: Newton-Raphson on the secular equation ||w(lam)||^2 = t^2 against brentq: the
    error per step (its digits double) and the observed order of convergence."""
    iterates = roots.ridge_multiplier_newton(X, y, t)
    errors = np.abs(iterates - lam_brent) / lam_brent
    phi, _ = roots.secular_equation(X, y, t)
    table = pd.DataFrame(
        {
            "step": np.arange(len(iterates)),
            "lambda": iterates,
            "rel_error_vs_brentq": errors,
            # the table's JSON keeps 10 decimals: digits show what 1e-14 would round away
            "correct_digits": -np.log10(np.maximum(errors, np.finfo(float).eps)),
            "phi": [phi(lam) for lam in iterates],
        }
    )
    mlflow.log_table(table, "tables/linear/newton_multiplier.json")
    orders = roots.convergence_orders(errors)
    mlflow.log_metrics(
        {
            "linear.newton_multiplier_steps": len(iterates) - 1,
            "linear.newton_multiplier_rel_diff": float(errors[-1]),
            "linear.newton_multiplier_order": float(orders[-1]) if len(orders) else float("nan"),
        }
    )


def log_newton(loss_fn, split: Split, optimal: float) -> None:
    """W3.X1: Newton (autograd Hessian) in a handful of steps (GD: the comparison plot)."""
    start = zeros(split)
    newton_run = newton(loss_fn, start, split.X_train, split.y_train, max_steps=50, tol=1e-10)
    mlflow.log_metric("logistic.newton_steps", newton_run.steps)
    w, b = newton_run.params
    mlflow.log_metric("logistic.hessian_check_rel_error", hessian_check(w, b, split))
    mlflow.log_metric(
        "logistic.newton_loss_gap_rel", abs(newton_run.losses[-1] - optimal) / abs(optimal)
    )


def hessian_check(w: torch.Tensor, b: torch.Tensor, split: Split) -> float:
    """W3.3: max |H_autograd - X^T diag(p (1 - p)) X / n| / max |H_autograd|, the Hessian in w of
    the unpenalized logistic loss at (w, b)."""
    X, y = split.X_train, split.y_train
    by_autograd = torch.autograd.functional.hessian(  # row by row: see optimize.newton
        lambda v: objective("logistic", v, b, X, y), w
    )
    gap = (by_autograd - logistic_hessian(w, b, X)).abs().max() / by_autograd.abs().max()
    return float(gap)


def by_hand_gradient(kind: str, penalty: DictConfig, split: Split):
    """theta -> grad f(theta) as a NumPy vector (w then b), from the analytic gradient (no
    autograd): what the by-hand update rules descend on."""
    X, y, l1, l2 = split.X_train, split.y_train, penalty.l1, penalty.l2

    def grad(theta):
        theta = torch.as_tensor(theta, device=X.device)
        g_w, g_b = GRADIENTS[kind](theta[:-1], theta[-1], X, y, l1=l1, l2=l2)
        return to_numpy(torch.cat([g_w, g_b.reshape(1)]))

    return grad


def log_update_rules(task: str, loss_fn, grad, split: Split) -> None:
    """W3.X5: momentum, RMSProp and Adam by hand against torch.optim, step for step from 0
    with the learning rates the comparison uses: the max |theta_hand - theta_torch|."""
    d = split.X_train.shape[1]
    rows = []
    for name, rule in update_rules.RULES.items():
        lr = default_lr(name, split)
        data = (split.X_train, split.y_train)
        by_torch = optim_iterates(
            name, loss_fn, zeros(split), *data, lr=lr, steps=UPDATE_RULE_STEPS
        )
        by_hand = update_rules.iterate(rule, grad, np.zeros(d + 1), UPDATE_RULE_STEPS, lr=lr)
        diff = float(np.max(np.abs(by_hand - by_torch)))
        rows.append(
            {
                "optimizer": name,
                "lr": lr,
                "steps": UPDATE_RULE_STEPS,
                "max_abs_diff": diff,
                "log10_max_abs_diff": np.log10(max(diff, 1e-300)),  # JSON keeps 10 decimals
            }
        )
        mlflow.log_metric(f"{task}.by_hand_{name}_max_abs_diff", diff)
    mlflow.log_table(pd.DataFrame(rows), f"tables/{task}/update_rules.json")


def log_derivative_limit(loss_fn, split: Split, seed: int, figures: bool = True) -> None:
    """W3.6: forward and central differences of the loss along a direction against the exact
    directional derivative, for h from 1e-16 to 1: slopes 1 and 2, then round-off."""
    d = split.X_train.shape[1] + 1
    theta, u = (v.to(split.X_train.device) for v in limits.random_point_and_direction(d, seed))
    point = theta.clone().requires_grad_(True)
    loss_fn(point[:-1], point[-1], split.X_train, split.y_train).backward()
    exact = float(point.grad @ u)  # phi'(0) = grad f(theta) . u
    phi = limits.along_direction(loss_fn, theta, u, split.X_train, split.y_train)
    table = limits.difference_errors(phi, 0.0, exact, FD_STEPS)
    summary = limits.error_summary(table)
    # log10 of every column: the table's JSON keeps 10 decimals, and h goes down to 1e-16
    logged = np.log10(table.clip(lower=1e-300)).add_prefix("log10_")
    mlflow.log_table(logged, "tables/logistic/finite_difference_error.json")
    mlflow.log_metrics(
        {
            f"logistic.fd_{scheme}_{key}": value
            for scheme, values in summary.items()
            for key, value in values.items()
            if key in ("slope", "best_h", "best_h_theory")
        }
    )
    if figures:
        with figure("logistic/finite_difference_error", figsize=(7, 5)) as (_, ax):
            plots.finite_difference_error(ax, table, limits.BEST_STEP_THEORY)


def log_least_absolute_deviations(split: Split, seed: int, figures: bool = True) -> None:
    """W3.X6: LAD as a linear program against scikit-learn's QuantileRegressor, then LAD
    beside least squares on the diabetes targets with a few outliers injected."""
    from sklearn.linear_model import QuantileRegressor

    X, y = to_numpy(split.X_train), to_numpy(split.y_train)
    w_lp, b_lp, objective_lp = linear_program.lad_linprog(X, y)
    median = QuantileRegressor(quantile=0.5, alpha=0.0, solver="highs").fit(X, y)
    objective_sk = linear_program.absolute_deviations(X, y, median.coef_, median.intercept_)
    mlflow.log_metrics(
        {
            "linear.lad_objective": objective_lp,
            "linear.lad_objective_rel_diff": abs(objective_lp - objective_sk) / objective_sk,
            "linear.lad_coef_max_abs_diff": float(
                max(np.max(np.abs(w_lp - median.coef_)), abs(b_lp - median.intercept_))
            ),
        }
    )
    log_lad_against_outliers(split, seed, figures)


def log_lad_against_outliers(split: Split, seed: int, figures: bool) -> None:
    """LAD and least squares fitted on the clean targets and on targets with outliers
    injected: how far each fit's weights move (``linear.<method>_coef_shift``)."""
    X, y = to_numpy(split.X_train), to_numpy(split.y_train)
    shift = OUTLIERS["shift_in_std"] * y.std()
    y_out, _ = linear_program.inject_outliers(y, OUTLIERS["count"], shift, seed)
    targets = {"clean": y, "outliers": y_out}
    fits = {data: linear_program.lad_and_least_squares(X, t) for data, t in targets.items()}
    X_test, y_test = to_numpy(split.X_test), to_numpy(split.y_test)
    rows = [
        {
            "method": method,
            "data": data,
            "intercept": b,
            **dict(zip(split.feature_names, w, strict=True)),
            "train_abs_deviations": linear_program.absolute_deviations(X, targets[data], w, b),
            "test_mae": linear_program.absolute_deviations(X_test, y_test, w, b) / len(y_test),
        }
        for data, by_method in fits.items()
        for method, (w, b) in by_method.items()
    ]
    mlflow.log_table(pd.DataFrame(rows), "tables/linear/lad_vs_least_squares.json")
    moved = {
        method: float(np.linalg.norm(fits["outliers"][method][0] - fits["clean"][method][0]))
        for method in fits["clean"]
    }
    mlflow.log_metrics({f"linear.{method}_coef_shift": v for method, v in moved.items()})
    if not figures:
        return
    with figure("linear/lad_vs_least_squares", ncols=2, figsize=(12, 4.5)) as (_, axes):
        for ax, method in zip(axes, ("least_squares", "lad"), strict=True):
            weights = (fits["clean"][method][0], fits["outliers"][method][0])
            title = f"{method}: ||w shift|| = {moved[method]:.3g}, {OUTLIERS['count']} outliers"
            plots.coefficient_shift(ax, split.feature_names, *weights, title)


def log_calculus_drills(figures: bool = True) -> None:
    """W3.1-W3.5, W3.P2: derivatives three ways, the chain rule, x^2 by hand, a non-convex f,
    and optimizer paths on an ill-conditioned quadratic (on the CPU: a few scalars each)."""
    mlflow.log_table(calculus.partial_derivatives_table(), "tables/drills/partial_derivatives.json")
    chain = calculus.chain_rule_table(w=0.7, x=1.3, b=-0.2, t=1.0)
    mlflow.log_table(pd.DataFrame([chain]).astype(float), "tables/drills/chain_rule.json")
    starts = (-2.5, -0.5, 0.5, 2.5)
    minima = calculus.minima_table(starts)
    mlflow.log_table(minima, "tables/drills/nonconvex_minima.json")
    if figures:
        log_drill_figures(starts)


def log_drill_figures(starts) -> None:
    """The drills' figures: x^2 by hand, the non-convex f, optimizer paths on a quadratic."""
    runs = {lr: calculus.descend_parabola(1.0, lr, 30) for lr in (0.1, 0.75, 1.0, 1.05)}
    with figure("drills/parabola_descent", figsize=(7, 4)) as (_, ax):
        plots.parabola_descent(ax, runs)
    paths = {x0: calculus.descend(calculus.nonconvex_grad, x0, 0.02, 500) for x0 in starts}
    with figure("drills/nonconvex_descent", figsize=(7, 4.5)) as (_, ax):
        plots.nonconvex_descent(ax, calculus.nonconvex, paths, np.linspace(-2.6, 2.6, 400))

    w0 = (-2.0, 1.5)
    trajectories = {name: calculus.trajectory(name, w0, lr, 60) for name, lr in DRILL_LR.items()}
    grid = np.meshgrid(np.linspace(-2.5, 2.5, 200), np.linspace(-2.0, 2.0, 200))
    f_grid = calculus.loss_along(np.stack([g.ravel() for g in grid], axis=1)).reshape(grid[0].shape)
    with figure("drills/optimizer_trajectories", figsize=(7, 5.5)) as (_, ax):
        plots.trajectories_on_contour(
            ax, (*grid, f_grid), trajectories, "1/2 w^T A w, A = diag(1, 10)"
        )


def log_model(task: str, w: np.ndarray, b: np.ndarray, split: Split) -> None:
    """The trained model as an MLflow model from code (``serving.py``): a float64 torch linear
    layer rebuilt from ``w.npy`` and ``b.npy`` (logits for the logistic task), on the CPU so
    that it loads anywhere, with its pip requirements pinned and a signature from the example."""

    def save_weights(folder: Path) -> None:  # the files serving.WEIGHTS names
        for name, value in {"w": w, "b": b}.items():
            np.save(folder / f"{name}.npy", np.asarray(value, dtype=np.float64), allow_pickle=False)

    log_code_model(
        f"{task}_model",
        SERVING_CODE,
        "weights",
        save_weights,
        to_numpy(split.X_test[:3]),
        MODEL_REQUIREMENTS,
    )
