"""Week 2 drills: the probability under naive Bayes, simulated and checked against theory.

Curriculum ids: W2.2 six distributions (sampled with ``numpy.random``, exact from
``scipy.stats``), W2.3 expectation, variance, covariance and correlation, W2.4 the law
of large numbers and the central limit theorem, W2.P1 coin tosses and dice rolls,
W2.P2 the empirical pmf the distribution figure draws, W2.P3 correlation analysis of SMS
features, checked against ``DataFrame.corr()``, W2.P5 per-class statistics with
``DataFrame.groupby(...).agg(...)`` (the class priors a naive Bayes model learns are a
group count divided by the total).

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

from common.exercises import exercise

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


@exercise("W2.P1", hint="a Bernoulli(p) draw is a binomial draw with one trial: rng.binomial")
def coin_tosses(rng, n, p=0.5):
    """n tosses X_i ~ Bernoulli(p): 1 (heads) with probability p, else 0 (W2.P1).

    rng: a ``numpy.random.Generator``; returns an int array of shape (n,) of 0s and 1s.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    return rng.binomial(1, p, size=n)


@exercise("W2.P1", hint="rng.integers draws uniformly; mind whether the upper end is included")
def dice_rolls(rng, n, sides=6):
    """n rolls X_i ~ uniform on {1, ..., sides}: P(X = k) = 1 / sides (W2.P1).

    rng: a ``numpy.random.Generator``; returns an int array of shape (n,), values 1..sides.
    """
    if sides < 1:
        raise ValueError(f"sides must be >= 1, got {sides}")
    return rng.integers(1, sides, size=n, endpoint=True)


@exercise("W2.4", hint="a cumulative sum divided by how many terms it holds; no Python loop")
def running_mean(x):
    """xbar_k = (1/k) sum_{i<=k} x_i for k = 1..n; xbar_k -> E[X] as k grows (LLN, W2.4).

    x: shape (n,); returns float64 of shape (n,), the mean of each prefix x_1..x_k.
    """
    x = np.asarray(x, dtype=np.float64)
    return np.cumsum(x) / np.arange(1, len(x) + 1)


@exercise("W2.2", hint="the variance divides by n - 1, not n (np.var's ddof)")
def sample_moments(x):
    """(xbar, s^2): xbar = (1/n) sum_i x_i, s^2 = sum_i (x_i - xbar)^2 / (n - 1) (W2.2).

    x: shape (n,), n >= 2; returns two floats, unbiased estimates of E[X] and Var(X).
    """
    x = np.asarray(x, dtype=np.float64)
    mean = x.sum() / len(x)
    return mean, np.sum((x - mean) ** 2) / (len(x) - 1)


@exercise("W2.2", hint="both are square roots of a variance of the estimate over n")
def standard_errors(var, mu4, n):
    """(se(xbar), se(s^2)) of n i.i.d. draws with variance sigma^2 = var (W2.2).

    se(xbar) = sqrt(sigma^2 / n); se(s^2) = sqrt((mu_4 - sigma^4 (n - 3) / (n - 1)) / n),
    with mu_4 = E[(X - mu)^4] the fourth central moment (Casella & Berger, ex. 5.8).
    Floats in, two floats out.
    """
    return np.sqrt(var / n), np.sqrt((mu4 - var**2 * (n - 3) / (n - 1)) / n)


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
        se_mean, se_var = standard_errors(var, mu4, n)
        sample_mean, sample_var = sample_moments(x)
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


