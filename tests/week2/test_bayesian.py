"""Conjugate posteriors against independent routes.

References: the posterior computed numerically as prior x likelihood normalized by
scipy.integrate.quad (rtol 1e-8); scipy.stats.beta for the mean (rtol 1e-12); the interval's
ends through the Beta CDF as scipy.special.betainc (abs 1e-12) and through Monte Carlo
draws (5 standard errors); scipy.stats.dirichlet's mean (rtol 1e-12); the fitted naive
Bayes models, ours and scikit-learn's, for Lidstone as a posterior mean (abs 1e-12).
"""

import numpy as np
import pytest
from scipy import integrate, special, stats
from sklearn import naive_bayes as sk_nb
from sklearn.feature_extraction.text import CountVectorizer

from common.grading import grades
from projects.week2_spam import bayesian
from projects.week2_spam.naive_bayes import (
    BernoulliNaiveBayes,
    ComplementNaiveBayes,
    MultinomialNaiveBayes,
)
from tests.week2.test_vectorizer import sms_messages

CASES = [
    (0, 10, 1.0, 1.0),
    (4, 10, 1.0, 1.0),
    (747, 5574, 1.0, 1.0),
    (3, 20, 0.5, 0.5),
    (7, 9, 2, 5),
]


@grades(bayesian.beta_posterior_parameters)
@pytest.mark.parametrize(("k", "n", "a", "b"), CASES)
def test_posterior_is_prior_times_likelihood_normalized(k, n, a, b):
    a_post, b_post = bayesian.beta_posterior_parameters(k, n, a, b)
    assert (a_post, b_post) == (a + k, b + n - k)

    def unnormalized(theta):
        return stats.beta.pdf(theta, a, b) * stats.binom.pmf(k, n, theta)

    mean = bayesian.beta_mean(a_post, b_post)
    sd = stats.beta.std(a_post, b_post)
    points = [max(0.0, mean - 10 * sd), mean, min(1.0, mean + 10 * sd)]  # where the mass is
    evidence = integrate.quad(unnormalized, 0, 1, points=points, limit=200, epsabs=0)[0]
    theta = np.linspace(0.01, 0.99, 41)
    numeric = unnormalized(theta) / evidence
    np.testing.assert_allclose(
        numeric, stats.beta.pdf(theta, a_post, b_post), rtol=1e-8, atol=1e-300
    )
    assert mean == pytest.approx(stats.beta.mean(a_post, b_post), rel=1e-12)


@grades(bayesian.beta_posterior_parameters)
@pytest.mark.parametrize(("k", "n", "a", "b"), CASES)
def test_credible_interval_ends_have_the_tail_masses_by_the_incomplete_beta(k, n, a, b):
    posterior = bayesian.spam_rate_posterior(k, n, a, b, level=0.95)
    assert special.betainc(posterior.a, posterior.b, posterior.low) == pytest.approx(
        0.025, abs=1e-12
    )
    assert special.betainc(posterior.a, posterior.b, posterior.high) == pytest.approx(
        0.975, abs=1e-12
    )
    assert posterior.low < posterior.mean < posterior.high


def test_credible_interval_holds_95_percent_of_monte_carlo_draws():
    posterior = bayesian.spam_rate_posterior(747, 5574)
    n = 200_000
    draws = np.random.default_rng(0).beta(posterior.a, posterior.b, size=n)
    inside = np.mean((posterior.low <= draws) & (draws <= posterior.high))
    assert abs(inside - 0.95) < 5 * np.sqrt(0.95 * 0.05 / n)  # 5 standard errors
    assert abs(draws.mean() - posterior.mean) < 5 * draws.std() / np.sqrt(n)


@grades(bayesian.beta_posterior_parameters)
def test_laplace_rule_of_succession_and_sequential_rows():
    is_spam = np.array([1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0], dtype=bool)
    table = bayesian.sequential_posteriors(is_spam, [1, 4, 12])
    assert table["k"].tolist() == [1, 2, 3]
    np.testing.assert_allclose(table["mean"], [2 / 3, 3 / 6, 4 / 14], rtol=1e-12)  # (k+1)/(n+2)
    np.testing.assert_allclose(table["mle"], [1, 2 / 4, 3 / 12], rtol=1e-12)
    # updating in two steps equals updating once: the posterior after 4 is the prior for 12
    a4, b4 = table.loc[1, ["a", "b"]]
    assert bayesian.beta_posterior_parameters(1, 8, a4, b4) == tuple(table.loc[2, ["a", "b"]])


@grades(bayesian.dirichlet_posterior_mean)
def test_dirichlet_posterior_mean_matches_scipy():
    counts = np.array([5.0, 0.0, 2.0, 13.0])
    for alpha in (0.01, 0.5, 1.0, 3.0):
        expected = stats.dirichlet(counts + alpha).mean()
        np.testing.assert_allclose(
            bayesian.dirichlet_posterior_mean(counts, alpha), expected, rtol=1e-12
        )
    table = np.array([[5.0, 0.0, 2.0, 13.0], [1.0, 1.0, 0.0, 0.0], [0.0, 9.0, 4.0, 2.0]])
    expected = [stats.dirichlet(row + 0.5).mean() for row in table]  # one Dirichlet per row
    np.testing.assert_allclose(bayesian.dirichlet_posterior_mean(table, 0.5), expected, rtol=1e-12)


@pytest.fixture(scope="module")
def sms_counts():
    texts, labels = sms_messages()
    return CountVectorizer().fit_transform(texts), labels


@grades(bayesian.dirichlet_posterior_mean)
@pytest.mark.parametrize("alpha", [0.01, 0.5, 1.0])
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(MultinomialNaiveBayes, sk_nb.MultinomialNB), (BernoulliNaiveBayes, sk_nb.BernoulliNB)],
)
def test_lidstone_estimates_are_dirichlet_posterior_means(sms_counts, ours, theirs, alpha):
    X, y = sms_counts
    model = ours(alpha=alpha).fit(X, y)
    theta, posterior_mean = bayesian.lidstone_as_posterior_mean(model)
    np.testing.assert_allclose(theta, posterior_mean, rtol=0, atol=1e-12)
    reference = theirs(alpha=alpha, force_alpha=True).fit(X, y)
    np.testing.assert_allclose(
        posterior_mean, np.exp(reference.feature_log_prob_), rtol=0, atol=1e-12
    )


def test_invalid_inputs_are_refused():
    with pytest.raises(ValueError, match="0 <= k <= n, got k=5, n=3"):
        bayesian.beta_posterior_parameters(5, 3)
    with pytest.raises(ValueError, match="must be > 0, got a=0"):
        bayesian.beta_posterior_parameters(1, 3, a=0)
    with pytest.raises(ValueError, match=r"^level must be in \(0, 1\), got 1.5$"):
        bayesian.credible_interval(2, 3, level=1.5)
    with pytest.raises(ValueError, match=r"^sizes must be in \[1, 2\], got 3$"):
        bayesian.sequential_posteriors([True, False], [3])
    model = ComplementNaiveBayes().fit(np.array([[1, 0], [0, 2]]), ["ham", "spam"])
    with pytest.raises(ValueError, match="got ComplementNaiveBayes"):
        bayesian.lidstone_as_posterior_mean(model)
