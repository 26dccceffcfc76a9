"""Feature selection by mutual information with the label (W4.X4).

Each continuous feature x_j is cut into B bins at the quantiles of the training values
(about n / B samples per bin), and scored by the plug-in estimate of its mutual information
with the label on the binned values a_ij:

    I(X_j; Y) = H(Y) - H(Y | X_j) = sum_ab p(a, b) log(p(a, b) / (p(a) p(b)))   (nats)

with p the empirical frequencies (``information.mutual_information``). The features are
ranked by I, largest first; a feature that tells nothing about the label scores 0. The
ranking looks at one feature at a time: two copies of the best feature both rank high,
though the second adds nothing (a filter method; wrappers and mRMR account for
redundancy).

Sources:
- T. M. Cover, J. A. Thomas, "Elements of Information Theory", 2nd ed. (2006), 2.3-2.4.
- I. Guyon, A. Elisseeff, "An introduction to variable and feature selection", JMLR 3
  (2003).
"""

import numpy as np

from common.exercises import exercise
from projects.week4_tree_search.information import mutual_information


def quantile_edges(X, n_bins):
    """The inner bin edges of each feature, at its quantiles 1/B, ..., (B-1)/B: (B-1, p)."""
    if n_bins < 2:
        raise ValueError(f"n_bins must be >= 2, got {n_bins}")
    return np.quantile(np.asarray(X, dtype=np.float64), np.arange(1, n_bins) / n_bins, axis=0)


@exercise("W4.X4", hint="np.searchsorted(edges[:, j], X[:, j], side='right') bins column j")
def discretize(X, edges):
    """a_ij = #{edges of feature j <= x_ij} for X (n, p) and inner edges (B-1, p): the bin of
    each value, 0 ... B-1, shape (n, p)."""
    X = np.asarray(X, dtype=np.float64)
    return np.stack(
        [np.searchsorted(edges[:, j], X[:, j], side="right") for j in range(X.shape[1])], axis=1
    )


@exercise("W4.X4", hint="one mutual_information(column, y) per column")
def mutual_information_scores(codes, y):
    """I(A_j; Y) in nats for every column j of the discrete ``codes`` (n, p) and labels y
    (n,), shape (p,)."""
    return np.array([mutual_information(codes[:, j], y) for j in range(codes.shape[1])])


def rank_features(scores):
    """Feature indices by score, largest first; equal scores: the lower index first."""
    return np.argsort(-np.asarray(scores), kind="stable")
