"""Naive Bayes text classifiers from scratch, with the scikit-learn estimator contract.

Model. A message is a count vector x = (x_1, ..., x_n) over a vocabulary of n terms and y
is its class. Bayes' theorem with the "naive" assumption that terms are independent given
the class gives the posterior

    P(y | x) = P(y) P(x | y) / P(x),    P(x) = sum_y' P(y') P(x | y'),

computed in log space so that products of thousands of small probabilities never underflow:

    log P(y | x) = log P(y) + log P(x | y) - logsumexp_y' (log P(y') + log P(x | y')).

The prior is P(y) = N_y / N (documents of class y among N; ``fit_prior=False``: 1 / K).
The three event models differ in P(x | y); each parameter is a smoothed maximum-likelihood
estimate, alpha being the Lidstone pseudo-count (alpha = 1: Laplace; alpha = 0: plain MLE).

- Multinomial (McCallum & Nigam 1998; MRS 2008, 13.2): x_i counts draws of term i,
  log P(x | y) = sum_i x_i log theta_yi + const(x), with
  theta_yi = (N_yi + alpha) / (N_y + alpha n),  N_yi = sum of x_i over class y's documents,
  N_y = sum_i N_yi.
- Bernoulli (McCallum & Nigam 1998; MRS 2008, 13.3): x_i in {0, 1} says whether term i
  occurs, log P(x | y) = sum_i [x_i log theta_yi + (1 - x_i) log(1 - theta_yi)], with
  theta_yi = (D_yi + alpha) / (D_y + 2 alpha),  D_yi = documents of class y containing
  term i, D_y = documents of class y.
- Complement (Rennie et al. 2003): estimate each class from every other class's documents,
  theta~_yi = (sum_{y' != y} N_y'i + alpha) / (sum_{y' != y} N_y' + alpha n), weight
  w_yi = log theta~_yi (``norm=True``: w_yi / sum_j |w_yj|), and score
  s_y(x) = -sum_i x_i w_yi: the class whose complement explains x worst wins. The scores
  are turned into "probabilities" by the same log-sum-exp; they rank but are not
  calibrated (no prior enters them, as in scikit-learn's ComplementNB).

alpha = 0, the unsmoothed MLE. A term never seen in class y gets theta_yi = 0 and
log theta_yi = -inf, and then:

- a message containing the term gets P(y | x) = 0 (an absent term, x_i = 0, contributes
  nothing: the convention 0 * log 0 = 0 that the counts P(x | y) = prod_i theta_yi^x_i
  imply);
- a message for which every class has probability 0 (each class is missing one of its
  terms) has evidence P(x) = 0 and Bayes' rule is undefined; the posterior then falls
  back to the prior P(y), as if the message carried no evidence, instead of 0 / 0 = NaN;
- a class whose training documents hold no term at all (N_y = 0) gets theta_yi = 1 / n,
  the value every alpha > 0 gives, extended to alpha = 0 by continuity;
- complement NB with norm=False gives s_y = +inf to a class whose complement never saw a
  term of x; such classes share the probability equally. norm=True divides by
  sum_j |log theta~_yj| = inf and is rejected with alpha = 0.

Sources:
- A. McCallum, K. Nigam, "A comparison of event models for naive Bayes text
  classification", AAAI-98 Workshop on Learning for Text Categorization (1998).
- J. D. M. Rennie, L. Shih, J. Teevan, D. R. Karger, "Tackling the poor assumptions of
  naive Bayes text classifiers", ICML 2003.
- C. D. Manning, P. Raghavan, H. Schütze, "Introduction to Information Retrieval" (2008),
  chapter 13 (MRS). https://nlp.stanford.edu/IR-book/
- scikit-learn's ``MultinomialNB``, ``BernoulliNB`` and ``ComplementNB`` for the attribute
  names (there alpha < 1e-10 is clipped unless ``force_alpha=True``; here it is not).
"""

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data

from common.exercises import exercise
from common.validation import check_number


