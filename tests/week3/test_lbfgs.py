"""L-BFGS written out (``lbfgs``) against the explicit BFGS matrix, sklearn and torch.optim.

References: the inverse-Hessian approximation H_k built as a dense matrix by the BFGS
recursion (for the two-loop recursion); ``LogisticRegression`` and ``torch.optim.LBFGS``
(``train_torch_optim("lbfgs")``, the straightforward path) on the standardized
breast-cancer data; the float64 run for the float32 fast path; Rosenbrock's minimum (1, 1)
for a non-convex f. Tolerances are stated per test.
"""

import functools

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.preprocessing import StandardScaler

from projects.week3_regression.lbfgs import lbfgs, two_loop_direction
from projects.week3_regression.losses import objective
from projects.week3_regression.optimize import train_torch_optim
from projects.week3_regression.reference import sklearn_logistic

LAM = 1e-3  # the small L2 penalty of the logistic-regression tests
LOSS = functools.partial(objective, "logistic", l2=LAM)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Small problems on one thread: on a loaded machine, a second thread mostly waits."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def standardized(X, y, dtype=torch.float64):
    X = StandardScaler().fit_transform(X)
    return X, y, torch.tensor(X, dtype=dtype), torch.tensor(y, dtype=dtype)


@pytest.fixture(scope="module")
def cancer():
    return standardized(*load_breast_cancer(return_X_y=True))


@pytest.fixture(scope="module")
def generated():
    """A seeded 20,000 x 50 problem: big enough that float32 sums carry real round-off."""
    X, y = make_classification(
        n_samples=20_000, n_features=50, n_informative=10, n_redundant=10, random_state=0
    )
    return standardized(X, y)


def optimum(X, y, X_t, y_t):
    """(w*, b*, model, f*) of sklearn's newton-cg at tol 1e-12, f* by our float64 loss."""
    w, b, model = sklearn_logistic(X, y, LAM, solver="newton-cg", tol=1e-12)
    return w, b, model, LOSS(torch.tensor(w), torch.tensor(b), X_t, y_t).item()


def zeros(p, dtype=torch.float64):
    return [torch.zeros(p, dtype=dtype), torch.zeros((), dtype=dtype)]


