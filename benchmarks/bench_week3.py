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

Then L-BFGS against L-BFGS at two sizes: the breast-cancer set, where fixed per-call costs
decide, and a generated 100,000 x 100 problem (``make_classification``, seed 0,
standardized; same lam), where the passes over X do. Ours: ``torch.optim.LBFGS`` through
``train_torch_optim`` (the pipeline's ``lbfgs``) and ``lbfgs.lbfgs`` (written out, one
forward/backward per evaluation) in float64 and in float32 (the cast of X is inside the
timed call). f* comes from sklearn's ``newton-cholesky`` at tol 1e-12 (independent of
all of them); each runs at the loosest tolerance of ``TOLS`` that brings its loss within
``TARGET`` relative of f* (its reached ``gap`` is printed), timed side by side with
sklearn's lbfgs by ``benchmarks.timing.best_times``: ``ratio`` = seconds / sklearn_s;
``cpu_ratio`` is the same in CPU seconds (``cpu_times``), steadier on a loaded machine.
"""

import functools
import gc
import time

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from benchmarks.timing import best_times, calls_per_round, print_table
from projects.week3_regression.lbfgs import lbfgs
from projects.week3_regression.losses import logistic_hessian, objective
from projects.week3_regression.optimize import gradient_descent, newton, train_torch_optim
from projects.week3_regression.reference import sklearn_logistic

LAM = 1e-3  # the small L2 penalty
TARGET = 1e-6  # relative loss gap that counts as "reached the optimum"
TOL = 1e-5  # gradient-norm tolerance of our methods: gap <= ||g||^2 / (2 lam) ~ 1e-7 rel
CAP = 3000  # step limit of the first-order methods
REPEATS = 3
LBFGS_REPEATS = 5  # rounds of the L-BFGS comparison (best of)
TOLS = [c * 10.0**-k for k in range(3, 8) for c in (1, 0.5, 0.2)]  # 1e-3, 5e-4, 2e-4, 1e-4, ...
LARGE = (100_000, 100)  # rows x features of the generated problem


def tensors(X, y):
    """(X, y) numpy and (X, y) float64 tensors of the standardized features X."""
    X = StandardScaler().fit_transform(X)
    return X, y, torch.tensor(X, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)


def load():
    """The standardized breast-cancer data (569 x 30), numpy and tensors."""
    return tensors(*load_breast_cancer(return_X_y=True))


def generated(n, p):
    """A seeded n x p binary problem: 20 informative and 20 redundant features, standardized."""
    X, y = make_classification(
        n_samples=n, n_features=p, n_informative=20, n_redundant=20, random_state=0
    )
    return tensors(X, y)


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
        "L-BFGS (ours)": lambda: ours(lbfgs, max_steps=500),
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


def tight_optimum(X, y, X_t, y_t):
    """f* by sklearn's newton-cholesky at tol 1e-12, evaluated by our float64 objective."""
    w, b, _ = sklearn_logistic(X, y, LAM, solver="newton-cholesky", tol=1e-12, max_iter=100)
    return objective("logistic", torch.tensor(w), torch.tensor(b), X_t, y_t, l2=LAM).item()


def lbfgs_runs(X, y, X_t, y_t):
    """name -> run(tol): (w, b, steps) of each L-BFGS, all from w = 0, b = 0.

    Ours take the float64 tensors; the float32 run casts them inside the timed call.
    """
    loss = functools.partial(objective, "logistic", l2=LAM)

    def ours(optimize, dtype, tol):
        start = [torch.zeros(X.shape[1], dtype=dtype), torch.zeros((), dtype=dtype)]
        result = optimize(loss, start, X_t.to(dtype), y_t.to(dtype), max_steps=1000, tol=tol)
        w, b = (p.to(torch.float64) for p in result.params)
        return w.numpy(), b.item(), result.steps

    def sklearn(tol):
        w, b, model = sklearn_logistic(X, y, LAM, solver="lbfgs", tol=tol, max_iter=10_000)
        return w, b, int(model.n_iter_[0])

    torch_lbfgs = functools.partial(train_torch_optim, "lbfgs", lr=1.0)
    return {
        "torch.optim.LBFGS, float64": functools.partial(ours, torch_lbfgs, torch.float64),
        "lbfgs (ours), float64": functools.partial(ours, lbfgs, torch.float64),
        "lbfgs (ours), float32": functools.partial(ours, lbfgs, torch.float32),
        "sklearn lbfgs": sklearn,
    }