def log_prior(class_count, fit_prior):
    """log P(y) = log(N_y / N), or log(1 / K) for every class when fit_prior is False."""
    if not fit_prior:
        return np.full(len(class_count), -np.log(len(class_count)))
    return np.log(class_count) - np.log(class_count.sum())


def log(p):
    """log p with log 0 = -inf, without a divide-by-zero warning (alpha = 0 makes zeros)."""
    with np.errstate(divide="ignore"):
        return np.log(p)


@exercise("W2.X1", hint="alpha on each count, alpha * n_outcomes on each total; totals[:, None]")
def smoothed_log_mle(counts, totals, alpha, n_outcomes):
    """log theta_yi = log(count_yi + alpha) - log(total_y + alpha V), the Lidstone estimate.

    counts: shape (n_classes, n_features); totals: shape (n_classes,); V = n_outcomes, the
    number of values one draw can take. alpha = 0 is the maximum-likelihood estimate
    count / total, alpha = 1 Laplace's rule. Returns shape (n_classes, n_features), with
    log 0 = -inf where count_yi + alpha = 0.
    """
    return log(counts + alpha) - np.log(totals + alpha * n_outcomes)[:, np.newaxis]


def multinomial_log_theta(N_yi, alpha):
    """log theta_yi = log(N_yi + alpha) - log(N_y + alpha n), N_y = sum_i N_yi.

    A class with N_y = 0 gets theta_yi = 1 / n: the value of every alpha > 0, for alpha = 0
    too (the MLE 0 / 0 is undefined).
    """
    n = N_yi.shape[1]
    N_y = N_yi.sum(axis=1)  # shape (n_classes,)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 / 0 rows are replaced below
        log_theta = smoothed_log_mle(N_yi, N_y, alpha, n)
    log_theta[N_y + alpha * n == 0] = -np.log(n)  # N_y = 0 and alpha = 0
    return log_theta


def bernoulli_log_theta(D_yi, D_y, alpha):
    """(log theta_yi, log(1 - theta_yi)) with theta_yi = (D_yi + alpha) / (D_y + 2 alpha).

    Each term is present or absent in a document: V = 2 outcomes, D_y - D_yi documents of
    class y lack term i. D_y >= 1: every class has a document.
    """
    with np.errstate(divide="ignore"):  # alpha = 0: log 0 = -inf
        present = smoothed_log_mle(D_yi, D_y, alpha, 2)
        absent = smoothed_log_mle(D_y[:, np.newaxis] - D_yi, D_y, alpha, 2)
    return present, absent


def complement_weights(N_yi, alpha, norm):
    """w_yi = log theta~_yi, theta~_yi = (N_~yi + alpha) / (N_~y + alpha n); norm: / sum |w|.

    N_~yi = sum_{y' != y} N_y'i counts term i in every class but y.
    """
    N_not_yi = N_yi.sum(axis=0) - N_yi  # shape (n_classes, n_features)
    with np.errstate(divide="ignore", invalid="ignore"):  # alpha = 0: log 0 = -inf
        w = smoothed_log_mle(N_not_yi, N_not_yi.sum(axis=1), alpha, N_yi.shape[1])
    if norm:
        w = w / np.abs(w).sum(axis=1, keepdims=True)
    return w


def log_linear(X, W, bias):
    """s_y(x) = bias_y + sum_i x_i W_yi for each row x of X (n_samples, n_classes).

    0 * (+-inf) = 0: a term absent from x adds nothing even where W_yi is infinite (alpha =
    0); a present term with W_yi = -inf (+inf) makes s_y = -inf (+inf).
    """
    infinite = ~np.isfinite(W)
    if not infinite.any():
        return np.asarray(X @ W.T) + bias  # the textbook formula: the common case
    scores = np.asarray(X @ np.where(infinite, 0.0, W).T) + bias
    for is_sign, sign in ((np.isneginf, -np.inf), (np.isposinf, np.inf)):
        hits = np.asarray(X @ is_sign(W).T.astype(np.float64)) > 0  # sum_i x_i 1[W_yi = sign]
        scores[hits] = sign
    return scores


