"""The week-3 drills against references: derivatives by hand, by autograd and by central
differences agree; the hand chain rule equals ``backward()``; gradient descent on x^2 follows
its closed form; descent on a non-convex function lands where scipy does; ``torch.optim``
lowers an ill-conditioned quadratic, the same way every time.
"""

import math

import numpy as np
import pytest
import torch

from common.grading import grades
from projects.week3_regression import calculus as c

# Central differences at h = 1e-6: truncation h^2 |f'''| / 6 ~ 1e-13 and rounding
# eps |f| / h ~ 2e-10 for functions and derivatives of order 1, so 1e-8 leaves a 50x margin.
CENTRAL_RTOL = 1e-8
EXACT_RTOL = 1e-12  # same formula, different order of floating-point operations


@pytest.mark.parametrize(
    ("f", "df", "x"),
    [
        (torch.sin, torch.cos, 0.7),
        (torch.exp, torch.exp, -1.3),
        (lambda x: x**3 - 2 * x, lambda x: 3 * x**2 - 2, 1.9),
        (torch.log1p, lambda x: 1 / (1 + x), 0.4),
    ],
)
@grades(c.central_difference)
def test_central_difference_matches_the_analytic_derivative(f, df, x):
    x = torch.tensor(x, dtype=torch.float64)
    assert c.central_difference(f, x).item() == pytest.approx(df(x).item(), rel=CENTRAL_RTOL)


@grades(c.central_difference)
def test_central_difference_is_vectorized_over_the_coordinates():
    a = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    f = lambda w: torch.exp(w @ a / 10)  # noqa: E731  grad = a / 10 exp(a.w / 10)
    w = torch.tensor([0.5, 0.2, -0.1], dtype=torch.float64)
    grad = c.central_difference(f, w)
    assert grad.dtype == torch.float64
    assert grad.shape == (3,)
    np.testing.assert_allclose(grad, a / 10 * f(w), rtol=CENTRAL_RTOL)


@grades(c.central_difference)
def test_central_difference_error_is_second_order_in_h():
    x = torch.tensor(0.7, dtype=torch.float64)
    errors = [
        abs(c.central_difference(torch.sin, x, h).item() - math.cos(0.7)) for h in (1e-2, 1e-3)
    ]
    assert errors[0] / errors[1] == pytest.approx(100, rel=1e-3)  # O(h^2): h / 10 -> error / 100


@grades(c.central_difference)
def test_partial_derivatives_table_agrees_three_ways():
    table = c.partial_derivatives_table()
    assert len(table) == 2 * len(c.FUNCTIONS_2D)
    assert list(table["variable"]) == ["x", "y"] * len(c.FUNCTIONS_2D)
    np.testing.assert_allclose(table["autograd"], table["analytic"], rtol=EXACT_RTOL)
    np.testing.assert_allclose(table["central_difference"], table["analytic"], rtol=CENTRAL_RTOL)
    assert (table["rel_error_autograd"] <= EXACT_RTOL).all()
    assert (table["rel_error_central"] <= CENTRAL_RTOL).all()
    assert (table["analytic"].abs() > 0.1).all()  # relative errors are meaningful here


@pytest.mark.parametrize(("w", "x", "b", "t"), [(0.7, 1.3, -0.4, 1.0), (-2.0, 0.5, 3.0, 0.0)])
@grades(c.chain_rule)
def test_the_chain_rule_by_hand_equals_autograd(w, x, b, t):
    parts = c.chain_rule(w, x, b, t)
    w_ = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    b_ = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    (torch.sigmoid(w_ * x + b_) - t).pow(2).backward()  # the reference: autograd
    a = 1 / (1 + math.exp(-(w * x + b)))
    assert parts["z"] == pytest.approx(w * x + b, rel=EXACT_RTOL)
    assert parts["a"] == pytest.approx(a, rel=EXACT_RTOL)
    assert parts["L"] == pytest.approx((a - t) ** 2, rel=EXACT_RTOL)
    assert parts["dL/dw"] == pytest.approx(parts["dL/da"] * parts["da/dz"] * parts["dz/dw"])
    assert parts["dL/db"] == pytest.approx(parts["dL/da"] * parts["da/dz"] * parts["dz/db"])
    assert parts["da/dz"] == pytest.approx(a * (1 - a), rel=EXACT_RTOL)
    assert parts["dL/dw"] == pytest.approx(w_.grad.item(), rel=EXACT_RTOL)
    assert parts["dL/db"] == pytest.approx(b_.grad.item(), rel=EXACT_RTOL)
    table = c.chain_rule_table(w, x, b, t)
    assert table["dL/dw (autograd)"] == pytest.approx(w_.grad.item(), rel=EXACT_RTOL)
    assert table["dL/dw"] == parts["dL/dw"]


