"""McNemar's test against independent computations and textbook numbers.

References: scipy.stats.binomtest(b, b + c, 0.5) for the exact p-value (rtol 1e-12), and
its binomial coefficients counted by enumerating every win/loss sequence (exactly);
scipy.stats.chi2.sf and the closed form P(chi^2_1 > s) = erfc(sqrt(s / 2)) for the
asymptotic one (rtol 1e-12); two examples worked by hand.
"""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from common.grading import grades
from projects.week2_spam.hypothesis_test import (
    binomial_tail_half,
    chi2_statistic,
    discordant_counts,
    exact_p_value,
    mcnemar,
)


def predictions(both_right, b, c, both_wrong, seed=0):
    """y_true, pred_a, pred_b with the four cells of the 2 x 2 table, rows shuffled."""
    y_true = np.resize(np.array(["spam", "ham"], dtype=object), both_right + b + c + both_wrong)
    flip = {"spam": "ham", "ham": "spam"}
    wrong = np.array([flip[v] for v in y_true], dtype=object)
    cells = [(1, 1)] * both_right + [(1, 0)] * b + [(0, 1)] * c + [(0, 0)] * both_wrong
    right_a, right_b = np.array(cells, dtype=bool).reshape(-1, 2).T
    order = np.random.default_rng(seed).permutation(len(y_true))
    pred_a = np.where(right_a, y_true, wrong)
    pred_b = np.where(right_b, y_true, wrong)
    return y_true[order], pred_a[order], pred_b[order]


def counted_by_hand(y_true, pred_a, pred_b):
    b = sum(a == t != p for t, a, p in zip(y_true, pred_a, pred_b, strict=True))
    c = sum(a != t == p for t, a, p in zip(y_true, pred_a, pred_b, strict=True))
    return b, c


@grades(discordant_counts)
@pytest.mark.parametrize(("b", "c"), [(0, 1), (1, 6), (3, 3), (10, 2), (0, 24), (12, 12)])
def test_small_counts_use_the_exact_binomial_test(b, c):
    data = predictions(50, b, c, 7)
    result = mcnemar(*data)
    assert (result.b, result.c) == counted_by_hand(*data) == (b, c)
    assert result.method == "exact binomial"
    assert result.p_value == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue, rel=1e-12)


@grades(discordant_counts, chi2_statistic)
@pytest.mark.parametrize(("b", "c"), [(20, 5), (13, 12), (40, 60), (150, 86), (0, 30)])
def test_large_counts_use_the_corrected_chi_squared(b, c):
    result = mcnemar(*predictions(30, b, c, 4))
    statistic = (abs(b - c) - 1) ** 2 / (b + c)
    assert result.method == "chi-squared, continuity corrected"
    assert result.chi2 == result.statistic
    assert result.statistic == pytest.approx(statistic, rel=1e-12)
    assert result.p_value == pytest.approx(stats.chi2.sf(statistic, df=1), rel=1e-12)
    assert result.p_value == pytest.approx(math.erfc(math.sqrt(statistic / 2)), rel=1e-12)


def test_hand_worked_exact_example():
    # b = 1, c = 6: p = 2 (C(7,0) + C(7,1)) / 2^7 = 2 * 8 / 128 = 0.125
    result = mcnemar(*predictions(20, 1, 6, 3))
    assert (result.b, result.c, result.statistic) == (1, 6, 1.0)
    assert result.p_value == pytest.approx(0.125, rel=1e-12)


@grades(chi2_statistic)
def test_hand_worked_textbook_chi_squared_example():
    # Agresti (2013), table 11.1, presidential approval in two surveys: b = 150, c = 86.
    # Corrected: (|150 - 86| - 1)^2 / 236 = 63^2 / 236 = 16.8178; p = 4.11e-5.
    result = mcnemar(*predictions(794, 150, 86, 570))
    assert result.statistic == pytest.approx(3969 / 236, rel=1e-12)
    assert result.p_value == pytest.approx(4.11e-5, rel=1e-2)


