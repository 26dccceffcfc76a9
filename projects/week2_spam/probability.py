"""Week 2 drills: the probability under naive Bayes, simulated and checked against theory.

Curriculum ids: W2.2 six distributions (sampled with ``numpy.random``, exact from
``scipy.stats``), W2.3 expectation, variance, covariance and correlation, W2.4 the law
of large numbers and the central limit theorem, W2.P1 coin tosses and dice rolls,
W2.P3 correlation analysis of SMS features with ``DataFrame.corr()``, W2.P5 per-class
statistics with ``DataFrame.groupby(...).agg(...)`` (the class priors a naive Bayes model learns
are a group count divided by the total).

Every function that draws takes a ``numpy.random.Generator``: the global random state is
never used, so a seed reproduces a drill on its own, in any order.

Sources:
- L. Wasserman, "All of Statistics" (2004): chapters 2-3 (distributions, expectation,
  variance, covariance, correlation), 5 (law of large numbers, central limit theorem).
- G. Casella, R. L. Berger, "Statistical Inference", 2nd ed. (2002), exercise 5.8:
  Var(S^2) = (mu_4 - sigma^4 (n - 3) / (n - 1)) / n.
- T. A. Almeida, J. M. Gómez Hidalgo, A. Yamakami, "Contributions to the study of SMS
  spam filtering" (DocEng 2011): the SMS Spam Collection the message features describe.
"""

import numpy as np
import pandas as pd
from scipy import stats

# name -> (sampler(rng, size) with numpy.random, the exact frozen scipy.stats distribution)
DISTRIBUTIONS = {
    "normal": (lambda rng, size: rng.normal(0.0, 1.0, size), stats.norm(loc=0.0, scale=1.0)),
    "uniform": (lambda rng, size: rng.uniform(0.0, 1.0, size), stats.uniform(loc=0.0, scale=1.0)),
    "Bernoulli": (lambda rng, size: rng.binomial(1, 0.3, size), stats.bernoulli(0.3)),
    "binomial": (lambda rng, size: rng.binomial(10, 0.3, size), stats.binom(10, 0.3)),
    "Poisson": (lambda rng, size: rng.poisson(4.0, size), stats.poisson(4.0)),
    "exponential": (lambda rng, size: rng.exponential(1.0, size), stats.expon(scale=1.0)),
}
CURRENCY_SYMBOLS = "$£€¥₹¢"
# http://..., https://..., www.... or a bare domain such as txt-2-shop.com or bbc.co.uk
URL = r"https?://|www\.|\.(?:com|net|org|biz|info|co\.uk)\b"


def coin_tosses(rng, n, p=0.5):
    """n tosses X_i ~ Bernoulli(p): 1 (heads) with probability p, else 0 (W2.P1)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    return rng.binomial(1, p, size=n)


def dice_rolls(rng, n, sides=6):
    """n rolls X_i ~ uniform on {1, ..., sides}: P(X = k) = 1 / sides (W2.P1)."""
    if sides < 1:
        raise ValueError(f"sides must be >= 1, got {sides}")
    return rng.integers(1, sides, size=n, endpoint=True)


def running_mean(x):
    """xbar_k = (1/k) sum_{i<=k} x_i for k = 1..n; xbar_k -> E[X] as k grows (LLN, W2.4)."""
    x = np.asarray(x, dtype=np.float64)
    return np.cumsum(x) / np.arange(1, len(x) + 1)


def moments_table(rng, n):
    """Sample mean and variance of n draws from each distribution, beside the exact ones (W2.2).

    xbar = (1/n) sum_i x_i has standard error sigma / sqrt(n);
    s^2 = sum_i (x_i - xbar)^2 / (n - 1) has standard error
    sqrt((mu_4 - sigma^4 (n - 3) / (n - 1)) / n), with mu_4 = (excess kurtosis + 3) sigma^4.
    z = (estimate - exact) / standard error is about N(0, 1) for large n.
    """
    rows = {}
    for name, (sampler, dist) in DISTRIBUTIONS.items():
        x = sampler(rng, n)
        mu, var = dist.mean(), dist.var()
        mu4 = (float(dist.stats(moments="k")) + 3.0) * var**2  # E[(X - mu)^4]
        se_mean = np.sqrt(var / n)
        se_var = np.sqrt((mu4 - var**2 * (n - 3) / (n - 1)) / n)
        sample_mean, sample_var = x.mean(), x.var(ddof=1)
        rows[name] = {
            "sample_mean": sample_mean,
            "mean": mu,
            "se_mean": se_mean,
            "z_mean": (sample_mean - mu) / se_mean,
            "sample_var": sample_var,
            "var": var,
            "se_var": se_var,
            "z_var": (sample_var - var) / se_var,
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("distribution")


def sample_means(rng, distribution, n_per_sample, n_samples):
    """Standardized means Z = (xbar_n - mu) / (sigma / sqrt(n)) of n_samples samples (W2.4).

    Each sample holds n = n_per_sample i.i.d. draws from ``DISTRIBUTIONS[distribution]``;
    by the central limit theorem Z -> N(0, 1) in distribution as n grows.
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {list(DISTRIBUTIONS)}, got {distribution!r}")
    sampler, dist = DISTRIBUTIONS[distribution]
    x = sampler(rng, (n_samples, n_per_sample))  # shape (n_samples, n_per_sample)
    return (x.mean(axis=1) - dist.mean()) / (dist.std() / np.sqrt(n_per_sample))