@pytest.mark.parametrize("lr", [0.1, 0.5, 0.75, 1.0, 1.1])
@grades(c.descend_parabola)
def test_parabola_iterates_follow_the_closed_form(lr):
    x = c.descend_parabola(1.5, lr, 30)
    assert x.shape == (31,)
    np.testing.assert_allclose(x, (1 - 2 * lr) ** np.arange(31) * 1.5, rtol=EXACT_RTOL, atol=1e-300)


@pytest.mark.parametrize(
    ("lr", "regime"),
    [
        (0.1, "converges"),
        (0.5, "converges"),
        (0.75, "oscillates"),
        (1.0, "oscillates"),
        (1.1, "diverges"),
    ],
)
@grades(c.descend_parabola)
def test_parabola_regimes_are_classified_and_behave_as_named(lr, regime):
    assert c.parabola_regime(lr) == regime
    x = c.descend_parabola(1.0, lr, 20)
    magnitude, nonzero = np.abs(x), x[x != 0]
    flips = np.sign(nonzero[1:]) != np.sign(nonzero[:-1])
    if regime == "converges":
        assert not flips.any()
        assert np.all(np.diff(magnitude) <= 0)
        assert magnitude[-1] < 1e-1
    elif regime == "oscillates":
        assert flips.all()
        assert np.all(np.diff(magnitude) <= 1e-15)
    else:
        assert flips.all()
        assert magnitude[-1] > 10


@pytest.mark.parametrize("lr", [0.0, -0.1])
def test_parabola_regime_rejects_a_learning_rate_that_is_not_positive(lr):
    with pytest.raises(ValueError, match=f"^lr must be > 0, got {lr}$"):
        c.parabola_regime(lr)


@pytest.mark.parametrize("seed", [0, 1])
@grades(c.gradient_check_error)
def test_gradient_check_is_tiny_for_the_true_gradient_and_measures_a_wrong_one(seed):
    rng = np.random.default_rng(seed)
    a, x = rng.normal(size=4), rng.normal(size=4)

    def f(w):  # f(w) = exp(a . w / 4) + sum w^2, on the last axis
        return torch.exp(w @ torch.as_tensor(a) / 4) + (w**2).sum(-1)

    true = np.exp(a @ x / 4) * a / 4 + 2 * x  # closed form
    assert c.gradient_check_error(f, true, x) <= CENTRAL_RTOL
    assert c.gradient_check_error(f, torch.as_tensor(true), torch.as_tensor(x)) <= CENTRAL_RTOL
    wrong = true.copy()
    wrong[2] += 0.5  # one wrong partial: error 0.5 / max |wrong|
    expected = 0.5 / np.max(np.abs(wrong))
    assert c.gradient_check_error(f, wrong, x) == pytest.approx(expected, rel=1e-6)
    # the gradient's scale, not the estimate's: a gradient 10x too large has error 0.9
    assert c.gradient_check_error(f, 10 * true, x) == pytest.approx(0.9, rel=1e-6)


def test_descend_and_second_derivative_agree_with_the_formulas():
    path = c.descend(c.nonconvex_grad, np.array([-2.0, 2.0]), 0.02, 3)
    assert path.shape == (4, 2)
    np.testing.assert_array_equal(path[1], path[0] - 0.02 * c.nonconvex_grad(path[0]))
    x = np.linspace(-2, 2, 9)
    np.testing.assert_allclose(c.second_derivative(c.nonconvex, x), 12 * x**2 - 6, rtol=EXACT_RTOL)


@grades(c.is_convex_on)
def test_convexity_by_the_sign_of_the_second_derivative():
    assert c.is_convex_on(lambda x: x**2, (-5, 5))
    assert c.is_convex_on(c.nonconvex, (1.0, 2.5))  # f'' = 12 x^2 - 6 >= 0 for |x| >= 0.707
    assert c.is_convex_on(c.nonconvex, (-2.5, -0.75))
    assert not c.is_convex_on(c.nonconvex, (-2, 2))
    assert not c.is_convex_on(c.nonconvex, (0.0, 0.5))