@grades(chi2_statistic)
def test_no_discordant_pair_gives_p_one():
    result = mcnemar(*predictions(40, 0, 0, 5))
    assert (result.b, result.c, result.p_value, result.chi2) == (0, 0, 1.0, 0.0)
    assert mcnemar(*predictions(40, 0, 0, 5), exact=False).p_value == 1.0


def test_threshold_and_forcing():
    assert mcnemar(*predictions(10, 14, 10, 0)).method == "exact binomial"  # b + c = 24
    assert mcnemar(*predictions(10, 15, 10, 0)).method.startswith("chi-squared")  # 25
    forced_exact = mcnemar(*predictions(10, 150, 86, 0), exact=True)
    assert forced_exact.p_value == pytest.approx(stats.binomtest(150, 236, 0.5).pvalue)
    forced_chi2 = mcnemar(*predictions(10, 1, 6, 0), exact=False)
    assert forced_chi2.p_value == pytest.approx(stats.chi2.sf(16 / 7, df=1))  # (5 - 1)^2 / 7


def test_invalid_input_is_rejected():
    with pytest.raises(ValueError, match=r"1-D and of one length, got shapes \(3,\), \(2,\)"):
        mcnemar([1, 0, 1], [1, 0], [1, 1])
    with pytest.raises(ValueError, match="exact must be None, True or False, got 'yes'"):
        mcnemar([1], [1], [1], exact="yes")


@grades(chi2_statistic)
@pytest.mark.parametrize(("b", "c"), [(0, 1), (1, 6), (12, 12), (150, 86)])
def test_the_chi_squared_is_reported_with_the_exact_test_too(b, c):
    result = mcnemar(*predictions(10, b, c, 2), exact=True)
    assert result.method == "exact binomial"
    assert result.chi2 == pytest.approx((abs(b - c) - 1) ** 2 / (b + c), rel=1e-12)


@grades(discordant_counts)
@settings(max_examples=150, deadline=None)
@given(
    b=st.integers(0, 60),
    c=st.integers(0, 60),
    exact=st.sampled_from([None, True, False]),
)
def test_p_value_is_a_probability_and_symmetric(b, c, exact):
    y_true, pred_a, pred_b = predictions(5, b, c, 5)
    result = mcnemar(y_true, pred_a, pred_b, exact=exact)
    swapped = mcnemar(y_true, pred_b, pred_a, exact=exact)
    assert 0 <= result.p_value <= 1
    assert (swapped.b, swapped.c) == (c, b)
    assert swapped.p_value == pytest.approx(result.p_value, rel=1e-12)
    if b + c and (exact or (exact is None and b + c < 25)):
        assert result.p_value == pytest.approx(stats.binomtest(b, b + c).pvalue, rel=1e-12)


# W2.X4: the exact p-value by counting


@grades(binomial_tail_half)
@pytest.mark.parametrize("n", range(0, 13))
def test_binomial_tail_counts_the_win_loss_sequences(n):
    sequences = list(itertools.product((0, 1), repeat=n))  # all 2^n, each of probability 2^-n
    assert len(sequences) == 2**n
    for k in range(n + 1):
        with_k_wins = sum(sum(s) == k for s in sequences)
        assert with_k_wins == math.comb(n, k) == math.perm(n, k) // math.factorial(k)
        assert with_k_wins == len(list(itertools.combinations(range(n), k)))
        at_most_k = sum(sum(s) <= k for s in sequences)
        assert binomial_tail_half(k, n) == Fraction(at_most_k, 2**n)


@grades(binomial_tail_half)
@pytest.mark.parametrize(
    ("b", "c"), [(0, 1), (1, 6), (3, 3), (10, 2), (0, 24), (40, 60), (150, 86), (7, 300)]
)
def test_exact_p_value_by_counting_matches_scipy_binomtest(b, c):
    assert exact_p_value(b, c) == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue, rel=1e-12)


def test_binomial_tail_refuses_non_integers():
    with pytest.raises(ValueError, match=r"must be integers with n >= 0, got k=1\.5"):
        binomial_tail_half(1.5, 4)
    with pytest.raises(ValueError, match=r"^k and n must be integers with n >= 0, got k=0, n=-1$"):
        binomial_tail_half(0, -1)
