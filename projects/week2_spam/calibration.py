"""Is P(spam) = 0.9 right nine times in ten? Scoring probabilities, and recalibrating them.

Naive Bayes multiplies one likelihood ratio per token as if the tokens were independent;
they are not ("free", "fre", "ree" and "free entry" say the same thing), so the evidence is
counted several times and the log-odds z = log P(spam | x) - log P(ham | x) come out far too
large: most posteriors are saturated, within 0.01 of 0 or 1. The ranking (ROC AUC) can be
excellent while the probabilities are not.

Scores of probabilities p_j for labels y_j in {0, 1} (spam = 1), over N messages:

- log loss (cross-entropy): -(1/N) sum_j [y_j log p_j + (1 - y_j) log(1 - p_j)];
- Brier score: (1/N) sum_j (p_j - y_j)^2, the mean squared error of the probability;
- the reliability diagram: split [0, 1] into equal bins, and in each bin compare the mean
  predicted p with the observed share of spam; calibrated means on the diagonal. Its
  weighted gap, sum_k (n_k / N) |observed_k - predicted_k|, is the expected calibration
  error (ECE).

Recalibration maps the log-odds z through a function g fitted to out-of-fold z of the
training messages (not the ones it is scored on):

- temperature scaling (Guo et al. 2017): p = sigmoid(z / T), one parameter; T > 1 softens
  every posterior, and the sign of z, hence every decision at p = 1/2, is unchanged;
- isotonic regression (Zadrozny & Elkan 2002): the non-decreasing step function of z
  closest to the labels in squared error (pool adjacent violators), linear between steps.

Sources: C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On calibration of modern neural
networks", ICML 2017; B. Zadrozny, C. Elkan, "Transforming classifier scores into accurate
multiclass probability estimates", KDD 2002; A. Niculescu-Mizil, R. Caruana, "Predicting
good probabilities with supervised learning", ICML 2005 (naive Bayes pushes probabilities
to 0 and 1); G. W. Brier, "Verification of forecasts expressed in terms of probability",
Monthly Weather Review 78 (1950).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

SATURATION = 0.01  # a posterior within this of 0 or 1 is saturated
N_BINS = 10  # bins of the reliability diagram
EPS = np.finfo(np.float64).eps  # log loss clips p to [eps, 1 - eps], as scikit-learn does
LOG_BETA_BOUNDS = (-10.0, 10.0)  # 1 / T searched in [e^-10, e^10], scikit-learn's range


def log_loss(is_spam: np.ndarray, p_spam: np.ndarray) -> float:
    """-(1/N) sum_j [y_j log p_j + (1 - y_j) log(1 - p_j)], p clipped to [eps, 1 - eps].

    The clip (machine epsilon, scikit-learn's) caps the cost of a wrong certainty at
    -log(eps) = 36 nats instead of infinity.
    """
    p = np.clip(p_spam, EPS, 1 - EPS)
    return float(-np.mean(np.where(is_spam, np.log(p), np.log1p(-p))))


def brier_score(is_spam: np.ndarray, p_spam: np.ndarray) -> float:
    """(1/N) sum_j (p_j - y_j)^2: 0 for certain and right, 1 for certain and wrong."""
    return float(np.mean((p_spam - is_spam) ** 2))


def saturated_share(p_spam: np.ndarray, margin: float = SATURATION) -> float:
    """Share of posteriors outside (margin, 1 - margin): p <= 0.01 or p >= 0.99 by default."""
    return float(np.mean((p_spam <= margin) | (p_spam >= 1 - margin)))


def reliability_bins(is_spam: np.ndarray, p_spam: np.ndarray, n_bins: int = N_BINS):
    """(mean predicted p, observed spam rate, count) of each non-empty bin of [0, 1].

    Bins of width 1 / n_bins, closed on the right: bin k holds e_k < p <= e_{k+1} (the
    first one holds p = 0 too), as ``sklearn.calibration.calibration_curve`` bins them.
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    k = (p_spam[:, np.newaxis] > edges[1:-1]).sum(axis=1)  # inner edges below p
    count = np.bincount(k, minlength=n_bins)
    predicted = np.bincount(k, weights=p_spam, minlength=n_bins)
    observed = np.bincount(k, weights=is_spam.astype(np.float64), minlength=n_bins)
    used = count > 0
    return predicted[used] / count[used], observed[used] / count[used], count[used]


def expected_calibration_error(is_spam: np.ndarray, p_spam: np.ndarray) -> float:
    """ECE = sum_k (n_k / N) |observed_k - predicted_k| over the reliability bins."""
    predicted, observed, count = reliability_bins(is_spam, p_spam)
    return float(np.sum(count * np.abs(observed - predicted)) / count.sum())


def probability_metrics(is_spam: np.ndarray, p_spam: np.ndarray) -> dict[str, float]:
    """Log loss, Brier score, share of saturated posteriors, expected calibration error."""
    return {
        "log_loss": log_loss(is_spam, p_spam),
        "brier": brier_score(is_spam, p_spam),
        "saturated_share": saturated_share(p_spam),
        "calibration_error": expected_calibration_error(is_spam, p_spam),
    }


@dataclass(frozen=True)
class Temperature:
    """p = sigmoid(beta z), beta = 1 / T: one inverse temperature for every message."""

    beta: float

    def predict(self, z: np.ndarray) -> np.ndarray:
        """P(spam) = sigmoid(z / T) for log-odds z (+-inf stay 1 and 0)."""
        return expit(self.beta * z)


def log_loss_slope(beta: float, z: np.ndarray, y: np.ndarray) -> float:
    """d/d beta of the mean log loss of sigmoid(beta z): (1/N) sum_j (sigmoid(beta z_j) - y_j) z_j.

    The loss is convex in beta (its second derivative is mean sigma'(beta z) z^2 >= 0), so
    this slope increases with beta and is 0 at the best beta.
    """
    return float(np.mean((expit(beta * z) - y) * z))


def fit_temperature(z: np.ndarray, is_spam: np.ndarray, tol: float = 1e-13) -> Temperature:
    """The beta minimizing the log loss of sigmoid(beta z), by bisection on log beta.

    The slope's sign says on which side the minimum lies; log beta is kept in [-10, 10]
    (separable data would push beta to infinity). Infinite z (alpha = 0) are left out: no
    beta > 0 changes their sigmoid.
    """
    finite = np.isfinite(z)
    z, y = z[finite], is_spam[finite].astype(np.float64)
    low, high = LOG_BETA_BOUNDS
    while high - low > tol:
        middle = (low + high) / 2
        if log_loss_slope(np.exp(middle), z, y) > 0:
            high = middle
        else:
            low = middle
    return Temperature(float(np.exp((low + high) / 2)))


@dataclass(frozen=True)
class Isotonic:
    """A non-decreasing map z -> P(spam): the fitted values at the knots, linear between."""

    knots: np.ndarray  # distinct training log-odds, increasing
    values: np.ndarray  # their fitted P(spam), non-decreasing

    def predict(self, z: np.ndarray) -> np.ndarray:
        """Linear interpolation between knots; the end values beyond them (clip)."""
        return np.interp(z, self.knots, self.values)


def pool_adjacent_violators(y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The non-decreasing f minimizing sum_j w_j (f_j - y_j)^2, y in the order of x.

    Walk left to right keeping blocks of pooled points (weighted mean, weight); while the
    last block's mean is below the one before it, merge the two. Each block's mean is then
    the fitted value of all its points.
    """
    means, weights, sizes = [], [], []
    for value, w in zip(y.tolist(), weight.tolist(), strict=True):
        means.append(value)
        weights.append(w)
        sizes.append(1)
        while len(means) > 1 and means[-2] > means[-1]:  # a violation: pool the two blocks
            w_total = weights[-2] + weights[-1]
            means[-2] = (means[-2] * weights[-2] + means[-1] * weights[-1]) / w_total
            weights[-2], sizes[-2] = w_total, sizes[-2] + sizes[-1]
            del means[-1], weights[-1], sizes[-1]
    return np.repeat(means, sizes)


def fit_isotonic(z: np.ndarray, is_spam: np.ndarray) -> Isotonic:
    """Isotonic regression of the labels on the log-odds: ties of z pooled first (mean y).

    Only the order of z matters to the fit, so z = +-inf (alpha = 0) take part as the
    outermost knots, one unit beyond the finite ones; predicted, they get the end values.
    """
    finite = z[np.isfinite(z)]
    low, high = (finite.min() - 1, finite.max() + 1) if finite.size else (-1.0, 1.0)
    knots, inverse, ties = np.unique(np.clip(z, low, high), return_inverse=True, return_counts=True)
    mean_y = np.bincount(inverse, weights=is_spam.astype(np.float64)) / ties
    return Isotonic(knots, pool_adjacent_violators(mean_y, ties.astype(np.float64)))


CALIBRATORS = {"temperature": fit_temperature, "isotonic": fit_isotonic}  # method -> fit