@pytest.mark.parametrize(
    ("f", "d2f", "interval"),
    [
        (torch.sin, lambda x: -np.sin(x), (3.3, 6.0)),  # sin'' = -sin >= 0 on [pi, 2 pi]
        (torch.sin, lambda x: -np.sin(x), (0.2, 3.0)),
        (torch.exp, np.exp, (-4.0, 4.0)),
        (lambda x: x**3, lambda x: 6 * x, (-1.0, 2.0)),
        (lambda x: x**3, lambda x: 6 * x, (0.1, 2.0)),
        (lambda x: -torch.log(x), lambda x: 1 / x**2, (0.1, 5.0)),
        (c.nonconvex, lambda x: 12 * x**2 - 6, (0.8, 1.5)),
        (c.nonconvex, lambda x: 12 * x**2 - 6, (0.6, 1.5)),  # f'' < 0 on [0.6, 0.707)
    ],
)
@grades(c.is_convex_on)
def test_convexity_agrees_with_the_closed_form_second_derivative(f, d2f, interval):
    # the reference: the sign of the closed-form f'' on a fine grid (no dip narrower than it)
    expected = bool(np.all(d2f(np.linspace(*interval, 100_001)) >= 0))
    assert c.is_convex_on(f, interval) is expected


def test_convexity_check_rejects_an_empty_interval():
    with pytest.raises(ValueError, match=r"^interval must have a < b, got \(1, 1\)$"):
        c.is_convex_on(c.nonconvex, (1, 1))


@grades(c.is_convex_on)
def test_descent_lands_in_different_minima_that_scipy_and_a_grid_confirm():
    table = c.minima_table([-2.0, -0.5, 0.5, 2.0])
    # each start lands where scipy's local minimizer from the same start does
    np.testing.assert_allclose(table["x_descent"], table["x_scipy"], atol=1e-6)
    np.testing.assert_allclose(np.abs(c.nonconvex_grad(table["x_descent"])), 0, atol=1e-9)
    assert (12 * table["x_descent"] ** 2 - 6 > 0).all()  # minima, not the maximum
    minima = np.unique(table["x_descent"].round(6))
    assert len(minima) == 2  # two basins: a local and a global minimum
    x_global, f_global = table.attrs["global"]
    assert x_global == pytest.approx(minima[0], abs=6 / 200_000)  # within one grid step
    assert table["f_descent"].min() == pytest.approx(f_global, abs=1e-8)
    assert list(table["is_global"]) == [True, True, False, False]
    assert table["convex_around"].all()  # f'' = 12 x^2 - 6 > 0 within 0.25 of both minima


@pytest.mark.parametrize("name", list(c.DRAWN_OPTIMIZERS))
def test_torch_optimizers_lower_the_quadratic_reproducibly(name):
    path = c.trajectory(name, [-2.0, 1.0], 0.05, 200)
    assert path.shape == (201, 2)
    assert path.dtype == np.float64
    loss = c.loss_along(path)
    assert loss[0] == pytest.approx(0.5 * (4 + 10))
    assert loss[-1] < 1e-2 * loss[0]
    np.testing.assert_array_equal(path, c.trajectory(name, [-2.0, 1.0], 0.05, 200))
    assert torch.get_default_dtype() == torch.float32  # the global default is untouched


def test_sgd_step_is_the_textbook_update_and_descends_monotonically():
    path = c.trajectory("SGD", [-2.0, 1.0], 0.05, 50)
    np.testing.assert_allclose(
        path[1], path[0] - 0.05 * np.array([1.0, 10.0]) * path[0], rtol=EXACT_RTOL
    )
    assert np.all(np.diff(c.loss_along(path)) < 0)  # lr < 2 / L = 0.2: every step lowers f


def test_rosenbrock_minimum_and_a_momentum_run_toward_it():
    assert c.loss_along(np.array([[1.0, 1.0]]), "rosenbrock")[0] == 0
    loss = c.loss_along(
        c.trajectory("momentum", [-1.0, 1.5], 1e-3, 500, loss="rosenbrock"), "rosenbrock"
    )
    assert loss[-1] < 1e-3 * loss[0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"optimizer_name": "LBFGS"}, "^optimizer_name must be one of .*, got 'LBFGS'$"),
        ({"loss": "l1"}, "^loss must be one of .*, got 'l1'$"),
    ],
)
def test_trajectory_rejects_unknown_names(kwargs, match):
    with pytest.raises(ValueError, match=match):
        c.trajectory(**{"optimizer_name": "SGD", "w0": [1.0, 1.0], "lr": 0.1, "steps": 1, **kwargs})