def log_linear_absent(X, W):
    """sum_i (1 - x_i) W_yi for each row x of a 0/1 matrix X, with 0 * (-inf) = 0.

    Computed as sum_i W_yi - sum_i x_i W_yi, so a sparse X is never densified; a term with
    W_yi = -inf (theta_yi = 1 under alpha = 0) missing from x makes the sum -inf.
    """
    impossible = np.isneginf(W)
    W_finite = np.where(impossible, 0.0, W)
    total = W_finite.sum(axis=1) - np.asarray(X @ W_finite.T)
    if impossible.any():
        missing = impossible.sum(axis=1) - np.asarray(X @ impossible.T.astype(np.float64))
        total[missing > 0] = -np.inf
    return total


@exercise(
    "W2.1",
    hint="subtract each row's maximum m before exp: logsumexp(s) = m + log sum exp(s - m)",
)
def log_normalize(scores):
    """log P(y | x) = s_y - log sum_y' exp(s_y'), row by row (Bayes: joint / evidence).

    scores: shape (n_samples, n_classes), s_y = log P(y) + log P(x | y), the joint
    log-likelihood; -inf entries allowed, each row holds a finite one. The log of the
    evidence P(x) is logsumexp_y' s_y'; computed without overflow or underflow even where
    every s_y is -1000. Returns shape (n_samples, n_classes); exp of each row sums to 1.
    """
    return scores - logsumexp(scores, axis=1, keepdims=True)


def log_posterior(scores, log_prior):
    """log P(y | x) = s_y(x) - logsumexp_y' s_y'(x), row by row, never NaN.

    A row whose scores are all -inf (P(x) = 0 under alpha = 0) gets the prior log P(y); a
    row with +inf scores (complement NB, alpha = 0) splits the mass among those classes.
    """
    scores = scores.copy()
    scores[np.isneginf(scores).all(axis=1)] = log_prior
    certain = np.isposinf(scores)
    rows = certain.any(axis=1)
    scores[rows] = np.where(certain[rows], 0.0, -np.inf)
    return log_normalize(scores)


