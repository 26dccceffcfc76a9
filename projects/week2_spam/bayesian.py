"""Bayesian inference with conjugate priors: the spam rate, and smoothing as a posterior mean.

Model 1, Beta-Binomial. The spam rate theta of a message stream gets the prior
theta ~ Beta(a, b), density proportional to theta^(a-1) (1 - theta)^(b-1). Observing k spam
among n messages (likelihood proportional to theta^k (1 - theta)^(n-k)) multiplies the two,
so the posterior is again a Beta:

    theta | k, n ~ Beta(a + k, b + n - k),    E[theta | k, n] = (a + k) / (a + b + n).

Beta(1, 1) is the uniform prior; its posterior mean (k + 1) / (n + 2) is Laplace's rule of
succession. An equal-tailed 95% credible interval [l, u] holds the central 95% of the
posterior mass: F(l) = 0.025 and F(u) = 0.975, F the Beta CDF (the regularized incomplete
beta function I_x(a, b)).

Model 2, Dirichlet-multinomial. A categorical distribution theta = (theta_1, ..., theta_V)
with the prior Dirichlet(alpha, ..., alpha) and observed counts N_1, ..., N_V (total N) has
the posterior Dirichlet(alpha + N_1, ..., alpha + N_V), whose mean is

    E[theta_i | N] = (N_i + alpha) / (N + alpha V).

That is Lidstone's smoothed estimate of naive Bayes: the multinomial model's theta_yi is
the posterior mean over the V terms of class y; the Bernoulli model's theta_yi is the
posterior mean of the V = 2 categories (term present, absent) over the D_y documents of
class y, a Beta(alpha, alpha) prior. alpha = 1 (Laplace) is the uniform prior.

Sources:
- A. Gelman, J. B. Carlin, H. S. Stern, D. B. Dunson, A. Vehtari, D. B. Rubin, "Bayesian
  Data Analysis", 3rd ed. (2013), sections 2.1-2.4 (Beta-Binomial, intervals) and 23.2
  (Dirichlet).
- K. P. Murphy, "Machine Learning: a Probabilistic Perspective" (2012), sections 3.3-3.5
  (Beta-Binomial, Dirichlet-multinomial, naive Bayes with a Dirichlet prior).
"""

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from common.exercises import exercise
from projects.week2_spam.naive_bayes import BernoulliNaiveBayes, MultinomialNaiveBayes


class BetaPosterior(NamedTuple):
    """Beta(a, b) posterior of a rate, its mean and equal-tailed credible interval."""

    a: float
    b: float
    mean: float
    low: float
    high: float


@exercise("W2.X3", hint="prior x likelihood: add the successes to a, the failures to b")
def beta_posterior_parameters(k, n, a=1.0, b=1.0):
    """(a + k, b + n - k): the Beta(a, b) prior updated by k successes in n trials.

    theta^(a-1) (1 - theta)^(b-1) times theta^k (1 - theta)^(n-k) is again a Beta kernel.
    Numbers in (0 <= k <= n, a, b > 0), the posterior's two parameters out.
    """
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if not (a > 0 and b > 0):
        raise ValueError(f"Beta prior parameters must be > 0, got a={a}, b={b}")
    return a + k, b + n - k


def beta_mean(a, b):
    """E[theta] = a / (a + b) for theta ~ Beta(a, b)."""
    return a / (a + b)


def credible_interval(a, b, level=0.95):
    """Equal-tailed [l, u] with F(l) = (1 - level) / 2, F(u) = (1 + level) / 2, F the Beta CDF."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    low, high = stats.beta.ppf([(1 - level) / 2, (1 + level) / 2], a, b)
    return float(low), float(high)


def spam_rate_posterior(k, n, a=1.0, b=1.0, level=0.95):
    """The Beta posterior of the spam rate after k spam in n messages, from a Beta(a, b) prior."""
    a_post, b_post = beta_posterior_parameters(k, n, a, b)
    return BetaPosterior(
        a_post, b_post, beta_mean(a_post, b_post), *credible_interval(a_post, b_post, level)
    )


def sequential_posteriors(is_spam, sizes, a=1.0, b=1.0, level=0.95):
    """The spam rate's posterior after the first n messages, for each n in ``sizes``: one row each.

    Columns n, k (spam among them), mle = k / n, and the posterior's a, b, mean, low, high.
    """
    is_spam = np.asarray(is_spam, dtype=bool)
    rows = []
    for n in sizes:
        if not 0 < n <= len(is_spam):
            raise ValueError(f"sizes must be in [1, {len(is_spam)}], got {n}")
        k = int(is_spam[:n].sum())
        rows.append(
            {"n": n, "k": k, "mle": k / n, **spam_rate_posterior(k, n, a, b, level)._asdict()}
        )
    return pd.DataFrame(rows)


@exercise("W2.X3", hint="N is the sum over the last axis (keepdims=True); V its length")
def dirichlet_posterior_mean(counts, alpha):
    """E[theta_i | N] = (N_i + alpha) / (N + alpha V) over the last axis (V categories).

    counts: shape (..., V), N_i per category, N = sum_i N_i; the Dirichlet(alpha, ...,
    alpha) prior's posterior is Dirichlet(alpha + N_1, ..., alpha + N_V). Returns the
    posterior mean, the shape of counts; each slice along the last axis sums to 1.
    """
    counts = np.asarray(counts, dtype=np.float64)
    V = counts.shape[-1]
    return (counts + alpha) / (counts.sum(axis=-1, keepdims=True) + alpha * V)


def bernoulli_category_counts(D_yi, D_y):
    """(D_yi, D_y - D_yi): documents of class y with and without term i, shape (K, n, 2)."""
    D_yi = np.asarray(D_yi, dtype=np.float64)
    return np.stack([D_yi, np.asarray(D_y, dtype=np.float64)[:, np.newaxis] - D_yi], axis=-1)


def lidstone_as_posterior_mean(model):
    """(theta_yi of the fitted model, the Dirichlet(alpha) posterior mean of its counts).

    Multinomial: the counts N_yi over the n terms; Bernoulli: (D_yi, D_y - D_yi) per term,
    of which the "present" mean is theta_yi. The two arrays are equal (shape (K, n)).
    """
    theta = np.exp(model.feature_log_prob_)
    if isinstance(model, MultinomialNaiveBayes):
        return theta, dirichlet_posterior_mean(model.feature_count_, model.alpha)
    if isinstance(model, BernoulliNaiveBayes):
        counts = bernoulli_category_counts(model.feature_count_, model.class_count_)
        return theta, dirichlet_posterior_mean(counts, model.alpha)[..., 0]
    raise ValueError(
        f"Lidstone's estimate is a Dirichlet posterior mean for the multinomial and Bernoulli "
        f"models, got {type(model).__name__}"
    )