@exercise("W2.4", hint="draw all samples as one 2-D array, average each row, then standardize")
def sample_means(rng, distribution, n_per_sample, n_samples):
    """Standardized means Z = (xbar_n - mu) / (sigma / sqrt(n)) of n_samples samples (W2.4).

    Each sample holds n = n_per_sample i.i.d. draws from ``DISTRIBUTIONS[distribution]``
    (a pair: sampler(rng, size), the exact scipy.stats distribution); by the central limit
    theorem Z -> N(0, 1) in distribution as n grows. Returns shape (n_samples,).
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {list(DISTRIBUTIONS)}, got {distribution!r}")
    sampler, dist = DISTRIBUTIONS[distribution]
    x = sampler(rng, (n_samples, n_per_sample))  # shape (n_samples, n_per_sample)
    return (x.mean(axis=1) - dist.mean()) / (dist.std() / np.sqrt(n_per_sample))


def ks_distance_to_normal(z):
    """Kolmogorov-Smirnov statistic D = sup_t |F_hat(t) - Phi(t)| of z against N(0, 1) (W2.4)."""
    return stats.kstest(z, "norm").statistic


@exercise("W2.3", hint="centre both samples on their means first, then average the products")
def covariance(x, y, ddof=0):
    """Cov(X, Y) = E[(X - EX)(Y - EY)], estimated by sum_i (x_i - xbar)(y_i - ybar) / (n - ddof).

    x, y: shape (n,) each; returns a float. ddof=0 is the plug-in (maximum likelihood)
    estimate, ddof=1 the unbiased one (``np.cov``); Cov(X, X) = Var(X).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-d of the same length, got {x.shape} and {y.shape}")
    return np.sum((x - x.mean()) * (y - y.mean())) / (len(x) - ddof)


@exercise("W2.3", hint="sigma_X^2 = Cov(X, X): three calls of covariance")
def correlation(x, y):
    """Pearson rho(X, Y) = Cov(X, Y) / (sigma_X sigma_Y), in [-1, 1] (W2.3, W2.P3).

    x, y: shape (n,) each; returns a float (NaN if either sample is constant).
    """
    return covariance(x, y) / np.sqrt(covariance(x, x) * covariance(y, y))


def _uppercase_ratio(text):
    """(uppercase letters) / (letters), 0 when there are no letters (Unicode: Ü is a letter)."""
    letters = sum(map(str.isalpha, text))
    return sum(map(str.isupper, text)) / letters if letters else 0.0


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


@exercise("W2.P3", hint="r_jk = correlation(column j, column k) for every pair; or centre, scale")
def correlation_matrix(X):
    """R_jk = rho(X_j, X_k) = Cov(X_j, X_k) / (sigma_j sigma_k) for every pair of columns (W2.P3).

    X: shape (n_samples, n_features); returns R of shape (n_features, n_features), symmetric,
    1 on the diagonal, positive semi-definite: what ``DataFrame.corr()`` computes.
    """
    X = np.asarray(X, dtype=np.float64)
    columns = range(X.shape[1])
    return np.array([[correlation(X[:, j], X[:, k]) for k in columns] for j in columns])


def feature_correlations(features):
    """Pearson correlation matrix r_jk of the feature columns, a DataFrame (W2.P3).

    Computed by ``correlation_matrix``; equal to ``features.corr()`` (the run logs the gap).
    """
    R = correlation_matrix(features.to_numpy(dtype=np.float64))
    return pd.DataFrame(R, index=features.columns, columns=features.columns)


@exercise("W2.P2", hint="np.unique can count; divide the counts by the number of draws")
def empirical_pmf(x):
    """(values k, frequencies #{i : x_i = k} / n) of a discrete sample (W2.P2).

    x: shape (n,); returns the distinct values, sorted, and their relative frequencies,
    both of shape (n_distinct,); the frequencies sum to 1. The distribution figure draws
    them as bars beside the exact pmf P(X = k).
    """
    values, counts = np.unique(np.asarray(x), return_counts=True)
    return values, counts / len(x)


@exercise("W2.P5", hint='a DataFrame with a "label" column; groupby("label").agg(...) counts')
def class_priors(labels):
    """N_y and P(y) = N_y / N per class y, by ``groupby("label").agg(...)`` (W2.P5).

    These are the maximum-likelihood class priors naive Bayes learns (``class_count_`` and
    ``exp(class_log_prior_)``); rows sorted by label, as the model's ``classes_``.
    labels: shape (N,); returns a DataFrame indexed by label with the columns messages
    (N_y) and prior (N_y / N), shape (n_classes, 2).
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