class NaiveBayes(ClassifierMixin, BaseEstimator):
    """What the three event models share: labels, counts, the posterior; see the module."""

    def check_params(self):
        """Raise ValueError on a parameter outside its documented values; return self."""
        check_number(self.alpha, "alpha", 0)
        return self

    def _check_X(self, X, reset, y=None):
        """Validated X (float64, dense or CSR) and y; counts must be non-negative."""
        if reset:
            X, y = validate_data(self, X, y, accept_sparse="csr", dtype=np.float64)
        else:
            X = validate_data(self, X, accept_sparse="csr", dtype=np.float64, reset=False)
        check_non_negative(X, f"{type(self).__name__} (input X)")
        return X, y

    def fit(self, X, y):
        """Estimate P(y) and the per-class term parameters from X (n_samples, n_features)."""
        self.check_params()
        X, y = self._check_X(X, reset=True, y=y)
        # Hash the labels once and sort only the distinct ones: np.unique on the whole of
        # an object array compares strings n log n times.
        codes, distinct = pd.factorize(y, use_na_sentinel=False)
        check_classification_targets(distinct)  # y is 1-D: its distinct values decide
        self.classes_, rank = np.unique(distinct, return_inverse=True)
        y_index = rank[codes]
        Y = np.zeros((len(y_index), len(self.classes_)))  # one-hot, shape (n_samples, K)
        Y[np.arange(len(y_index)), y_index] = 1.0
        self.class_count_ = Y.sum(axis=0)  # N_y, documents per class
        self.feature_count_ = np.asarray(X.T @ Y).T  # N_yi, shape (K, n_features)
        self._estimate()
        return self

    def estimate_from_counts(self):
        """Re-estimate P(y) and the term parameters from the fitted counts N_y and N_yi
        alone (sufficient statistics): after ``set_params(alpha=...)`` no pass over the
        data is needed. Validates the parameters first; returns self."""
        check_is_fitted(self)
        self.check_params()
        self._estimate()
        return self

    def _joint_log_likelihood(self, X):
        raise NotImplementedError

    def predict_joint_log_proba(self, X):
        """s_y(x) = log P(y) + log P(x | y) (up to a term free of y), shape (n_samples, K)."""
        check_is_fitted(self)
        X, _ = self._check_X(X, reset=False)
        return self._joint_log_likelihood(X)

    def predict_log_proba(self, X):
        """log P(y | x) = s_y(x) - logsumexp_y' s_y'(x), shape (n_samples, n_classes)."""
        return log_posterior(self.predict_joint_log_proba(X), self.class_log_prior_)

    def predict_proba(self, X):
        """P(y | x) = exp(log P(y | x)); each row sums to 1."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """The maximum a posteriori class, argmax_y P(y | x)."""
        log_proba = self.predict_log_proba(X)  # checks that the model is fitted
        return self.classes_[np.argmax(log_proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = True
        # Count models score poorly on the Gaussian blobs of sklearn's checks (its own
        # discrete naive Bayes models carry the same tag).
        tags.classifier_tags.poor_score = True
        return tags


class MultinomialNaiveBayes(NaiveBayes):
    """Multinomial naive Bayes: log P(y | x) = log P(y) + sum_i x_i log theta_yi - log Z.

    Parameters
    ----------
    alpha : float, default=1.0
        Lidstone pseudo-count added to every N_yi (1: Laplace, 0: unsmoothed MLE).
    fit_prior : bool, default=True
        P(y) = N_y / N if True, else uniform 1 / K.

    Attributes
    ----------
    classes_ : ndarray (K,)
        The class labels, sorted.
    class_count_ : ndarray (K,)
        N_y, training documents per class.
    class_log_prior_ : ndarray (K,)
        log P(y).
    feature_count_ : ndarray (K, n_features)
        N_yi, occurrences of term i in class y.
    feature_log_prob_ : ndarray (K, n_features)
        log theta_yi = log(N_yi + alpha) - log(N_y + alpha n); -inf for a term unseen in
        class y when alpha = 0.
    n_features_in_ : int
        n, the number of terms.
    """

    def __init__(self, alpha=1.0, fit_prior=True):
        self.alpha = alpha
        self.fit_prior = fit_prior

    def _estimate(self):
        self.class_log_prior_ = log_prior(self.class_count_, self.fit_prior)
        self.feature_log_prob_ = multinomial_log_theta(self.feature_count_, self.alpha)

    def _joint_log_likelihood(self, X):
        # log P(y) + sum_i x_i log theta_yi; the multinomial coefficient of x is the same
        # for every class and cancels in log Z.
        return log_linear(X, self.feature_log_prob_, self.class_log_prior_)


class BernoulliNaiveBayes(NaiveBayes):
    """Bernoulli naive Bayes: log P(y | x) = log P(y) + sum_i [x_i log theta_yi +
    (1 - x_i) log(1 - theta_yi)] - log Z, with x_i = 1[count_i > binarize].

    Parameters
    ----------
    alpha : float, default=1.0
        Pseudo-count: theta_yi = (D_yi + alpha) / (D_y + 2 alpha).
    binarize : float or None, default=0.0
        Threshold: x_i = 1[count_i > binarize]. None takes X as given (meant for 0/1, as in
        scikit-learn): values in [0, 1] act as soft presences in the same formulas, and a
        value above 1 can make D_yi > D_y, theta_yi > 1 and log(1 - theta_yi) NaN, with
        numpy's "invalid value" warning, as scikit-learn's BernoulliNB does.
    fit_prior : bool, default=True
        P(y) = N_y / N if True, else uniform 1 / K.

    Attributes
    ----------
    classes_, class_count_, class_log_prior_, n_features_in_
        As in ``MultinomialNaiveBayes``.
    feature_count_ : ndarray (K, n_features)
        D_yi, documents of class y containing term i.
    feature_log_prob_ : ndarray (K, n_features)
        log theta_yi.
    """

    def __init__(self, alpha=1.0, binarize=0.0, fit_prior=True):
        self.alpha = alpha
        self.binarize = binarize
        self.fit_prior = fit_prior

    def check_params(self):
        """As ``NaiveBayes.check_params``, and binarize: a finite number or None."""
        super().check_params()
        check_number(self.binarize, "binarize", or_none=True)
        return self

    def _check_X(self, X, reset, y=None):
        X, y = super()._check_X(X, reset, y)
        if self.binarize is None:  # X as given, as scikit-learn's BernoulliNB(binarize=None)
            return X, y
        if sp.issparse(X):
            X = X.copy()
            X.data = (X.data > self.binarize).astype(np.float64)
            X.eliminate_zeros()
            return X, y
        return np.greater(X, self.binarize).astype(np.float64), y  # x_i = 1[count_i > threshold]

    def _estimate(self):
        self.class_log_prior_ = log_prior(self.class_count_, self.fit_prior)
        self.feature_log_prob_, _ = bernoulli_log_theta(
            self.feature_count_, self.class_count_, self.alpha
        )

    def _joint_log_likelihood(self, X):
        # log P(y) + sum_i x_i log theta_yi + sum_i (1 - x_i) log(1 - theta_yi)
        # log(1 - theta) from the counts, not from 1 - exp(log theta): exact near theta = 1,
        # and the fitted state stays the public attributes alone.
        _, log_not_theta = bernoulli_log_theta(self.feature_count_, self.class_count_, self.alpha)
        present = log_linear(X, self.feature_log_prob_, self.class_log_prior_)
        return present + log_linear_absent(X, log_not_theta)


class ComplementNaiveBayes(NaiveBayes):
    """Complement naive Bayes: s_y(x) = -sum_i x_i w_yi, w_yi = log theta~_yi (Rennie 2003).

    predict_log_proba gives s_y(x) - logsumexp_y' s_y'(x): a ranking, not a calibrated
    probability (scikit-learn's ComplementNB does the same).

    Parameters
    ----------
    alpha : float, default=1.0
        Pseudo-count added to the complement counts N_~yi.
    norm : bool, default=False
        Normalise the weights, w_yi / sum_j |w_yj| (Rennie et al.'s weight normalisation);
        needs alpha > 0.

    Attributes
    ----------
    classes_, class_count_, class_log_prior_, feature_count_, n_features_in_
        As in ``MultinomialNaiveBayes``; the prior enters the scores only when there is a
        single class (as in scikit-learn).
    feature_all_ : ndarray (n_features,)
        sum_y N_yi, occurrences of term i over all classes.
    feature_log_prob_ : ndarray (K, n_features)
        -w_yi, so that s_y(x) = sum_i x_i feature_log_prob_yi (scikit-learn's convention).
    """

    def __init__(self, alpha=1.0, norm=False):
        self.alpha = alpha
        self.norm = norm

    def check_params(self):
        """As ``NaiveBayes.check_params``, and norm=True only with alpha > 0."""
        super().check_params()
        if self.norm and self.alpha == 0:
            raise ValueError(
                "norm=True needs alpha > 0: with alpha = 0 a term never seen outside a class "
                "has log theta~ = -inf and sum_j |w_yj| is infinite, got alpha=0"
            )
        return self

    def _estimate(self):
        self.class_log_prior_ = log_prior(self.class_count_, fit_prior=True)
        self.feature_all_ = self.feature_count_.sum(axis=0)
        self.feature_log_prob_ = -complement_weights(self.feature_count_, self.alpha, self.norm)

    def _joint_log_likelihood(self, X):
        # s_y(x) = -sum_i x_i w_yi; with one class the complement is empty and only the
        # prior is left to score with (scikit-learn's rule).
        bias = self.class_log_prior_ if len(self.classes_) == 1 else 0.0
        return log_linear(X, self.feature_log_prob_, bias)