def ks_distance_to_normal(z):
    """Kolmogorov-Smirnov statistic D = sup_t |F_hat(t) - Phi(t)| of z against N(0, 1) (W2.4)."""
    return stats.kstest(z, "norm").statistic


def covariance(x, y, ddof=0):
    """Cov(X, Y) = E[(X - EX)(Y - EY)], estimated by sum_i (x_i - xbar)(y_i - ybar) / (n - ddof).

    ddof=0 is the plug-in (maximum likelihood) estimate, ddof=1 the unbiased one (``np.cov``).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-d of the same length, got {x.shape} and {y.shape}")
    return np.sum((x - x.mean()) * (y - y.mean())) / (len(x) - ddof)


def correlation(x, y):
    """Pearson rho(X, Y) = Cov(X, Y) / (sigma_X sigma_Y), in [-1, 1] (W2.3, W2.P3)."""
    return covariance(x, y) / np.sqrt(covariance(x, x) * covariance(y, y))


def _uppercase_ratio(text):
    """(uppercase letters) / (letters), 0 when there are no letters (Unicode: Ü is a letter)."""
    letters = sum(c.isalpha() for c in text)
    return sum(c.isupper() for c in text) / letters if letters else 0.0


def message_features(texts, labels):
    """One row per SMS of numeric features a spam filter might use (W2.P3).

    length: characters (Unicode code points); digits: count of 0-9; uppercase_ratio:
    uppercase letters / letters (0 without letters); currency: count of ``CURRENCY_SYMBOLS``;
    has_url: 1 if the text matches ``URL`` (case-insensitive), else 0;
    is_spam: 1 if the label is "spam", else 0.
    """
    text = pd.Series(list(texts), dtype="str")
    labels = np.asarray(labels, dtype=object)
    if len(labels) != len(text):
        raise ValueError(
            f"texts and labels must have the same length, got {len(text)} and {len(labels)}"
        )
    return pd.DataFrame(
        {
            "length": text.str.len(),
            "digits": text.str.count(r"[0-9]"),
            "uppercase_ratio": [_uppercase_ratio(t) for t in text],
            "currency": text.str.count(f"[{CURRENCY_SYMBOLS}]"),
            "has_url": text.str.contains(URL, case=False, regex=True).astype(int),
            "is_spam": (labels == "spam").astype(int),
        }
    )


def feature_correlations(features):
    """Pearson correlation matrix r_jk of the feature columns, by ``DataFrame.corr()`` (W2.P3)."""
    return features.corr(method="pearson")


def class_priors(labels):
    """N_y and P(y) = N_y / N per class y, by ``groupby("label").agg(...)`` (W2.P5).

    These are the maximum-likelihood class priors naive Bayes learns (``class_count_`` and
    ``exp(class_log_prior_)``); rows sorted by label, as the model's ``classes_``.
    """
    frame = pd.DataFrame({"label": np.asarray(labels, dtype=object)})
    if frame.empty:
        raise ValueError("class priors need at least one label, got none")
    counts = frame.groupby("label").agg(messages=("label", "size"))
    return counts.assign(prior=counts["messages"] / len(frame))


def class_statistics(features, labels):
    """Per-class message statistics of ``message_features`` rows, one row per label (W2.P5).

    messages N_y and prior N_y / N (as ``class_priors``), mean and median length, the share
    of messages with a digit, with a currency symbol and with a URL, and the mean uppercase
    ratio; each a ``groupby("label").agg`` of one column.
    """
    labels = np.asarray(labels, dtype=object)
    if len(labels) != len(features):
        raise ValueError(f"features and labels differ in length: {len(features)} and {len(labels)}")
    frame = features.assign(
        label=labels, has_digit=features["digits"] > 0, has_currency=features["currency"] > 0
    )
    table = frame.groupby("label").agg(
        messages=("length", "size"),
        mean_length=("length", "mean"),
        median_length=("length", "median"),
        share_with_digit=("has_digit", "mean"),
        share_with_currency=("has_currency", "mean"),
        share_with_url=("has_url", "mean"),
        mean_uppercase_ratio=("uppercase_ratio", "mean"),
    )
    return table.assign(prior=table["messages"] / len(frame))
