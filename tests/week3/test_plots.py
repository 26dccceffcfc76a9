"""The week-3 figures draw what they are given, on the axes they are given, and open no figure.

Each test draws on small inputs (Agg backend), then reads the artists back: line data,
labels, bars, scales. The fixture closes the figure and checks none is left.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import Rectangle

from projects.week3_regression import calculus as c
from projects.week3_regression import plots


def legend_labels(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def line_labelled(ax, label):
    (line,) = [line for line in ax.get_lines() if line.get_label() == label]
    return line


def test_parabola_descent_draws_one_labelled_run_per_learning_rate(subplots):
    runs = {lr: c.descend_parabola(1.0, lr, 10) for lr in (0.1, 0.75, 1.0, 1.1)}
    ax = subplots()
    plots.parabola_descent(ax, runs)
    assert legend_labels(ax) == [
        "lr = 0.1 (converges)",
        "lr = 0.75 (oscillates)",
        "lr = 1 (oscillates)",
        "lr = 1.1 (diverges)",
    ]
    for lr, x in runs.items():
        line = line_labelled(ax, f"lr = {lr:g} ({c.parabola_regime(lr)})")
        np.testing.assert_array_equal(line.get_xdata(), np.arange(11))
        np.testing.assert_array_equal(line.get_ydata(), x)
    # The frame is symmetric about the minimum x = 0 and holds every run that does not
    # diverge, whole; the diverging run leaves it instead of squashing the others flat.
    low, high = ax.get_ylim()
    assert low == -high > -np.max(np.abs(runs[1.1]))
    for lr, x in runs.items():
        assert np.all(np.abs(x) < high) == (c.parabola_regime(lr) != "diverges"), lr


def test_nonconvex_descent_draws_the_curve_each_path_and_the_minima(subplots):
    grid = np.linspace(-2, 2, 401)
    paths = {x0: c.descend(c.nonconvex_grad, x0, 0.02, 200) for x0 in (-2.0, 2.0)}
    ax = subplots()
    plots.nonconvex_descent(ax, c.nonconvex, paths, grid)
    assert legend_labels(ax) == ["f(x)", "start -2", "start 2", "global minimum (grid)"]
    np.testing.assert_array_equal(line_labelled(ax, "f(x)").get_ydata(), c.nonconvex(grid))
    for x0, path in paths.items():
        np.testing.assert_array_equal(line_labelled(ax, f"start {x0:g}").get_xdata(), path)
    stars = [line for line in ax.get_lines() if line.get_marker() == "*"]
    assert sorted(s.get_xdata()[0] for s in stars) == sorted(p[-1] for p in paths.values())
    (cross,) = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert cross.get_xdata()[0] == pytest.approx(-1.30084, abs=0.01)


def test_trajectories_on_contour_draws_contours_and_every_path(subplots):
    w1, w2 = np.meshgrid(np.linspace(-2, 2, 40), np.linspace(-1, 1, 30))
    values = 0.5 * (w1**2 + 10 * w2**2)
    paths = {name: c.trajectory(name, [-1.5, 0.8], 0.05, 20) for name in ("SGD", "Adam")}
    ax = subplots()
    plots.trajectories_on_contour(ax, (w1, w2, values), paths, title="Quadratic")
    assert len(ax.collections) >= 1  # the contour set
    assert legend_labels(ax) == ["SGD", "Adam", "start"]
    for name, path in paths.items():
        line = line_labelled(ax, name)
        np.testing.assert_array_equal(np.column_stack(line.get_data()), path)
    np.testing.assert_array_equal(line_labelled(ax, "start").get_xydata(), [[-1.5, 0.8]])
    assert ax.get_title() == "Quadratic"


@pytest.mark.parametrize("log_y", [True, False])
def test_loss_curves_draw_the_gap_to_the_optimum(subplots, log_y):
    curves = {"SGD": np.array([3.0, 2.0, 1.5, 1.25]), "Adam": np.array([3.0, 1.5, 1.0, 1.0])}
    ax = subplots()
    plots.loss_curves(ax, curves, optimal_loss=1.0, log_y=log_y)
    assert legend_labels(ax) == ["SGD", "Adam"]
    np.testing.assert_array_equal(line_labelled(ax, "SGD").get_ydata(), [2.0, 1.0, 0.5, 0.25])
    assert ax.get_yscale() == ("log" if log_y else "linear")


@pytest.mark.parametrize("as_frame", [True, False])
def test_regularization_path_draws_one_line_per_weight_on_a_log_axis(subplots, as_frame):
    lambdas = np.geomspace(1e-3, 10, 5)
    weights = np.outer(1 / (1 + lambdas), [2.0, -1.0, 0.5])
    ax = subplots()
    given = pd.DataFrame(weights, columns=["age", "bmi", "bp"]) if as_frame else weights
    plots.regularization_path(ax, lambdas, given, "Ridge path")
    names = ["age", "bmi", "bp"] if as_frame else ["w1", "w2", "w3"]
    assert legend_labels(ax) == names
    for j, name in enumerate(names):
        np.testing.assert_array_equal(line_labelled(ax, name).get_ydata(), weights[:, j])
    assert ax.get_xscale() == "log"
    assert ax.get_title() == "Ridge path"


def test_condition_steps_draws_one_annotated_bar_per_setting(subplots):
    table = pd.DataFrame(
        {"setting": ["raw", "standardized"], "condition_number": [1234.5, 3.2], "steps": [5000, 40]}
    )
    ax = subplots()
    plots.condition_steps(ax, table)
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert [b.get_height() for b in bars] == [5000, 40]
    assert [t.get_text() for t in ax.texts] == ["κ = 1,234.5", "κ = 3.2"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["raw", "standardized"]
    assert ax.get_yscale() == "log"


def test_a_bar_that_hit_the_step_cap_is_hatched_and_says_so(subplots):
    table = pd.DataFrame(
        {
            "setting": ["raw", "standardized"],
            "condition_number": [1234.5, 3.2],
            "steps": [20000, 40],
            "converged": [False, True],
        }
    )
    ax = subplots()
    plots.condition_steps(ax, table)
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert [b.get_hatch() or "" for b in bars] == ["//", ""]
    assert [t.get_text() for t in ax.texts] == [
        "κ = 1,234.5\ncap reached: 20,000 steps, not converged",
        "κ = 3.2",
    ]


def test_loss_curve_notes_go_in_the_legend_and_the_axis_names_theta(subplots):
    curves = {"gd": np.array([3.0, 2.0]), "sgd": np.array([3.0, 2.0]), "adam": np.array([3.0, 2.9])}
    ax = subplots()
    notes = {"sgd": "full batch: the steps of gd", "adam": "lr 0.05"}
    plots.loss_curves(ax, curves, optimal_loss=1.0, notes=notes)
    assert legend_labels(ax) == ["gd", "sgd (full batch: the steps of gd)", "adam (lr 0.05)"]
    assert ax.get_ylabel() == "f(θ_k) − f*"


def test_finite_difference_error_draws_both_schemes_their_best_steps_and_the_theory(subplots):
    table = pd.DataFrame(
        {
            "h": [1e-8, 1e-6, 1e-4, 1e-2],
            "forward": [1e-8, 1e-6, 1e-4, 1e-2],
            "central": [1e-6, 1e-10, 1e-8, 1e-4],
        }
    )
    ax = subplots()
    plots.finite_difference_error(ax, table, {"forward": 1.5e-8, "central": 6e-6})
    assert legend_labels(ax) == [
        "forward (~h¹)",
        "forward: best h = 1.0e-08",
        "central (~h²)",
        "central: best h = 1.0e-06",
    ]
    np.testing.assert_array_equal(line_labelled(ax, "central (~h²)").get_ydata(), table["central"])
    best = line_labelled(ax, "central: best h = 1.0e-06")
    assert (best.get_xdata()[0], best.get_ydata()[0]) == (1e-6, 1e-10)
    verticals = [line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert verticals == [1.5e-8, 6e-6]
    assert ax.get_xscale() == ax.get_yscale() == "log"


def test_coefficient_shift_draws_a_clean_and_an_outlier_bar_per_feature(subplots):
    ax = subplots()
    plots.coefficient_shift(ax, ["age", "bmi"], np.array([1.0, -2.0]), np.array([1.5, 3.0]), "LS")
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert [b.get_height() for b in bars] == [1.0, -2.0, 1.5, 3.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["age", "bmi"]
    assert legend_labels(ax) == ["clean data", "with outliers"]
    assert ax.get_title() == "LS"