def cpu_times(run_ours, run_theirs, repeats, min_round_s=0.05):
    """Best CPU seconds (``time.process_time``) per call of each, in alternating rounds.

    On one thread CPU time is the work done, whatever else the machine runs: the ratio
    that stays put when wall times swing with the load.
    """
    calls = (run_ours, run_theirs)
    number = calls_per_round(calls, min_round_s, clock=time.process_time)
    best = [np.inf, np.inf]
    for _ in range(repeats):
        for i, run in enumerate(calls):
            gc.collect()
            start = time.process_time()
            for _ in range(number):
                run()
            best[i] = min(best[i], (time.process_time() - start) / number)
    return best[0], best[1]


def loosest_tolerance(run, gap_of):
    """(tol, steps, gap): the loosest tol of TOLS whose run ends within TARGET of f*."""
    for tol in TOLS:
        w, b, steps = run(tol)
        gap = gap_of(w, b)
        if gap <= TARGET:
            break
    return tol, steps, gap


def compare_lbfgs(problem, X, y, X_t, y_t):
    """Rows: each L-BFGS to the TARGET gap, timed side by side with sklearn's."""
    f_star = tight_optimum(X, y, X_t, y_t)

    def gap_of(w, b):
        final = objective("logistic", torch.tensor(w), torch.tensor(b), X_t, y_t, l2=LAM)
        return (final.item() - f_star) / f_star

    runs = lbfgs_runs(X, y, X_t, y_t)
    sklearn = runs.pop("sklearn lbfgs")
    sklearn_tol, sklearn_steps, sklearn_gap = loosest_tolerance(sklearn, gap_of)
    rows = []
    for name, run in runs.items():
        tol, steps, gap = loosest_tolerance(run, gap_of)
        pair = (functools.partial(run, tol), functools.partial(sklearn, sklearn_tol))
        seconds, sklearn_seconds = best_times(*pair, LBFGS_REPEATS)
        cpu, sklearn_cpu = cpu_times(*pair, LBFGS_REPEATS)
        rows.append(
            {
                "problem": problem,
                "method": name,
                "tol": tol,
                "steps": steps,
                "gap": gap,
                "seconds": seconds,
                "sklearn_s": sklearn_seconds,
                "ratio": seconds / sklearn_seconds,
                "cpu_ratio": cpu / sklearn_cpu,
            }
        )
    sklearn_row = {"method": "sklearn lbfgs", "tol": sklearn_tol, "steps": sklearn_steps}
    rows.append({"problem": problem, **sklearn_row, "gap": sklearn_gap})
    return rows


def main() -> None:
    optimizers_to_the_optimum()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        rows = compare_lbfgs("breast cancer 569 x 30", *load())
        rows += compare_lbfgs(f"generated {LARGE[0]:,} x {LARGE[1]}", *generated(*LARGE))
    print_table(
        f"\nL-BFGS to a gap <= {TARGET:g} of f* (sklearn newton-cholesky at tol 1e-12), "
        f"lam = {LAM}, one thread; each at the loosest tol reaching the gap; ratio = seconds "
        "/ sklearn_s (wall), cpu_ratio the same in CPU seconds, timed side by side",
        rows,
        {
            "tol": "{:.0e}",
            "gap": "{:.1e}",
            "seconds": "{:.4f}",
            "sklearn_s": "{:.4f}",
            "ratio": "{:.2f}",
            "cpu_ratio": "{:.2f}",
        },
    )


def optimizers_to_the_optimum() -> None:
    """Every optimizer to the optimum of the breast-cancer problem (the first table)."""
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