def test_two_loop_direction_is_the_bfgs_inverse_hessian_times_g():
    rng = np.random.default_rng(0)
    p, m = 6, 4
    A = rng.normal(size=(p, p))
    A = A @ A.T + p * np.eye(p)  # SPD: every pair (s, A s) has y^T s > 0
    pairs = [(s, A @ s) for s in rng.normal(size=(m, p))]
    # the dense reference: H_0 = gamma I (gamma of the newest pair), then the BFGS update
    s_new, y_new = pairs[-1]
    H = (s_new @ y_new) / (y_new @ y_new) * np.eye(p)
    for s, y in pairs:
        rho = 1 / (y @ s)
        V = np.eye(p) - rho * np.outer(y, s)
        H = V.T @ H @ V + rho * np.outer(s, s)
    g = rng.normal(size=p)
    history = [(s, y, 1 / (y @ s)) for s, y in pairs]
    before = g.copy()
    np.testing.assert_allclose(two_loop_direction(g, history), H @ g, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(g, before)  # g is not modified
    np.testing.assert_array_equal(two_loop_direction(g, []), g)  # H = I


def test_lbfgs_reaches_the_sklearn_logistic_optimum(cancer):
    X, _, X_t, y_t = cancer
    w_star, b_star, model, f_star = optimum(*cancer)
    result = lbfgs(LOSS, zeros(X.shape[1]), X_t, y_t, max_steps=500, tol=1e-8)
    assert result.converged
    assert result.grad_norms[-1] <= 1e-8
    assert result.losses[-1] == pytest.approx(f_star, rel=1e-12)
    w, b = result.params
    assert w.shape == (X.shape[1],)
    assert b.shape == ()
    # ||theta - theta*|| <= ||g|| / mu, with mu >= lam the strong convexity in w
    np.testing.assert_allclose(w.numpy(), w_star, atol=1e-5)
    assert b.item() == pytest.approx(b_star, abs=1e-5)
    predictions = (X @ w.numpy() + b.item() > 0).astype(int)
    np.testing.assert_array_equal(predictions, model.predict(X))


@pytest.mark.parametrize("data", ["cancer", "generated"])
def test_lbfgs_lands_where_torch_optim_lbfgs_lands(data, request):
    """The fast path against the straightforward one: the same optimum, to 2e-5 in theta
    (each stops at ||g|| <= 1e-8, so lies within ||g|| / lam = 1e-5 of theta*, lam = 1e-3
    bounding the strong convexity from below)."""
    X, _, X_t, y_t = request.getfixturevalue(data)
    ours = lbfgs(LOSS, zeros(X.shape[1]), X_t, y_t, max_steps=1000, tol=1e-8)
    theirs = train_torch_optim(
        "lbfgs", LOSS, zeros(X.shape[1]), X_t, y_t, lr=1.0, max_steps=1000, tol=1e-8
    )
    assert ours.converged
    assert theirs.converged
    for p, q in zip(ours.params, theirs.params, strict=True):
        np.testing.assert_allclose(p.numpy(), q.numpy(), atol=2e-5)
    assert ours.losses[-1] == pytest.approx(theirs.losses[-1], rel=1e-12)
    assert ours.steps <= theirs.steps + 5  # no slower in steps than torch.optim's


def test_losses_fall_at_every_step_and_the_record_has_one_entry_per_iterate(cancer):
    X, _, X_t, y_t = cancer
    calls = []
    result = lbfgs(
        LOSS, zeros(X.shape[1]), X_t, y_t, max_steps=500, tol=1e-6,
        callback=lambda step, loss, grad_norm: calls.append((step, loss, grad_norm)),
    )  # fmt: skip
    assert len(result.losses) == len(result.grad_norms) == result.steps + 1
    assert np.all(np.diff(result.losses) < 0)  # Armijo: a strict decrease every step
    assert [c[0] for c in calls] == list(range(result.steps + 1))
    np.testing.assert_array_equal([c[1] for c in calls], result.losses)
    np.testing.assert_array_equal([c[2] for c in calls], result.grad_norms)


def test_float32_follows_the_float64_iterates_and_reaches_the_optimum(generated):
    """float32 (the fast path at scale) against float64: the same losses step for step to
    float32 round-off (rel 1e-5), the same stop, and a gap <= 1e-6 of the float64 f*."""
    X, _, X_t, y_t = generated
    f_star = optimum(*generated)[3]
    runs = {
        dtype: lbfgs(
            LOSS, zeros(X.shape[1], dtype), X_t.to(dtype), y_t.to(dtype), max_steps=200, tol=2e-4
        )
        for dtype in (torch.float64, torch.float32)
    }
    single, double = runs[torch.float32], runs[torch.float64]
    assert single.converged
    assert double.converged
    assert single.steps == double.steps
    np.testing.assert_allclose(single.losses, double.losses, rtol=1e-5)
    assert all(p.dtype == torch.float32 for p in single.params)
    w, b = (p.double() for p in single.params)
    assert (LOSS(w, b, X_t, y_t).item() - f_star) / f_star <= 1e-6
    np.testing.assert_allclose(w.numpy(), double.params[0].numpy(), atol=1e-3)


def test_a_tol_below_the_float32_floor_stops_unconverged_not_forever(generated):
    X, _, X_t, y_t = generated
    single = lbfgs(
        LOSS, zeros(X.shape[1], torch.float32), X_t.float(), y_t.float(), max_steps=500, tol=0.0
    )
    assert not single.converged
    assert single.steps < 100  # it stops where f cannot be lowered, long before max_steps
    assert np.all(np.isfinite(single.losses))
    assert np.all(np.diff(single.losses) < 0)


def test_lbfgs_finds_the_rosenbrock_minimum():
    """Non-convex: the line search must shorten and lengthen steps; minimum at (1, 1)."""

    def rosenbrock(w, X, y):
        return (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2

    X = torch.zeros(1, 1, dtype=torch.float64)
    start = [torch.tensor([-1.2, 1.0], dtype=torch.float64)]
    result = lbfgs(rosenbrock, start, X, X[:, 0], max_steps=200, tol=1e-10)
    assert result.converged
    np.testing.assert_allclose(result.params[0].numpy(), [1.0, 1.0], atol=1e-8)
    assert result.steps < 100


def test_a_non_finite_loss_raises(cancer):
    X, _, X_t, y_t = cancer
    with pytest.raises(FloatingPointError, match="diverged at step 0"):
        lbfgs(lambda w, b, X, y: (w @ w) / 0, zeros(X.shape[1]), X_t, y_t, max_steps=5, tol=0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_steps": 0}, r"^max_steps must be an int >= 1, got 0$"),
        ({"tol": -1e-3}, r"^tol must be a number >= 0, got -0.001$"),
        ({"history_size": 0}, r"^history_size must be an int >= 1, got 0$"),
        ({"history_size": True}, r"^history_size must be an int >= 1, got True$"),
    ],
)
def test_invalid_arguments(changes, message, cancer):
    X, _, X_t, y_t = cancer
    arguments = {"max_steps": 10, "tol": 1e-6} | changes
    with pytest.raises(ValueError, match=message):
        lbfgs(LOSS, zeros(X.shape[1]), X_t, y_t, **arguments)
