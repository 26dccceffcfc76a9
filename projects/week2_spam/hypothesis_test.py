"""McNemar's test: do two classifiers scored on the same messages make different errors?

Model. Score both classifiers on the same n messages and count the discordant pairs

    b = #{A right, B wrong},    c = #{A wrong, B right}.

Messages both get right (or both get wrong) say nothing about which is better. Under the
null hypothesis that A and B have the same error rate, each discordant message is A's win
with probability 1/2, so b ~ Binomial(b + c, 1/2) given b + c, and the two-sided p-value is

- exact:       p = min(1, 2 P(Binomial(b + c, 1/2) <= min(b, c))),
- asymptotic:  chi^2 = (|b - c| - 1)^2 / (b + c), p = P(chi^2_1 >= chi^2)
  (the normal approximation with Edwards' continuity correction),

with the exact form used when b + c < 25, where the approximation is poor; b + c = 0 (the
two never disagree) gives p = 1.

Counting (W2.X4). The exact tail is a sum of binomial coefficients. Of the n = b + c
discordant messages, the ways to choose which i are A's wins are

    C(n, i) = n! / (i! (n - i)!) = P(n, i) / i!,

the P(n, i) = n! / (n - i)! ordered picks (permutations) of i messages, divided by the i!
orders of each set. Each of the 2^n win/loss sequences has probability (1/2)^n under H0, so

    P(Binomial(n, 1/2) <= k) = sum_{i=0}^{k} C(n, i) / 2^n,

an integer over a power of two: computed in exact integer arithmetic, then rounded once.

Sources:
- Q. McNemar, "Note on the sampling error of the difference between correlated
  proportions or percentages", Psychometrika 12(2) (1947), 153-157.
- A. L. Edwards, "Note on the 'correction for continuity' in testing the significance of
  the difference between correlated proportions", Psychometrika 13(3) (1948), 185-187.
- T. G. Dietterich, "Approximate statistical tests for comparing supervised classification
  learning algorithms", Neural Computation 10(7) (1998), 1895-1923 (McNemar for classifiers).
- A. Agresti, "Categorical Data Analysis", 3rd ed. (2013), section 11.1.
"""

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy import stats

from common.exercises import exercise

EXACT_BELOW = 25  # b + c below this: exact binomial test (Dietterich 1998, Agresti 11.1)


@dataclass(frozen=True)
class McNemarResult:
    """b, c: discordant counts; statistic: min(b, c) (exact) or chi^2 (asymptotic).

    chi2: McNemar's continuity-corrected chi^2 of b and c, whichever test gave the p-value.
    """

    b: int
    c: int
    statistic: float
    p_value: float
    method: str
    chi2: float


@exercise("W2.X2", hint="two boolean arrays, right_a and right_b; count where they disagree")
def discordant_counts(y_true, pred_a, pred_b):
    """(b, c) = (#{A right, B wrong}, #{A wrong, B right}) over the same messages.

    y_true, pred_a, pred_b: shape (n,) each, labels of any type; returns two ints.
    """
    y_true, pred_a, pred_b = (np.asarray(v) for v in (y_true, pred_a, pred_b))
    if not y_true.ndim == pred_a.ndim == pred_b.ndim == 1 or not (
        len(y_true) == len(pred_a) == len(pred_b)
    ):
        raise ValueError(
            "y_true, pred_a and pred_b must be 1-D and of one length, got shapes "
            f"{y_true.shape}, {pred_a.shape}, {pred_b.shape}"
        )
    right_a, right_b = pred_a == y_true, pred_b == y_true
    return int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))


@exercise("W2.X4", hint="math.comb(n, i) counts the sequences; Fraction(ways, 2**n) is exact")
def binomial_tail_half(k, n):
    """P(Binomial(n, 1/2) <= k) = sum_{i=0}^{k} C(n, i) / 2^n, as an exact fraction.

    C(n, i) = n! / (i! (n - i)!): the win/loss sequences of n discordant messages in which
    A wins i times. k, n: integers, n >= 0 (k >= n: the whole mass, 1); returns a
    ``fractions.Fraction``.
    """
    if not all(isinstance(v, int | np.integer) for v in (k, n)) or n < 0:
        raise ValueError(f"k and n must be integers with n >= 0, got k={k!r}, n={n!r}")
    k, n = int(k), int(n)  # Python integers: 2**n must not overflow int64
    ways = sum(math.comb(n, i) for i in range(min(k, n) + 1))  # sequences with <= k wins of A
    return Fraction(ways, 2**n)


def exact_p_value(b, c):
    """p = min(1, 2 P(Binomial(b + c, 1/2) <= min(b, c))); 1 when b + c = 0."""
    return float(min(Fraction(1), 2 * binomial_tail_half(min(b, c), b + c)))


@exercise("W2.X2", hint="guard b + c = 0 first: no discordant pair, no evidence, statistic 0")
def chi2_statistic(b, c):
    """McNemar's chi^2 = (|b - c| - 1)^2 / (b + c), continuity corrected; 0 when b + c = 0.

    b, c: the discordant counts (ints); returns a float, about chi^2 with 1 degree of
    freedom under H0 when b + c is large.
    """
    return (abs(b - c) - 1) ** 2 / (b + c) if b + c else 0.0


def mcnemar(y_true, pred_a, pred_b, exact=None):
    """McNemar's test of H0: A and B have the same error rate on these messages.

    exact=None chooses the exact binomial test when b + c < 25 and the continuity-corrected
    chi-squared test (1 degree of freedom) otherwise; True or False forces one.
    """
    if exact not in (None, True, False):
        raise ValueError(f"exact must be None, True or False, got {exact!r}")
    b, c = discordant_counts(y_true, pred_a, pred_b)
    chi2 = float(chi2_statistic(b, c))
    if b + c == 0:  # no discordant pair: no evidence either way
        return McNemarResult(b, c, 0.0, 1.0, "no discordant pairs", chi2)
    if exact or (exact is None and b + c < EXACT_BELOW):
        p_value = exact_p_value(b, c)
        return McNemarResult(b, c, float(min(b, c)), p_value, "exact binomial", chi2)
    p_value = float(stats.chi2.sf(chi2, df=1))
    return McNemarResult(b, c, chi2, p_value, "chi-squared, continuity corrected", chi2)
