"""Information theory of discrete distributions and of label arrays, in NumPy.

Curriculum ids: W4.3 entropy, cross-entropy and KL divergence, W4.P2 entropy as
``scipy.stats.entropy`` computes it, W4.X1 mutual information (the information gain of a
split is the mutual information between the split and the label).

For distributions p, q over K outcomes (logarithms in nats; ``base=2`` gives bits):

    H(p)      = -sum_k p_k log p_k                  entropy, 0 <= H(p) <= log K
    H(p, q)   = -sum_k p_k log q_k                  cross-entropy
    KL(p||q)  =  sum_k p_k log(p_k / q_k)           = H(p, q) - H(p) >= 0 (Gibbs)
    I(X; Y)   =  H(Y) - H(Y | X)                    = H(X) + H(Y) - H(X, Y) >= 0
    H(Y | X)  =  sum_a p(a) H(Y | X = a)
    IG        =  H(Y) - (n_L / n) H(Y_L) - (n_R / n) H(Y_R)   a split's information gain

with the convention 0 log 0 = 0 (the limit of t log t as t -> 0), and p_k log(p_k / 0) = inf
for p_k > 0: a model that gives probability 0 to an outcome that happens is infinitely wrong.
Like ``scipy.stats.entropy``, p and q may be given as counts; they are divided by their sums.
The label functions use the empirical distribution of label arrays: p(a) = #{i: x_i = a} / n.

Sources:
- T. M. Cover, J. A. Thomas, "Elements of Information Theory", 2nd ed. (2006), chapter 2.
- D. J. C. MacKay, "Information Theory, Inference, and Learning Algorithms" (2003), ch. 2, 8.
- J. R. Quinlan, "Induction of decision trees", Machine Learning 1 (1986): information gain.
"""

import numpy as np
from scipy.special import xlogy

from common.exercises import exercise


def log_of_base(base):
    """log(base), the divisor that turns nats into units of ``base`` (1 for nats: None)."""
    if base is None:
        return 1.0
    if not np.isfinite(base) or base <= 0 or base == 1:
        raise ValueError(f"base must be a finite number > 0 other than 1 (2: bits), got {base}")
    return np.log(base)


def distribution(p, name="p"):
    """p / sum_k p_k: a probability vector from probabilities or counts (1-D, >= 0, sum > 0)."""
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} must be finite, got {p[~np.isfinite(p)][0]}")
    if np.any(p < 0):
        raise ValueError(f"{name} must be >= 0 (probabilities or counts), got {p[p < 0][0]}")
    total = p.sum()
    if total == 0:
        raise ValueError(f"{name} sums to 0: at least one probability or count must be > 0")
    return p / total


