"""The figures of week 3: gradient descent on a parabola and on a non-convex curve, optimizer
paths on a 2-D loss, their loss curves, regularization paths, the cost of ill-conditioning,
the error of finite differences against the step, and LAD against least squares.

Each function draws onto axes it is given and returns nothing; the pipeline opens, logs and
closes the figure (``common.plotting.figure``). Inputs are plain arrays, dicts of arrays and
DataFrames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from projects.week3_regression.calculus import parabola_regime

MINIMUM_COLOUR = "black"


def parabola_descent(ax, runs: dict[float, np.ndarray]) -> None:
    """x_k against k for gradient descent on f(x) = x^2, one line per learning rate (W3.P2).

    ``runs`` maps lr to its iterates x_0..x_K; each line is labelled with its regime of
    x_{k+1} = (1 - 2 lr) x_k. The y range is fixed at +-1.5 max |x_0|, so a diverging
    run leaves the frame instead of flattening the others.
    """
    for lr, x in runs.items():
        ax.plot(
            np.arange(len(x)),
            x,
            marker="o",
            markersize=3,
            label=f"lr = {lr:g} ({parabola_regime(lr)})",
        )
    ax.axhline(0, color=MINIMUM_COLOUR, linewidth=0.8)
    bound = 1.5 * max(abs(x[0]) for x in runs.values())
    ax.set(ylim=(-bound, bound), xlabel="step k", ylabel="x_k")
    ax.set_title("Gradient descent on f(x) = x², x ← x − lr·2x")
    ax.legend(fontsize=8)


def nonconvex_descent(ax, f, starts_and_paths: dict[float, np.ndarray], grid: np.ndarray) -> None:
    """f over ``grid``, and each descent path (x_k, f(x_k)) from its start to a star at the
    minimum it lands in (W3.4). The lowest grid point, the global minimum, is marked with x.
    """
    ax.plot(grid, f(grid), color="grey", linewidth=1.5, label="f(x)")
    for x0, path in starts_and_paths.items():
        (line,) = ax.plot(
            path, f(path), marker="o", markersize=3, linewidth=0.8, label=f"start {x0:g}"
        )
        ax.plot(
            path[-1],
            f(path[-1]),
            marker="*",
            markersize=14,
            color=line.get_color(),
            markeredgecolor=MINIMUM_COLOUR,
            linestyle="none",
        )
    i = np.argmin(f(grid))
    ax.plot(
        grid[i],
        f(grid)[i],
        marker="x",
        markersize=10,
        color=MINIMUM_COLOUR,
        linestyle="none",
        label="global minimum (grid)",
    )
    ax.set(xlabel="x", ylabel="f(x)", title="Gradient descent on a non-convex function")
    ax.legend(fontsize=8)


def trajectories_on_contour(
    ax,
    f_grid: tuple[np.ndarray, np.ndarray, np.ndarray],
    paths: dict[str, np.ndarray],
    title: str = "",
) -> None:
    """Contours of a 2-D loss with each optimizer's path w_0..w_K on top (W3.5, W3.P4).

    ``f_grid`` is (W1, W2, F) as from ``np.meshgrid`` with F = f(W1, W2); contour levels
    are quantiles of F, so both a quadratic bowl and a steep valley show their shape.
    ``paths`` maps an optimizer's name to its iterates, shape (K + 1, 2).
    """
    w1, w2, values = f_grid
    levels = np.unique(np.quantile(values, np.linspace(0.002, 0.9, 14)))
    ax.grid(False)  # the contours are the grid
    ax.contour(w1, w2, values, levels=levels, cmap="Greys", linewidths=0.8)
    for name, path in paths.items():
        path = np.asarray(path)
        ax.plot(path[:, 0], path[:, 1], marker="o", markersize=2, linewidth=1, label=name)
    start = np.asarray(next(iter(paths.values())))[0]
    ax.plot(*start, marker="s", color=MINIMUM_COLOUR, linestyle="none", label="start")
    ax.set(xlabel="w₁", ylabel="w₂", title=title or "Optimizer paths on the loss contours")
    ax.legend(fontsize=8)


def loss_curves(
    ax,
    curves: dict[str, np.ndarray],
    optimal_loss: float = 0.0,
    log_y: bool = True,
    notes: dict[str, str] | None = None,
) -> None:
    """f(theta_k) - f* against step k, one line per optimizer (W3.5, W3.P4).

    On a log axis (``log_y``) linear convergence is a straight line; a gap of exactly 0 is
    not drawn there (masked). ``notes`` adds a word to a curve's legend entry (why two
    curves coincide, the step size of one that barely moves).
    """
    notes = notes or {}
    for name, loss in curves.items():
        gap = np.asarray(loss, dtype=np.float64) - optimal_loss
        label = f"{name} ({notes[name]})" if name in notes else name
        ax.plot(np.arange(len(gap)), gap, label=label)
    if log_y:
        ax.set_yscale("log", nonpositive="mask")
    ax.set(xlabel="step k", ylabel="f(θ_k) − f*", title="Loss gap per step")
    ax.legend(fontsize=8)


def regularization_path(
    ax, lambdas: np.ndarray, weights: np.ndarray | pd.DataFrame, title: str
) -> None:
    """Each weight w_j against the penalty strength lambda on a log axis (W3.X2).

    ``weights`` has one row per lambda and one column per feature; a DataFrame's column
    names label the lines, else w_1..w_d. L1 drives weights to exactly 0 one by one,
    L2 shrinks them all smoothly towards 0. Lambdas must be > 0 (log axis).
    """
    names = list(weights.columns) if isinstance(weights, pd.DataFrame) else None
    weights = np.asarray(weights, dtype=np.float64)
    names = names or [f"w{j + 1}" for j in range(weights.shape[1])]
    for j, name in enumerate(names):
        ax.plot(lambdas, weights[:, j], label=name)
    ax.axhline(0, color=MINIMUM_COLOUR, linewidth=0.8)
    ax.set(xscale="log", xlabel="penalty strength λ", ylabel="weight", title=title)
    ax.legend(fontsize=8)


def condition_steps(ax, table: pd.DataFrame) -> None:
    """Gradient-descent steps to converge for each setting (e.g. raw vs standardized
    features) on a log axis, each bar annotated with its condition number
    kappa = lambda_max / lambda_min; a run that hit its step cap (``converged`` False) is a
    hatched bar labelled "cap reached", never "steps to converge".

    ``table`` has columns setting, condition_number, steps and (optionally) converged.
    Steepest descent needs on the order of kappa steps per digit of accuracy (N&W 3.3).
    """
    converged = table["converged"] if "converged" in table else pd.Series(True, table.index)
    bars = ax.bar(
        table["setting"],
        table["steps"],
        color=[f"C{i}" for i in range(len(table))],
        hatch=["" if done else "//" for done in converged],
    )
    labels = [
        f"κ = {k:,.1f}" + ("" if done else f"\ncap reached: {steps:,} steps, not converged")
        for k, steps, done in zip(table["condition_number"], table["steps"], converged, strict=True)
    ]
    ax.bar_label(bars, labels=labels, padding=2)
    ax.set(
        yscale="log", ylim=(1, 20 * table["steps"].max()), ylabel="steps to converge (log scale)"
    )
    ax.set_title("Conditioning and gradient descent")


def finite_difference_error(ax, table: pd.DataFrame, best_h_theory: dict[str, float]) -> None:
    """|difference quotient - f'(x)| against the step h on log-log axes (W3.6).

    ``table`` has columns h, forward, central (absolute errors). Each scheme's line has a
    dot at its smallest error (the best h measured) and a dashed vertical line at the
    theory's best h (``best_h_theory[scheme]``). An error of exactly 0 is not drawn (masked).
    """
    for scheme, order in (("forward", "h¹"), ("central", "h²")):
        (line,) = ax.plot(table["h"], table[scheme], marker=".", label=f"{scheme} (~{order})")
        best = table[scheme].idxmin()
        ax.plot(
            table["h"][best],
            table[scheme][best],
            marker="o",
            markersize=9,
            color=line.get_color(),
            linestyle="none",
            label=f"{scheme}: best h = {table['h'][best]:.1e}",
        )
        ax.axvline(best_h_theory[scheme], color=line.get_color(), linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log", nonpositive="mask")
    ax.set(xlabel="step h", ylabel="|error of f′(x)|")
    ax.set_title("The derivative as a limit: truncation (right), round-off (left)")
    ax.legend(fontsize=8)


def coefficient_shift(
    ax, names: list[str], clean: np.ndarray, with_outliers: np.ndarray, title: str
) -> None:
    """Each coefficient fitted on clean data beside the one fitted with outliers (W3.X6):
    two bars per feature; a robust fit keeps the pairs alike."""
    x = np.arange(len(names))
    ax.bar(x - 0.2, clean, width=0.4, label="clean data")
    ax.bar(x + 0.2, with_outliers, width=0.4, label="with outliers")
    ax.axhline(0, color=MINIMUM_COLOUR, linewidth=0.8)
    ax.set_xticks(x, names, rotation=45)
    ax.set(ylabel="weight", title=title)
    ax.legend(fontsize=8)
