"""Simulated probability against exact theory, with tolerances derived from the sample size.

A simulated estimate is checked to within 5 of its standard errors: a correct formula fails
such a check with probability about 6e-7 per comparison, so the seeded tests below are
stable, and a wrong mean, variance or standard error (off by more than a few percent at
these sample sizes) fails them. Hand formulas against NumPy/pandas use 1e-12; groupby
counts against the fitted models' class counts are exact.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import naive_bayes as sk_nb
from sklearn.feature_extraction.text import CountVectorizer

from common.grading import grades
from projects.week2_spam.naive_bayes import BernoulliNaiveBayes, MultinomialNaiveBayes
from projects.week2_spam.probability import (
    DISTRIBUTIONS,
    class_priors,
    class_statistics,
    coin_tosses,
    correlation,
    correlation_matrix,
    covariance,
    dice_rolls,
    empirical_pmf,
    feature_correlations,
    ks_distance_to_normal,
    message_features,
    moments_table,
    running_mean,
    sample_means,
    sample_moments,
    standard_errors,
)
from tests.week2.test_vectorizer import sms_messages

Z_MAX = 5.0  # standard errors
SEEDS = [0, 1, 2, 3]
NAMES = list(DISTRIBUTIONS)


# W2.2, W2.3: moments of the six distributions


@grades(sample_moments, standard_errors)
@pytest.mark.parametrize("seed", SEEDS)
def test_sample_moments_are_within_five_standard_errors_of_the_exact_ones(seed):
    n = 20_000
    table = moments_table(np.random.default_rng(seed), n)
    assert list(table.index) == NAMES
    for name, (_, dist) in DISTRIBUTIONS.items():
        row = table.loc[name]
        assert row["mean"] == pytest.approx(dist.mean(), rel=1e-12)
        assert row["var"] == pytest.approx(dist.var(), rel=1e-12)
        assert row["se_mean"] == pytest.approx(dist.std() / np.sqrt(n), rel=1e-12)
        assert abs(row["sample_mean"] - row["mean"]) < Z_MAX * row["se_mean"], name
        assert abs(row["sample_var"] - row["var"]) < Z_MAX * row["se_var"], name
        assert row["z_mean"] == pytest.approx((row["sample_mean"] - row["mean"]) / row["se_mean"])
        assert row["z_var"] == pytest.approx((row["sample_var"] - row["var"]) / row["se_var"])


@grades(sample_moments)
def test_the_sample_moments_are_those_of_the_draws_with_ddof_one():
    n, table = 5, moments_table(np.random.default_rng(3), 5)  # at n = 5, ddof matters by 25%
    rng = np.random.default_rng(3)  # the same draws, in the same order
    for name, (sampler, _) in DISTRIBUTIONS.items():
        x = sampler(rng, n)
        assert table.loc[name, "sample_mean"] == pytest.approx(np.mean(x), rel=1e-12)
        assert table.loc[name, "sample_var"] == pytest.approx(np.var(x, ddof=1), rel=1e-12)


def test_the_exact_moments_are_the_textbook_ones():
    exact = {
        "normal": (0.0, 1.0),
        "uniform": (0.5, 1 / 12),
        "Bernoulli": (0.3, 0.3 * 0.7),
        "binomial": (10 * 0.3, 10 * 0.3 * 0.7),
        "Poisson": (4.0, 4.0),
        "exponential": (1.0, 1.0),
    }
    assert set(exact) == set(DISTRIBUTIONS)
    for name, (mean, var) in exact.items():
        _, dist = DISTRIBUTIONS[name]
        assert (dist.mean(), dist.var()) == pytest.approx((mean, var), rel=1e-12), name


@grades(standard_errors)
def test_standard_error_of_the_variance_has_the_normal_closed_form():
    n = 25  # for N(0, sigma^2), mu_4 = 3 sigma^4 and Var(S^2) = 2 sigma^4 / (n - 1)
    se_var = moments_table(np.random.default_rng(0), n).loc["normal", "se_var"]
    assert se_var == pytest.approx(np.sqrt(2 / (n - 1)), rel=1e-12)


@grades(standard_errors)
@pytest.mark.parametrize("name", NAMES)
def test_standard_error_of_the_variance_matches_the_spread_of_simulated_variances(name):
    n, repeats = 20, 20_000
    rng = np.random.default_rng(7)
    sampler, dist = DISTRIBUTIONS[name]
    s2 = sampler(rng, (repeats, n)).var(axis=1, ddof=1)  # S^2 of 20,000 samples of size 20
    se_var = moments_table(rng, n).loc[name, "se_var"]
    assert abs(s2.mean() - dist.var()) < Z_MAX * se_var / np.sqrt(repeats)  # E[S^2] = sigma^2
    # the sample sd of R values has relative standard error sqrt((kurtosis - 1) / (4 R))
    relative_se = np.sqrt((stats.kurtosis(s2, fisher=False) - 1) / (4 * repeats))
    assert abs(s2.std(ddof=1) / se_var - 1) < Z_MAX * relative_se


def test_the_same_seed_gives_the_same_table_and_another_seed_another():
    first = moments_table(np.random.default_rng(42), 500)
    pd.testing.assert_frame_equal(first, moments_table(np.random.default_rng(42), 500))
    assert not first.equals(moments_table(np.random.default_rng(43), 500))


# W2.P1, W2.4: coins, dice and the law of large numbers


@grades(running_mean)
def test_running_mean_is_the_mean_of_each_prefix():
    x = np.random.default_rng(0).standard_normal(50)
    expected = [x[:k].mean() for k in range(1, 51)]
    np.testing.assert_allclose(running_mean(x), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(running_mean([1, 0, 1, 1]), [1, 0.5, 2 / 3, 0.75])


@grades(running_mean, coin_tosses)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("p", [0.5, 0.3])
def test_running_mean_of_coin_tosses_converges_to_p(seed, p):
    n = 100_000
    tosses = coin_tosses(np.random.default_rng(seed), n, p)
    assert set(np.unique(tosses)) <= {0, 1}
    assert abs(running_mean(tosses)[-1] - p) < Z_MAX * np.sqrt(p * (1 - p) / n)


@grades(running_mean, dice_rolls)
@pytest.mark.parametrize("seed", SEEDS)
def test_running_mean_of_dice_rolls_converges_to_three_and_a_half(seed):
    n, sigma = 100_000, np.sqrt(35 / 12)  # Var = (6^2 - 1) / 12 for a fair die
    rolls = dice_rolls(np.random.default_rng(seed), n)
    assert abs(running_mean(rolls)[-1] - 3.5) < Z_MAX * sigma / np.sqrt(n)
    faces, counts = np.unique(rolls, return_counts=True)
    np.testing.assert_array_equal(faces, [1, 2, 3, 4, 5, 6])
    assert stats.chisquare(counts).pvalue > 1e-4  # the faces are equally likely


@grades(dice_rolls)
def test_dice_have_the_number_of_sides_asked_for():
    rolls = dice_rolls(np.random.default_rng(0), 5_000, sides=20)
    assert (rolls.min(), rolls.max()) == (1, 20)


def test_invalid_coin_and_dice_are_refused_with_the_value_given():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\], got 1.5"):
        coin_tosses(rng, 10, p=1.5)
    with pytest.raises(ValueError, match="sides must be >= 1, got 0"):
        dice_rolls(rng, 10, sides=0)


# W2.4: the central limit theorem


def exact_ks_of_standardized_exponential_mean(n):
    """sup_t |F_n(t) - Phi(t)|: the sum of n Exp(1) is Gamma(n, 1), so F_n(t) = G(n + sqrt(n) t)."""
    t, step = np.linspace(-6, 12, 180_001, retstep=True)
    gap = np.abs(stats.gamma(n).cdf(n + np.sqrt(n) * t) - stats.norm.cdf(t)).max()
    return gap + step  # the grid misses the supremum by less than step * max slope (< 1)


@grades(sample_means)
@pytest.mark.parametrize("seed", SEEDS)
def test_standardized_means_of_exponential_samples_approach_the_normal(seed):
    rng, m = np.random.default_rng(seed), 4_000
    # sup |F_hat - F_n| < critical with probability 0.999 (exact KS law), hence by the
    # triangle inequality |D - exact distance| < critical for the statistic D against Phi
    critical = stats.kstwo(m).ppf(0.999)
    d1 = ks_distance_to_normal(sample_means(rng, "exponential", 1, m))
    d30 = ks_distance_to_normal(sample_means(rng, "exponential", 30, m))
    threshold = exact_ks_of_standardized_exponential_mean(30) + critical
    assert threshold < 0.06  # stated: D < 0.06 at n = 30 for 4,000 samples
    assert d30 < threshold
    assert d1 > exact_ks_of_standardized_exponential_mean(1) - critical > threshold
    assert d30 < d1


@grades(sample_means)
@pytest.mark.parametrize("name", NAMES)
def test_standardized_means_have_mean_zero_and_variance_one(name):
    m = 5_000
    z = sample_means(np.random.default_rng(0), name, 7, m)
    assert z.shape == (m,)
    assert abs(z.mean()) < Z_MAX / np.sqrt(m)
    se_var = np.sqrt((stats.kurtosis(z, fisher=False) - 1) / m)  # Var(S^2) ~ (mu_4 - 1) / m
    assert abs(z.var(ddof=1) - 1) < Z_MAX * se_var


def test_ks_distance_is_the_supremum_of_the_cdf_gap():
    z = np.array([-1.0, 0.2, 0.5, 2.0])
    F = stats.norm.cdf(z)  # the empirical cdf jumps from (i - 1)/n to i/n at the i-th point
    expected = max(np.max(np.arange(1, 5) / 4 - F), np.max(F - np.arange(0, 4) / 4))
    assert ks_distance_to_normal(z) == pytest.approx(expected, rel=1e-12)


def test_unknown_distribution_is_refused_by_name():
    with pytest.raises(ValueError, match=r"distribution must be one of .* got 'cauchy'"):
        sample_means(np.random.default_rng(0), "cauchy", 5, 10)


# W2.3, W2.P3: covariance and correlation


@pytest.fixture
def correlated():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(500)
    return pd.DataFrame(
        {"x": x, "y": 2 * x + rng.standard_normal(500), "w": rng.exponential(size=500)}
    )


@grades(covariance)
@pytest.mark.parametrize("ddof", [0, 1])
def test_covariance_matches_numpy(correlated, ddof):
    for a in correlated:
        for b in correlated:
            expected = np.cov(correlated[a], correlated[b], ddof=ddof)[0, 1]
            assert covariance(correlated[a], correlated[b], ddof=ddof) == pytest.approx(
                expected, rel=1e-12, abs=1e-12
            )
    assert covariance(correlated["x"], correlated["x"]) == pytest.approx(
        correlated["x"].var(ddof=0), rel=1e-12
    )


@grades(correlation, correlation_matrix)
def test_correlation_matches_numpy_and_pandas(correlated):
    ours = pd.DataFrame(
        {a: [correlation(correlated[a], correlated[b]) for b in correlated] for a in correlated},
        index=correlated.columns,
    )
    np.testing.assert_allclose(ours, np.corrcoef(correlated.to_numpy().T), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours, correlated.corr(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours, feature_correlations(correlated), rtol=0, atol=1e-12)


@grades(correlation)
def test_correlation_of_an_affine_function_is_its_sign():
    x = np.random.default_rng(0).standard_normal(100)
    assert correlation(x, 3 * x + 1) == pytest.approx(1.0, abs=1e-12)
    assert correlation(x, -0.5 * x + 2) == pytest.approx(-1.0, abs=1e-12)


def test_covariance_refuses_arrays_of_different_lengths():
    with pytest.raises(ValueError, match=r"same length, got \(3,\) and \(2,\)"):
        covariance([1, 2, 3], [1, 2])


# W2.P3: message features


def test_message_features_on_hand_written_messages():
    messages = [
        ("spam", "WIN £1000 cash! Call 09061701461 now"),
        ("ham", "see http://bit.ly/x"),
        ("spam", "Visit www.Example.com for $5 or €5"),
        ("spam", "go to txt-2-shop.com"),
        ("ham", ""),  # empty
        ("ham", "12345 !!!"),  # no letters
        ("ham", "OK 👍🏽"),  # thumbs up + skin-tone modifier: two code points, no letters
        ("ham", "ÜBER schön"),  # non-ASCII letters count as letters
    ]
    labels, texts = zip(*messages, strict=True)
    expected = pd.DataFrame(
        [
            # length, digits, uppercase_ratio, currency, has_url, is_spam
            (36, 15, 4 / 14, 1, 0, 1),
            (19, 0, 0 / 13, 0, 1, 0),
            (34, 2, 2 / 23, 2, 1, 1),
            (20, 1, 0 / 14, 0, 1, 1),
            (0, 0, 0.0, 0, 0, 0),
            (9, 5, 0.0, 0, 0, 0),
            (5, 0, 1.0, 0, 0, 0),
            (10, 0, 4 / 9, 0, 0, 0),
        ],
        columns=["length", "digits", "uppercase_ratio", "currency", "has_url", "is_spam"],
    )
    features = message_features(pd.Series(texts, dtype="str"), pd.Series(labels, dtype="str"))
    pd.testing.assert_frame_equal(features, expected, check_dtype=False)
    pd.testing.assert_frame_equal(message_features(list(texts), list(labels)), features)


def test_message_features_keep_one_row_per_message_whatever_the_index():
    texts = pd.Series(["a", "B"], index=[10, 20])
    features = message_features(texts, np.array(["ham", "spam"]))
    assert list(features.index) == [0, 1]
    assert list(features["uppercase_ratio"]) == [0.0, 1.0]


def test_message_features_refuse_labels_of_another_length():
    with pytest.raises(ValueError, match="same length, got 2 and 1"):
        message_features(["a", "b"], ["ham"])


@grades(correlation_matrix)
def test_feature_correlations_are_a_correlation_matrix():
    texts = ["WIN £100 now 0800", "hi", "call 12 www.x.com", "ok :)", "FREE £5 txt 8888"]
    labels = ["spam", "ham", "spam", "ham", "spam"]
    corr = feature_correlations(message_features(texts, labels))
    np.testing.assert_allclose(corr, corr.T, atol=1e-12)
    np.testing.assert_allclose(np.diag(corr), 1.0, atol=1e-12)
    assert np.all(np.abs(corr.to_numpy()) <= 1 + 1e-12)
    assert np.all(np.linalg.eigvalsh(corr.to_numpy()) > -1e-12)  # positive semi-definite


@grades(correlation_matrix)
def test_correlation_matrix_of_the_sms_features_matches_dataframe_corr():
    texts, labels = sms_messages()
    features = message_features(texts, labels)  # 5,574 messages, six features
    R = correlation_matrix(features.to_numpy(dtype=np.float64))
    np.testing.assert_allclose(R, features.corr(method="pearson"), rtol=0, atol=1e-12)


# W2.P2: the empirical pmf the distribution figure draws


@grades(empirical_pmf)
@pytest.mark.parametrize("name", ["Bernoulli", "binomial", "Poisson"])
def test_empirical_pmf_matches_pandas_value_counts(name):
    x = DISTRIBUTIONS[name][0](np.random.default_rng(8), 3_000)
    values, frequencies = empirical_pmf(x)
    expected = pd.Series(x).value_counts(normalize=True).sort_index()
    np.testing.assert_array_equal(values, expected.index)
    np.testing.assert_allclose(frequencies, expected.to_numpy(), rtol=1e-12, atol=0)
    assert frequencies.sum() == pytest.approx(1.0, rel=1e-12)


@grades(empirical_pmf)
def test_empirical_pmf_of_a_hand_made_sample():
    values, frequencies = empirical_pmf([3, 1, 3, 3, 0])
    np.testing.assert_array_equal(values, [0, 1, 3])
    np.testing.assert_allclose(frequencies, [0.2, 0.2, 0.6], rtol=1e-12)


# W2.P5: groupby and agg against boolean masks and the fitted models


def test_class_statistics_match_the_statistics_of_each_class_mask():
    texts, labels = sms_messages()
    features = message_features(texts, labels)
    table = class_statistics(features, labels)
    assert table.index.tolist() == ["ham", "spam"]
    for label in ("ham", "spam"):
        rows = features[labels == label]  # the class by a boolean mask, no groupby
        expected = {
            "messages": len(rows),
            "mean_length": rows["length"].to_numpy().mean(),
            "median_length": np.median(rows["length"].to_numpy()),
            "share_with_digit": np.mean(rows["digits"].to_numpy() > 0),
            "share_with_currency": np.mean(rows["currency"].to_numpy() > 0),
            "share_with_url": rows["has_url"].to_numpy().mean(),
            "mean_uppercase_ratio": rows["uppercase_ratio"].to_numpy().mean(),
            "prior": len(rows) / len(labels),
        }
        for column, value in expected.items():
            assert table.loc[label, column] == pytest.approx(value, rel=1e-12), (label, column)
    assert table.loc["spam", "messages"] == 747  # the corpus's documented counts
    assert table.loc["ham", "messages"] == 4827


@grades(class_priors)
@pytest.mark.parametrize(
    "model", [MultinomialNaiveBayes(), BernoulliNaiveBayes(), sk_nb.MultinomialNB()]
)
def test_groupby_priors_are_the_priors_the_model_learned(model):
    texts, labels = sms_messages()
    train = slice(0, 3000)
    model.fit(CountVectorizer().fit_transform(texts[train]), labels[train])
    priors = class_priors(labels[train])
    assert priors.index.tolist() == list(model.classes_)
    np.testing.assert_array_equal(priors["messages"].to_numpy(), model.class_count_)  # exact
    np.testing.assert_allclose(priors["prior"], np.exp(model.class_log_prior_), rtol=1e-12)
    assert priors["prior"].sum() == pytest.approx(1.0, rel=1e-15)


def test_class_statistics_refuse_labels_of_another_length():
    with pytest.raises(ValueError, match="differ in length: 2 and 1"):
        class_statistics(message_features(["a", "b"], ["ham", "spam"]), ["ham"])
    with pytest.raises(ValueError, match="at least one label"):
        class_priors([])
