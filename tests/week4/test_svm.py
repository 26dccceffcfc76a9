"""The linear SVM trained on its primal (autograd gradients, L-BFGS) against
``sklearn.svm.SVC`` (W4.5).

Reference: ``SVC(kernel="linear", tol=1e-10, shrinking=False)`` on the same points. libsvm
keeps its kernel matrix in float32, so its solution is good to about 1e-6 relative; ours is
within C n tau log 2 of the optimum (tau = 1e-7, the last smoothing stage). Tolerances:
objective 1e-5 relative, margin 2 / ||w|| 5e-5 relative, w 1e-4 absolute; the support
vectors {i: y_i f(x_i) <= 1 + 1e-4} are exactly SVC's ``support_`` where the dual is
unique (no repeated points, no degenerate margin).
"""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from sklearn.svm import SVC

from common.grading import grades
from projects.week4_tree_search import svm

IRIS = load_iris()
PETALS = [2, 3]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def fit_both(classes, C):
    X, y = svm.two_class_points(IRIS.data, IRIS.target, classes, PETALS)
    w, b, objectives = svm.fit_linear_svm(X, y, C)
    reference = SVC(kernel="linear", C=C, tol=1e-10, shrinking=False).fit(X, y)
    return X, y, w, b, objectives, reference


@pytest.mark.parametrize(
    ("classes", "C"),
    [([1, 2], 10.0), ([1, 2], 0.1), ([0, 1], 10.0), ([0, 2], 1.0)],
    ids=[
        "versicolor-virginica-C10",
        "versicolor-virginica-C0.1",
        "setosa-versicolor",
        "setosa-virginica",
    ],
)
@grades(svm.hinge_objective, svm.margin)
def test_objective_margin_and_support_vectors_match_svc(classes, C):
    X, y, w, b, objectives, reference = fit_both(classes, C)
    w_ref, b_ref = reference.coef_[0], reference.intercept_[0]
    theirs = svm.hinge_objective(X, y, w_ref, b_ref, C)
    assert objectives[-1] == pytest.approx(theirs, rel=1e-5)
    assert objectives[-1] <= theirs * (1 + 1e-6)  # ours is the better optimum, if anything
    assert svm.margin(w) == pytest.approx(svm.margin(w_ref), rel=5e-5)
    np.testing.assert_allclose(w, w_ref, rtol=0, atol=1e-4)
    assert set(svm.support_vectors(X, y, w, b)) == set(reference.support_)


@grades(svm.hinge_objective, svm.margin)
def test_objective_is_the_hinge_losses_plus_half_the_squared_norm():
    X = np.array([[0.0, 0.0], [2.0, 0.0], [0.5, 0.0]])
    y = np.array([-1.0, 1.0, 1.0])
    w, b = np.array([1.0, 0.0]), -1.0  # f = -1, 1, -0.5: losses 0, 0, 1.5
    assert svm.hinge_objective(X, y, w, b, C=2.0) == pytest.approx(2.0 * 1.5 + 0.5)
    assert svm.margin(w) == pytest.approx(2.0)
    assert svm.support_vectors(X, y, w, b).tolist() == [0, 1, 2]


@grades(svm.hinge_objective, svm.margin)
def test_hard_margin_of_two_points_is_their_distance():
    # two points 2 apart: w = (1, 0), b = 0 puts both on the margin, 2 / ||w|| = 2
    X, y = np.array([[-1.0, 0.0], [1.0, 0.0]]), np.array([-1.0, 1.0])
    w, b, _ = svm.fit_linear_svm(X, y, C=100.0)
    np.testing.assert_allclose(w, [1.0, 0.0], atol=1e-6)
    assert abs(b) < 1e-6
    assert svm.margin(w) == pytest.approx(2.0, rel=1e-6)


def test_each_smoothing_stage_lowers_the_exact_objective_to_within_the_bound():
    X, y, _, _, objectives, reference = fit_both([1, 2], 10.0)
    optimum = svm.hinge_objective(X, y, reference.coef_[0], reference.intercept_[0], 10.0)
    assert np.all(np.diff(objectives) <= 1e-9)
    assert objectives[-1] - optimum <= 10.0 * len(y) * svm.TAUS[-1] * np.log(2)


def test_repeated_points_are_dropped():
    X, y = svm.two_class_points(IRIS.data, IRIS.target, [1, 2], PETALS)
    assert len(np.unique(np.column_stack([X, y]), axis=0)) == len(X) < 100
    assert set(y) == {-1.0, 1.0}


@pytest.mark.parametrize(
    ("y", "C", "match"),
    [
        ([1, 1], 1.0, r"^y must be a 1-D array of -1 and \+1 \(both\), got \[1.\]$"),
        ([0, 1], 1.0, r"^y must be a 1-D array of -1 and \+1 \(both\), got \[0. 1.\]$"),
        ([-1, 1], 0.0, r"^C must be a finite number > 0, got 0.0$"),
        ([-1, 1], np.inf, r"^C must be a finite number > 0, got inf$"),
    ],
)
def test_bad_input_is_rejected(y, C, match):
    with pytest.raises(ValueError, match=match):
        svm.fit_linear_svm(np.eye(2), np.array(y, dtype=float), C)