def pair_of_distributions(p, q):
    """(p, q) normalized, checked to lie on the same K outcomes."""
    p, q = distribution(p, "p"), distribution(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same length, got {len(p)} and {len(q)}")
    return p, q


@exercise("W4.3", hint="normalize with distribution(p); 0 log 0 = 0: scipy.special.xlogy")
def entropy(p, base=None):
    """H(p) = -sum_k p_k log p_k, with 0 log 0 = 0."""
    p = distribution(p)
    return -np.sum(xlogy(p, p)) / log_of_base(base)


@exercise("W4.3", hint="xlogy(p, q) is p log q with 0 log 0 = 0; divide by log_of_base")
def cross_entropy(p, q, base=None):
    """H(p, q) = -sum_k p_k log q_k; inf where q_k = 0 < p_k."""
    p, q = pair_of_distributions(p, q)
    with np.errstate(divide="ignore"):
        return -np.sum(xlogy(p, q)) / log_of_base(base)


@exercise("W4.3", hint="sum only where p > 0; q = 0 < p gives inf")
def kl_divergence(p, q, base=None):
    """KL(p || q) = sum_k p_k log(p_k / q_k) over p_k > 0; inf where q_k = 0 < p_k."""
    p, q = pair_of_distributions(p, q)
    support = p > 0  # terms with p_k = 0 are 0 log(0 / q_k) = 0
    with np.errstate(divide="ignore"):
        return np.sum(p[support] * np.log(p[support] / q[support])) / log_of_base(base)


def label_array(x, name):
    """x as a non-empty 1-D array of labels."""
    x = np.asarray(x)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of labels, got shape {x.shape}")
    return x


def label_entropy(y, base=None):
    """H(Y) of the empirical distribution p(b) = #{i: y_i = b} / n of the labels y."""
    _, counts = np.unique(label_array(y, "y"), return_counts=True)
    return entropy(counts, base)


def contingency_table(x, y):
    """N_ab = #{i: x_i = a, y_i = b}, shape (distinct values of x, distinct values of y)."""
    x, y = label_array(x, "x"), label_array(y, "y")
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    x_values, a = np.unique(x, return_inverse=True)
    y_values, b = np.unique(y, return_inverse=True)
    cells = np.bincount(a * len(y_values) + b, minlength=len(x_values) * len(y_values))
    return cells.reshape(len(x_values), len(y_values))


def conditional_entropy(y, x, base=None):
    """H(Y | X) = sum_a p(a) H(Y | X = a) = -sum_ab p(a, b) log(N_ab / N_a), N_a = sum_b N_ab."""
    N = contingency_table(x, y)  # N_ab, shape (distinct x, distinct y)
    N_a = N.sum(axis=1, keepdims=True)
    return -np.sum(xlogy(N, N / N_a)) / N.sum() / log_of_base(base)


@exercise("W4.X1", hint="H(Y) minus H(Y | X); label_entropy and conditional_entropy are there")
def mutual_information(x, y, base=None):
    """I(X; Y) = H(Y) - H(Y | X) of two label arrays x, y (n,): a number >= 0, what X tells
    about Y (and Y about X); in nats, or in units of ``base`` (2: bits)."""
    return label_entropy(y, base) - conditional_entropy(y, x, base)


@exercise("W4.X1", hint="y[left_mask] and y[~left_mask] are the children; label_entropy of each")
def information_gain(y, left_mask, base=None):
    """IG = H(Y) - (n_L / n) H(Y_L) - (n_R / n) H(Y_R) of labels y (n,) split by a boolean
    left_mask (n,) (Y_L = y[left_mask]): a number >= 0; an empty side contributes 0."""
    y = label_array(y, "y")
    left_mask = np.asarray(left_mask)
    if left_mask.dtype != bool:
        raise ValueError(f"left_mask must be a boolean array, got dtype {left_mask.dtype}")
    if left_mask.shape != y.shape:
        raise ValueError(
            f"left_mask must have one entry per label, got shape {left_mask.shape} for "
            f"{len(y)} labels"
        )
    children = (y[side] for side in (left_mask, ~left_mask))
    weighted = sum(len(y_s) / len(y) * label_entropy(y_s, base) for y_s in children if len(y_s))
    return label_entropy(y, base) - weighted


@exercise("W4.P3", hint="the column of y_i: np.searchsorted(classes, y_true); clip, -log, mean")
def log_loss(y_true, proba, labels=None):
    """(1/n) sum_i -log p_i,y_i, the mean cross-entropy H(onehot(y_i), p_i) (natural log).

    ``proba`` is (n, K) with columns in the order of the sorted ``labels`` (default: the
    sorted distinct values of y_true), or (n,) for two classes: the probability of the
    larger label, which gives the binary cross-entropy -(1/n) sum_i [t_i log p_i +
    (1 - t_i) log(1 - p_i)]. Probabilities are clipped to [eps, 1 - eps], eps = 2.2e-16
    (float64 machine epsilon), as in ``sklearn.metrics.log_loss``: a confident wrong
    answer costs -log(eps) = 36.04 nats instead of inf.
    """
    y_true = label_array(y_true, "y_true")
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim == 1:
        proba = np.column_stack([1 - proba, proba])
    if proba.ndim != 2 or len(proba) != len(y_true):
        raise ValueError(
            f"proba must have one row per label, got shape {proba.shape} for {len(y_true)} labels"
        )
    if not np.all((proba >= 0) & (proba <= 1)):
        raise ValueError("proba must hold probabilities in [0, 1], got values outside")
    classes = np.unique(y_true if labels is None else labels)
    if proba.shape[1] != len(classes):
        raise ValueError(
            f"proba has {proba.shape[1]} columns but there are {len(classes)} classes "
            f"{classes.tolist()}; pass labels= to name the classes of the columns"
        )
    k = np.searchsorted(classes, y_true)
    if np.any(k == len(classes)) or np.any(classes[np.minimum(k, len(classes) - 1)] != y_true):
        raise ValueError(f"y_true has labels outside labels={classes.tolist()}")
    eps = np.finfo(np.float64).eps
    p_true = np.clip(proba[np.arange(len(y_true)), k], eps, 1 - eps)  # p_i,y_i
    return -np.mean(np.log(p_true))
