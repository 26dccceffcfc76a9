"""Mutual-information feature ranking against ``sklearn.feature_selection`` (W4.X4).

Reference: ``mutual_info_classif(codes, y, discrete_features=True)`` on the same binned
features (its discrete path is the plug-in estimate, no noise, no k-NN): scores within
1e-12 nats, the same ranking. Bins: ``np.digitize`` on the same edges.
"""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.feature_selection import mutual_info_classif

from common.grading import grades
from projects.week4_tree_search import feature_selection as fs


@grades(fs.discretize, fs.mutual_information_scores)
@pytest.mark.parametrize("load", [load_breast_cancer, load_wine])
@pytest.mark.parametrize("n_bins", [2, 8, 16])
def test_scores_and_ranking_match_sklearn_on_binned_features(load, n_bins):
    X, y = load(return_X_y=True)
    codes = fs.discretize(X, fs.quantile_edges(X, n_bins))
    ours = fs.mutual_information_scores(codes, y)
    theirs = mutual_info_classif(codes, y, discrete_features=True)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(fs.rank_features(ours), fs.rank_features(theirs))


@grades(fs.discretize)
def test_bins_are_numpy_digitize_and_about_equally_full():
    X = np.random.default_rng(0).standard_normal((1000, 3))
    edges = fs.quantile_edges(X, 4)
    codes = fs.discretize(X, edges)
    for j in range(3):
        np.testing.assert_array_equal(codes[:, j], np.digitize(X[:, j], edges[:, j]))
        np.testing.assert_array_equal(np.bincount(codes[:, j]), [250] * 4)


@grades(fs.discretize, fs.mutual_information_scores)
def test_a_copy_of_the_label_ranks_first_and_noise_scores_near_zero():
    rng = np.random.default_rng(0)
    y = rng.permutation(np.repeat([0, 1, 2], 1000))  # tertile edges fall between classes
    X = np.column_stack([rng.standard_normal(3000), y + 0.1 * rng.standard_normal(3000)])
    scores = fs.mutual_information_scores(fs.discretize(X, fs.quantile_edges(X, 3)), y)
    assert fs.rank_features(scores).tolist() == [1, 0]
    assert scores[1] == pytest.approx(np.log(3), abs=0.01)  # I = H(Y) = log 3 nats
    assert scores[0] < 0.01


def test_ties_rank_the_lower_index_first():
    assert fs.rank_features([0.5, 0.9, 0.5, 0.9]).tolist() == [1, 3, 0, 2]


def test_one_bin_is_rejected():
    with pytest.raises(ValueError, match="n_bins must be >= 2"):
        fs.quantile_edges(np.zeros((3, 2)), 1)
