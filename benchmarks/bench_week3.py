"""Time to the optimum of L2-penalized logistic regression: our optimizers and sklearn's.

Run: ``.venv/bin/python -m benchmarks.bench_week3``. The problem is
min (1/n) sum_i log(1 + exp(-s_i z_i)) + (lam/2) ||w||^2 on the standardized breast-cancer
data (569 x 30), lam = 1e-3, i.e. ``LogisticRegression(C=1 / (n lam))``. The optimal loss
f* is Newton's, run to ||grad f|| <= 1e-12.

Every method starts from w = 0, b = 0 and stops at its own tolerance (a gradient norm for
ours, sklearn's ``tol`` for sklearn's), chosen so the final loss is within 1e-6 relative of
f*; ``reached`` says whether it was. Slow first-order methods are capped at ``CAP`` steps.
``seconds`` is the best of ``REPEATS`` runs (``time.perf_counter``), one BLAS / torch
thread for everyone; ``ratio`` = seconds / sklearn lbfgs's seconds.
"""

import functools
import gc
import time

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from benchmarks.timing import print_table
from projects.week3_regression.losses import logistic_hessian, objective
from projects.week3_regression.optimize import gradient_descent, newton, train_torch_optim
from projects.week3_regression.reference import sklearn_logistic

LAM = 1e-3  # the small L2 penalty
TARGET = 1e-6  # relative loss gap that counts as "reached the optimum"
TOL = 1e-5  # gradient-norm tolerance of our methods: gap <= ||g||^2 / (2 lam) ~ 1e-7 rel
CAP = 3000  # step limit of the first-order methods
REPEATS = 3


def load():
    """(X, y) numpy and (X, y) float64 tensors of the standardized breast-cancer data."""
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return X, y, torch.tensor(X, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)


def methods(X, y, X_t, y_t):
    """name -> run(): (w, b, steps) for every method, all from w = 0, b = 0."""
    loss = functools.partial(objective, "logistic", l2=LAM)
    start = [torch.zeros(X.shape[1], dtype=torch.float64), torch.zeros((), dtype=torch.float64)]
    # L = lambda_max of the Hessian at w = 0 (p = 1/2 there, its largest value) + lam
    X1 = torch.cat([X_t, torch.ones(len(y_t), 1, dtype=torch.float64)], dim=1)
    L = torch.linalg.eigvalsh(logistic_hessian(torch.zeros(X1.shape[1]).double(), 0.0, X1))
    lr = 1 / (L.max().item() + LAM)

    def ours(optimize, **kwargs):
        result = optimize(loss, start, X_t, y_t, tol=TOL, **kwargs)
        return result.params[0].numpy(), result.params[1].item(), result.steps

    def sklearn(solver, tol):
        w, b, model = sklearn_logistic(X, y, LAM, solver=solver, tol=tol, max_iter=10_000)
        return w, b, int(model.n_iter_[0])

    return {
        "gradient descent (ours)": lambda: ours(gradient_descent, lr=lr, max_steps=CAP),
        "torch SGD": lambda: ours(
            functools.partial(train_torch_optim, "sgd"), lr=lr, max_steps=CAP
        ),
        "torch Adam": lambda: ours(
            functools.partial(train_torch_optim, "adam"), lr=0.01, max_steps=CAP
        ),
        "torch L-BFGS": lambda: ours(
            functools.partial(train_torch_optim, "lbfgs"), lr=1.0, max_steps=500
        ),
        "Newton (ours)": lambda: ours(newton, max_steps=50),
        "sklearn lbfgs": lambda: sklearn("lbfgs", 1e-6),
        "sklearn newton-cg": lambda: sklearn("newton-cg", 1e-5),
    }


def best_seconds(run, repeats):
    """(best seconds of ``repeats`` calls, last result) after one warm-up call."""
    result = run()
    best = np.inf
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    X, y, X_t, y_t = load()
    loss = functools.partial(objective, "logistic", l2=LAM)
    start = [torch.zeros(X.shape[1], dtype=torch.float64), torch.zeros((), dtype=torch.float64)]
    torch.set_num_threads(1)  # the benchmark's process only: tiny matrices, no contention
    with threadpool_limits(limits=1):
        f_star = newton(loss, start, X_t, y_t, max_steps=50, tol=1e-12).losses[-1]
        rows = []
        for name, run in methods(X, y, X_t, y_t).items():
            seconds, (w, b, steps) = best_seconds(run, REPEATS)
            final = loss(torch.tensor(w), torch.tensor(b), X_t, y_t).item()
            gap = (final - f_star) / f_star
            rows.append(
                {
                    "method": name,
                    "seconds": seconds,
                    "steps": steps,
                    "final_loss": final,
                    "loss_gap_rel": gap,
                    "reached": gap <= TARGET,
                }
            )
    baseline = next(row["seconds"] for row in rows if row["method"] == "sklearn lbfgs")
    for row in rows:
        row["ratio"] = row["seconds"] / baseline
    print_table(
        f"logistic regression, breast cancer 569 x 30, lam = {LAM}, f* = {f_star:.12f}, "
        f"target gap <= {TARGET:g}, first-order methods capped at {CAP} steps",
        rows,
        {
            "seconds": "{:.4f}",
            "final_loss": "{:.12f}",
            "loss_gap_rel": "{:.1e}",
            "ratio": "{:.2f}",
        },
    )


if __name__ == "__main__":
    main()
