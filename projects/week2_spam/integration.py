"""Integration: densities integrate to one, probabilities are areas, ROC AUC is an integral.

Model. A density f of a continuous random variable satisfies int f(x) dx = 1 and
P(l <= X <= u) = int_l^u f(x) dx, the area under f over [l, u]; a pmf sums to one (the
integral with respect to counting). The trapezoid rule approximates an integral from
samples y_j = f(x_j) on a grid x_0 < x_1 < ... < x_m:

    int f(x) dx ~ T = sum_j (x_{j+1} - x_j) (y_j + y_{j+1}) / 2,

exact for a piecewise linear f; on a uniform grid of step h over [l, u] with f twice
differentiable the error is at most (u - l) h^2 max |f''| / 12.

The ROC curve of a score s is the path of (false positive rate, true positive rate) as the
threshold t falls from +inf to -inf; it is piecewise linear between the thresholds at the
distinct scores (a tie moves both rates at once, a diagonal step), so the trapezoid rule
gives its area exactly:

    AUC = int_0^1 TPR d(FPR) = P(s(spam) > s(ham)) + P(s(spam) = s(ham)) / 2,

the Mann-Whitney probability that a random spam message outscores a random ham one.

Sources:
- R. L. Burden, J. D. Faires, "Numerical Analysis", 9th ed. (2010), section 4.3 (the
  trapezoid rule and its error term).
- T. Fawcett, "An introduction to ROC analysis", Pattern Recognition Letters 27 (2006),
  861-874 (the curve, its area by trapezoids, the Mann-Whitney reading).
"""

import numpy as np
import pandas as pd
from scipy import integrate, stats

from common.exercises import exercise

TAIL = 1e-12  # the trapezoid grid of an unbounded density stops where this mass is left out


@exercise("W2.X5", hint="np.diff(x) gives the widths; average neighbouring heights")
def trapezoid(y, x):
    """T = sum_j (x_{j+1} - x_j) (y_j + y_{j+1}) / 2 over the sorted grid x.

    y, x: shape (m + 1,), m >= 1, y_j = f(x_j); returns a float, about int f(x) dx.
    """
    y, x = np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64)
    if y.shape != x.shape or y.ndim != 1 or len(x) < 2:
        raise ValueError(f"x and y must be 1-D, of one length >= 2, got {x.shape} and {y.shape}")
    return float(np.sum(np.diff(x) * (y[:-1] + y[1:]) / 2))


def is_discrete(dist):
    """True for a frozen ``scipy.stats`` pmf, False for a density."""
    return isinstance(dist.dist, stats.rv_discrete)


def total_mass(dist, points=20_001):
    """(by quad, by the trapezoid rule) of int f over the support; a pmf: (sum_k P(k), same).

    quad integrates over the whole support (infinite ends included); the trapezoid rule
    uses ``points`` equally spaced points from ppf(TAIL) to ppf(1 - TAIL), clipped to the
    support, so it misses at most 2 TAIL of the mass. A pmf is summed over the integers
    of its support up to ppf(1 - TAIL), twice equal.
    """
    low, high = dist.support()
    if is_discrete(dist):
        k = np.arange(low, min(high, dist.ppf(1 - TAIL)) + 1)
        total = float(np.sum(dist.pmf(k)))
        return total, total
    by_quad, _ = integrate.quad(dist.pdf, low, high, limit=200)
    x = np.linspace(max(low, dist.ppf(TAIL)), min(high, dist.ppf(1 - TAIL)), points)
    return float(by_quad), trapezoid(dist.pdf(x), x)


def mass_table(distributions, points=20_001):
    """One row per named distribution: kind, the two totals of ``total_mass`` and |total - 1|."""
    rows = []
    for name, dist in distributions.items():
        by_quad, by_trapezoid = total_mass(dist, points)
        rows.append(
            {
                "distribution": name,
                "kind": "pmf (sum)" if is_discrete(dist) else "pdf (integral)",
                "quad": by_quad,
                "trapezoid": by_trapezoid,
                "max_abs_error": max(abs(by_quad - 1), abs(by_trapezoid - 1)),
            }
        )
    return pd.DataFrame(rows)


def area(dist, low, high):
    """P(low <= X <= high) = int_low^high f(x) dx, by ``scipy.integrate.quad``."""
    return float(integrate.quad(dist.pdf, low, high)[0])


@exercise("W2.X5", hint="sort by score descending; cumsum the labels; keep the last of each tie")
def roc_points(is_positive, score):
    """(FPR, TPR) at every distinct threshold, from (0, 0) to (1, 1), counted by hand.

    Sorting by score descending, after the j-th distinct score TP_j and FP_j are the
    positives and negatives scored at least that high; TPR = TP / P, FPR = FP / N.
    is_positive (bool), score: shape (n,), both classes present; returns (fpr, tpr), each
    of shape (n_distinct_scores + 1,), starting at 0 and ending at 1.
    """
    y = np.asarray(is_positive, dtype=bool)
    score = np.asarray(score, dtype=np.float64)
    if y.shape != score.shape or y.ndim != 1 or y.all() or not y.any():
        raise ValueError("an ROC curve needs 1-D labels and scores of one length, both classes")
    order = np.argsort(-score, kind="stable")
    y, score = y[order], score[order]
    last = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]  # end of each run of ties
    tp, fp = np.cumsum(y)[last], np.cumsum(~y)[last]
    return np.r_[0.0, fp / fp[-1]], np.r_[0.0, tp / tp[-1]]


def roc_auc_by_trapezoid(is_positive, score):
    """AUC = int_0^1 TPR d(FPR), the trapezoid rule over ``roc_points`` (exact: linear pieces)."""
    fpr, tpr = roc_points(is_positive, score)
    return trapezoid(tpr, fpr)
