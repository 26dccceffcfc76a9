"""The week-3 drills against references: derivatives by hand, by autograd and by central
differences agree; the hand chain rule equals ``backward()``; gradient descent on x^2 follows
its closed form; descent on a non-convex function lands where scipy does; ``torch.optim``
lowers an ill-conditioned quadratic, the same way every time.
"""

import math

import numpy as np
import pytest
import torch

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
def test_central_difference_matches_the_analytic_derivative(f, df, x):
    x = torch.tensor(x, dtype=torch.float64)
    assert c.central_difference(f, x).item() == pytest.approx(df(x).item(), rel=CENTRAL_RTOL)


def test_central_difference_is_vectorized_over_the_coordinates():
    a = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    f = lambda w: torch.exp(w @ a / 10)  # noqa: E731  grad = a / 10 exp(a.w / 10)
    w = torch.tensor([0.5, 0.2, -0.1], dtype=torch.float64)
    grad = c.central_difference(f, w)
    assert grad.dtype == torch.float64
    assert grad.shape == (3,)
    np.testing.assert_allclose(grad, a / 10 * f(w), rtol=CENTRAL_RTOL)


def test_central_difference_error_is_second_order_in_h():
    x = torch.tensor(0.7, dtype=torch.float64)
    errors = [
        abs(c.central_difference(torch.sin, x, h).item() - math.cos(0.7)) for h in (1e-2, 1e-3)
    ]
    assert errors[0] / errors[1] == pytest.approx(100, rel=1e-3)  # O(h^2): h / 10 -> error / 100


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
def test_the_chain_rule_by_hand_equals_autograd(w, x, b, t):
    parts = c.chain_rule(w, x, b, t)
    a = 1 / (1 + math.exp(-(w * x + b)))
    assert parts["a"] == pytest.approx(a, rel=EXACT_RTOL)
    assert parts["dL/dw"] == parts["dL/da"] * parts["da/dz"] * parts["dz/dw"]
    assert parts["dL/dw"] == pytest.approx(parts["dL/dw (autograd)"], rel=EXACT_RTOL)
    assert parts["dL/db"] == pytest.approx(parts["dL/db (autograd)"], rel=EXACT_RTOL)
    assert parts["dL/dw"] == pytest.approx(2 * (a - t) * a * (1 - a) * x, rel=EXACT_RTOL)


@pytest.mark.parametrize("lr", [0.1, 0.5, 0.75, 1.0, 1.1])
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
    with pytest.raises(ValueError, match="lr must be > 0"):
        c.parabola_regime(lr)


def test_descend_and_second_derivative_agree_with_the_formulas():
    path = c.descend(c.nonconvex_grad, np.array([-2.0, 2.0]), 0.02, 3)
    assert path.shape == (4, 2)
    np.testing.assert_array_equal(path[1], path[0] - 0.02 * c.nonconvex_grad(path[0]))
    x = np.linspace(-2, 2, 9)
    np.testing.assert_allclose(c.second_derivative(c.nonconvex, x), 12 * x**2 - 6, rtol=EXACT_RTOL)


def test_convexity_by_the_sign_of_the_second_derivative():
    assert c.is_convex_on(lambda x: x**2, (-5, 5))
    assert c.is_convex_on(c.nonconvex, (1.0, 2.5))  # f'' = 12 x^2 - 6 >= 0 for |x| >= 0.707
    assert c.is_convex_on(c.nonconvex, (-2.5, -0.75))
    assert not c.is_convex_on(c.nonconvex, (-2, 2))
    assert not c.is_convex_on(c.nonconvex, (0.0, 0.5))
    with pytest.raises(ValueError, match="a < b"):
        c.is_convex_on(c.nonconvex, (1, 1))


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


@pytest.mark.parametrize("name", list(c.OPTIMIZERS))
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
        ({"optimizer_name": "LBFGS"}, "optimizer_name must be one of"),
        ({"loss": "l1"}, "loss must be one of"),
    ],
)
def test_trajectory_rejects_unknown_names(kwargs, match):
    with pytest.raises(ValueError, match=match):
        c.trajectory(**{"optimizer_name": "SGD", "w0": [1.0, 1.0], "lr": 0.1, "steps": 1, **kwargs})
