"""Entropy, cross-entropy, KL divergence, mutual information and log loss against SciPy and
scikit-learn, and the invariants of information theory (W4.3, W4.P2, W4.X1).

References: ``scipy.stats.entropy`` (H(p) and, with two arguments, KL(p || q)),
``sklearn.metrics.mutual_info_score`` (nats) and ``sklearn.metrics.log_loss``. All values
agree within 1e-12 absolute; inequalities (H <= log K, KL >= 0, IG >= 0) allow 1e-12 of
rounding.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn import metrics

from common.grading import grades
from projects.week4_tree_search.information import (
    conditional_entropy,
    contingency_table,
    cross_entropy,
    entropy,
    information_gain,
    kl_divergence,
    label_entropy,
    log_loss,
    mutual_information,
)

ATOL = 1e-12
BASES = [None, 2, 10]


def dirichlet(seed, K, zeros=0):
    """A random distribution over K outcomes, the first ``zeros`` of them impossible."""
    p = np.random.default_rng(seed).dirichlet(np.ones(K))
    p[:zeros] = 0.0
    return p / p.sum()


# W4.3, W4.P2: entropy, cross-entropy, KL against scipy.stats.entropy


@grades(entropy, cross_entropy, kl_divergence)
@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize(("seed", "K", "zeros"), [(0, 2, 0), (1, 5, 0), (2, 10, 3), (3, 100, 50)])
def test_entropy_and_kl_match_scipy(seed, K, zeros, base):
    p, q = dirichlet(seed, K, zeros), dirichlet(seed + 100, K)
    assert entropy(p, base) == pytest.approx(stats.entropy(p, base=base), abs=ATOL)
    assert kl_divergence(p, q, base) == pytest.approx(stats.entropy(p, q, base=base), abs=ATOL)
    # H(p, q) = H(p) + KL(p || q)
    expected = stats.entropy(p, base=base) + stats.entropy(p, q, base=base)
    assert cross_entropy(p, q, base) == pytest.approx(expected, abs=ATOL)


@grades(entropy, kl_divergence)
def test_counts_are_normalized_like_scipy():
    counts = np.array([3, 0, 5, 2])
    assert entropy(counts) == pytest.approx(stats.entropy(counts), abs=ATOL)
    assert entropy(counts) == pytest.approx(entropy(counts / 10), abs=ATOL)
    assert kl_divergence(counts, [1, 1, 1, 1]) == pytest.approx(
        stats.entropy(counts, [1, 1, 1, 1]), abs=ATOL
    )


@grades(entropy, cross_entropy, kl_divergence)
def test_hand_values_in_bits():
    assert entropy([0.5, 0.5], base=2) == pytest.approx(1.0, abs=ATOL)  # a fair coin: 1 bit
    assert entropy([0.25] * 4, base=2) == pytest.approx(2.0, abs=ATOL)
    assert entropy([1.0, 0.0]) == 0.0  # 0 log 0 = 0: a certain outcome carries no surprise
    assert cross_entropy([1, 0], [0.5, 0.5], base=2) == pytest.approx(1.0, abs=ATOL)
    assert kl_divergence([0.5, 0.5], [0.25, 0.75], base=2) == pytest.approx(
        0.5 * np.log2(2) + 0.5 * np.log2(2 / 3), abs=ATOL
    )


@pytest.mark.parametrize("K", [1, 2, 3, 7, 64])
def test_entropy_is_between_zero_and_log_K_with_the_uniform_at_the_top(K):
    for seed in range(20):
        H = entropy(dirichlet(seed, K))
        assert -ATOL <= H <= np.log(K) + ATOL
    assert entropy(np.ones(K)) == pytest.approx(np.log(K), abs=ATOL)
    assert entropy(np.eye(K)[0]) == 0.0


def test_kl_is_non_negative_zero_at_p_and_infinite_off_the_support():
    for seed in range(50):
        p, q = dirichlet(seed, 6), dirichlet(seed + 1, 6)
        assert kl_divergence(p, q) >= -ATOL
        assert kl_divergence(p, p) == pytest.approx(0.0, abs=ATOL)
        assert kl_divergence(p, q) != pytest.approx(kl_divergence(q, p), abs=1e-6)  # asymmetric
    assert kl_divergence([0.5, 0.5], [1.0, 0.0]) == np.inf
    assert cross_entropy([0.5, 0.5], [1.0, 0.0]) == np.inf
    assert kl_divergence([1.0, 0.0], [0.5, 0.5]) == pytest.approx(np.log(2), abs=ATOL)


def test_padding_with_impossible_outcomes_changes_nothing():
    p, q = dirichlet(7, 4), dirichlet(8, 4)
    assert entropy(np.r_[p, 0, 0]) == pytest.approx(entropy(p), abs=ATOL)
    assert kl_divergence(np.r_[p, 0], np.r_[q, 0.3]) >= kl_divergence(p, q) - ATOL


# W4.X1: mutual information of label arrays


def labels(seed, n, K):
    return np.random.default_rng(seed).integers(0, K, n)


@grades(mutual_information)
@pytest.mark.parametrize(
    ("seed", "n", "Kx", "Ky"), [(0, 10, 2, 2), (1, 200, 3, 4), (2, 1000, 8, 5)]
)
def test_mutual_information_matches_sklearn_and_the_entropy_identity(seed, n, Kx, Ky):
    x, y = labels(seed, n, Kx), labels(seed + 1, n, Ky)
    y = np.where(labels(seed + 2, n, 3) == 0, x % Ky, y)  # make X informative about Y
    mi = mutual_information(x, y)
    assert mi == pytest.approx(metrics.mutual_info_score(x, y), abs=ATOL)
    # I(X; Y) = H(X) + H(Y) - H(X, Y) = I(Y; X)
    joint = label_entropy([f"{a},{b}" for a, b in zip(x, y, strict=True)])
    assert mi == pytest.approx(label_entropy(x) + label_entropy(y) - joint, abs=ATOL)
    assert mi == pytest.approx(mutual_information(y, x), abs=ATOL)
    assert -ATOL <= mi <= min(label_entropy(x), label_entropy(y)) + ATOL
    assert mutual_information(x, y, base=2) == pytest.approx(mi / np.log(2), abs=ATOL)


@grades(mutual_information)
def test_mutual_information_extremes():
    x = np.array(["a", "b", "c", "a", "b", "c"])
    assert mutual_information(x, x) == pytest.approx(label_entropy(x), abs=ATOL)  # I(X;X) = H(X)
    # a crossed design: every (x, y) pair equally often, so X and Y are independent
    x, y = np.repeat([0, 1, 2], 4), np.tile([0, 1, 0, 1], 3)
    assert mutual_information(x, y) == pytest.approx(0.0, abs=ATOL)
    assert conditional_entropy(y, x) == pytest.approx(label_entropy(y), abs=ATOL)


def test_contingency_table_counts_pairs():
    table = contingency_table(["a", "b", "a", "a"], [1, 1, 2, 1])
    np.testing.assert_array_equal(table, [[2, 1], [1, 0]])
    np.testing.assert_array_equal(
        table, metrics.cluster.contingency_matrix(["a", "b", "a", "a"], [1, 1, 2, 1])
    )


@grades(information_gain)
def test_information_gain_by_hand():
    y = np.array([0, 0, 1, 1])
    assert information_gain(y, np.array([True, True, False, False]), base=2) == pytest.approx(1.0)
    assert information_gain(y, np.array([True, False, True, False])) == pytest.approx(0.0)
    assert information_gain(y, np.zeros(4, bool)) == 0.0  # an empty side: nothing learned
    # H(Y) = H(1/3, 2/3); the left child {0} is pure, the right {0, 1, 1} has H(1/3, 2/3)
    y = np.array([0, 0, 1, 1, 0, 1])
    left = np.array([True, False, False, False, False, False])
    expected = entropy([3, 3]) - 5 / 6 * entropy([2, 3])
    assert information_gain(y, left) == pytest.approx(expected, abs=ATOL)


split_cases = st.integers(1, 60).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 3), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
    )
)


@grades(information_gain, mutual_information)
@settings(max_examples=200, deadline=None)
@given(case=split_cases)
def test_information_gain_is_the_mutual_information_of_split_and_label(case):
    y, mask = np.array(case[0]), np.array(case[1])
    gain = information_gain(y, mask)
    assert gain >= -ATOL
    assert gain == pytest.approx(mutual_information(mask, y), abs=ATOL)
    assert gain == pytest.approx(metrics.mutual_info_score(mask, y), abs=ATOL)


# W4.P3: the log loss is the mean cross-entropy


@grades(log_loss)
def test_log_loss_matches_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 50)
    P = rng.dirichlet(np.ones(3), 50)
    assert log_loss(y, P) == pytest.approx(metrics.log_loss(y, P), abs=ATOL)
    # binary, a 1-D probability of the larger label, string labels
    y2 = np.array(["ham", "spam", "spam", "ham", "spam"])
    p = np.array([0.1, 0.9, 0.6, 0.3, 0.99])
    assert log_loss(y2, p) == pytest.approx(metrics.log_loss(y2, p), abs=ATOL)
    expected = -np.mean(np.where(y2 == "spam", np.log(p), np.log(1 - p)))  # BCE
    assert log_loss(y2, p) == pytest.approx(expected, abs=ATOL)
    # labels absent from y_true, named through labels=
    y3 = np.array([0, 2, 2])
    P3 = rng.dirichlet(np.ones(3), 3)
    assert log_loss(y3, P3, labels=[0, 1, 2]) == pytest.approx(
        metrics.log_loss(y3, P3, labels=[0, 1, 2]), abs=ATOL
    )


@grades(log_loss)
def test_log_loss_is_the_mean_cross_entropy_and_clips_certain_mistakes():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 20)
    P = rng.dirichlet(np.ones(4), 20)
    per_sample = [cross_entropy(np.eye(4)[k], p) for k, p in zip(y, P, strict=True)]
    assert log_loss(y, P) == pytest.approx(np.mean(per_sample), abs=ATOL)
    wrong = log_loss([0, 1], [[0.0, 1.0], [1.0, 0.0]])  # certain and wrong: clipped, not inf
    assert wrong == pytest.approx(-np.log(np.finfo(np.float64).eps), abs=ATOL)
    assert wrong == pytest.approx(metrics.log_loss([0, 1], [[0.0, 1.0], [1.0, 0.0]]), abs=ATOL)


# Bad input


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: entropy([0.5, -0.1, 0.6]),
            r"p must be >= 0 \(probabilities or counts\), got -0.1",
        ),
        (lambda: entropy([]), r"p must be a non-empty 1-D array, got shape \(0,\)"),
        (lambda: entropy([[0.5, 0.5]]), r"p must be a non-empty 1-D array, got shape \(1, 2\)"),
        (lambda: entropy([0, 0]), "p sums to 0"),
        (lambda: entropy([0.5, np.nan]), "p must be finite, got nan"),
        (lambda: entropy([0.5, 0.5], base=1), "base must be a finite number > 0 other than 1"),
        (lambda: entropy([0.5, 0.5], base=-2), "base must be"),
        (
            lambda: kl_divergence([0.5, 0.5], [1, 0, 0]),
            "p and q must have the same length, got 2 and 3",
        ),
        (lambda: cross_entropy([0.5, 0.5], [-1, 2]), "q must be >= 0"),
        (
            lambda: mutual_information([1, 2, 3], [1, 2]),
            "x and y must have the same length, got 3 and 2",
        ),
        (lambda: mutual_information([], [1]), "x must be a non-empty 1-D array of labels"),
        (
            lambda: information_gain([0, 1], [1, 0]),
            "left_mask must be a boolean array, got dtype int",
        ),
        (lambda: information_gain([0, 1], [True]), "left_mask must have one entry per label"),
        (lambda: information_gain([], np.array([], bool)), "y must be a non-empty 1-D array"),
        (lambda: log_loss([0, 1], [0.5]), r"proba must have one row per label, got shape \(1, 2\)"),
        (lambda: log_loss([0, 1], [0.5, 1.5]), r"proba must hold probabilities in \[0, 1\]"),
        (lambda: log_loss([0, 1], [[0.2, 0.3, 0.5]] * 2), "proba has 3 columns but there are 2"),
        (lambda: log_loss([0, 3], [[0.5, 0.5]] * 2, labels=[0, 1]), "y_true has labels outside"),
    ],
)
def test_bad_input_is_rejected_with_what_was_wrong(call, match):
    with pytest.raises(ValueError, match=match):
        call()
