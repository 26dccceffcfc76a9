"""A decision tree classifier from scratch, grown level by level with vectorized split search.

Model (CART, Breiman et al. 1984, with ID3's entropy criterion, Quinlan 1986). A node t
holds n_t samples with class counts N_tk and impurity

    entropy  H(t) = -sum_k p_tk log2 p_tk      (bits, as scikit-learn)
    Gini     G(t) = 1 - sum_k p_tk^2,          p_tk = N_tk / n_t.

A split "x_j <= s" sends the n_L samples with x_j <= s left and the n_R others right; its
gain is the impurity decrease (for the entropy: the information gain, equal to the mutual
information between the split indicator and the label, W4.X1)

    gain(t, j, s) = I(t) - (n_L / n_t) I(t_L) - (n_R / n_t) I(t_R).

Each node takes the split of largest gain over all features j and all thresholds s at the
midpoints between consecutive distinct values of x_j in the node. A node stays a leaf when
it is pure (I(t) <= machine epsilon), has depth ``max_depth``, has fewer than
``min_samples_split`` samples (or fewer than 2 ``min_samples_leaf``), has no split leaving
``min_samples_leaf`` samples on each side, or its best split has weighted decrease
(n_t / n) gain < ``min_impurity_decrease`` (scikit-learn's definition). A leaf predicts
p(k | x) = N_tk / n_t. The fitted tree is a rooted binary tree (W4.X2): every split node has
two children, so n_nodes = 2 n_leaves - 1.

Ties. Among equally good splits the lowest feature index wins, then the lowest threshold.
scikit-learn visits the features in a random order instead (``random_state``), so where
several features give the same best gain the two trees may split on different ones.

The fit grows the tree breadth first, a whole level at a time: ``split_search`` finds the
best split of every open node of the level at once (its docstring tells how), ``choose_splits``
keeps those whose weighted decrease is large enough, and the fitted tree is the flat arrays of
``tree_structure.Tree``, which also routes rows to their leaves for ``predict``. The formulas
the search is built on are here, the exercises a learner writes (``entropy_of_counts``,
``cumulative_class_counts``, ``split_scores``); ``split_search`` and this module import each
other as modules, so either can be imported first.

Sources:
- L. Breiman, J. Friedman, R. Olshen, C. Stone, "Classification and Regression Trees" (1984).
- J. R. Quinlan, "Induction of decision trees", Machine Learning 1 (1986).
- T. Hastie, R. Tibshirani, J. Friedman, "The Elements of Statistical Learning", 2nd ed.
  (2009), section 9.2.
- scikit-learn's ``DecisionTreeClassifier`` and its ``tree_`` arrays, for the attribute
  names and the stopping rules.
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from common.estimator_files import object_state, read_state, restore_object, write_state
from common.exercises import exercise
from common.validation import check_int, check_number
from projects.week4_tree_search import split_search
from projects.week4_tree_search.tree_structure import LEAF, UNDEFINED, NotFinite, Tree

EPSILON = np.finfo(np.float64).eps  # a node this impure or less counts as pure


@exercise("W4.P2", hint="divide each column by its sum (axis=0); 0 log 0 = 0, e.g. np.maximum")
def entropy_of_counts(counts):
    """H = -sum_k p_k log2 p_k, p_k = N_k / n, n = sum_k N_k, in bits, for class counts N of
    shape (K, ...): one entropy per column, shape (...), as scipy.stats.entropy(counts,
    base=2, axis=0) computes it (counts are normalized; N_k = 0 terms are 0).

    Computed as (1/n) sum_k N_k (log2 n - log2 N_k): one logarithm per count and no
    division per class (the split search evaluates it millions of times); every term is
    >= 0 and a pure node gets exactly 0; N_k = 0 terms are 0 (0 log 0 = 0).
    """
    n = counts.sum(axis=0)
    return (counts * (np.log2(n) - np.log2(np.maximum(counts, 1)))).sum(axis=0) / n


def gini_of_counts(counts):
    """G = 1 - sum_k p_k^2, p_k = N_k / n, for class counts N of shape (K, ...)."""
    n = counts.sum(axis=0)
    return 1 - (counts * counts).sum(axis=0) / (n * n)


IMPURITY = {"entropy": entropy_of_counts, "gini": gini_of_counts}


@exercise("W4.P4", hint="compare y_sorted with each class index (a one-hot), then np.cumsum")
def cumulative_class_counts(y_sorted, n_classes):
    """N_ki = #{i' <= i : y_i' = k}: for class indices y_sorted (m,) in 0..n_classes - 1, the
    class counts of the first i + 1 labels, shape (n_classes, m). In a node sorted by x_j,
    column i holds N_Lk of the split that sends samples 0..i left.
    """
    classes = np.arange(n_classes)[:, np.newaxis]
    return np.cumsum(y_sorted == classes, axis=1, dtype=np.int32)


@exercise("W4.P4", hint="the right side is counts - counts_left; n_L, n_R: sums over axis 0")
def split_scores(counts_left, counts, impurity):
    """n_L I(t_L) + n_R I(t_R) of each candidate split, shape (m,): the impurity of the
    children weighted by their sizes, n_t (I(t) - gain), so the best split has the least.

    ``counts_left`` (K, m) holds the class counts N_Lk sent left by each of m candidate
    splits, ``counts`` (K, m) those N_tk of the node each split divides (N_Rk = N_tk - N_Lk,
    n_L = sum_k N_Lk, n_R = sum_k N_Rk); ``impurity`` maps class counts (K, m) to the
    impurity of each column, e.g. ``entropy_of_counts``.
    """
    counts_right = counts - counts_left
    n_left, n_right = counts_left.sum(axis=0), counts_right.sum(axis=0)
    return n_left * impurity(counts_left) + n_right * impurity(counts_right)


def split_gain(impurity, counts_left, counts_right):
    """gain = I(t) - (n_L / n) I(t_L) - (n_R / n) I(t_R), for class counts of shape (K, ...)."""
    n_left, n_right = counts_left.sum(axis=0), counts_right.sum(axis=0)
    n = n_left + n_right
    return (
        impurity(counts_left + counts_right)
        - n_left / n * impurity(counts_left)
        - n_right / n * impurity(counts_right)
    )


class LevelSplits(NamedTuple):
    """The chosen splits of a level's open nodes; arrays after ``splits`` cover those splitting."""

    splits: np.ndarray  # bool, one per open node
    feature: np.ndarray
    threshold: np.ndarray  # x_low <= threshold < x_high around the cut
    gain: np.ndarray
    counts_left: np.ndarray  # N_Lk, shape (K, n_split)
    counts_right: np.ndarray


def choose_splits(
    X,
    increases,
    order,
    y_index,
    counts,
    impurity,
    min_samples_leaf,
    min_decrease,
    search=None,
):
    """Each open node's best split over all features, kept if (n_t / n) gain is large enough.

    ``counts`` (K, n_open) are the open nodes' class counts; ties between features go to the
    lowest feature index. ``min_decrease`` is ``min_impurity_decrease``; ``search`` is
    ``best_splits``, ``best_splits_grouped`` or ``best_splits_present_classes`` (the
    same results).
    """
    score, position, counts_left = (search or split_search.best_splits_present_classes)(
        increases, order, y_index, counts, impurity, min_samples_leaf
    )
    nodes = np.arange(counts.shape[1])
    feature = np.argmin(score, axis=0)  # ties: the lowest feature index
    splits = np.isfinite(score[feature, nodes])
    f, p = feature[splits], position[feature, nodes][splits]
    counts_left = counts_left[f, :, nodes[splits]].T  # (K, n_split)
    counts_right = counts[:, splits] - counts_left
    gain = split_gain(impurity, counts_left, counts_right)
    weight = counts[:, splits].sum(axis=0) / len(y_index)  # n_t / n
    enough = weight * gain + EPSILON >= min_decrease  # scikit-learn's comparison
    splits[splits] = enough
    f, p, gain = f[enough], p[enough], gain[enough]
    x_low, x_high = X[order[f, p], f], X[order[f, p + 1], f]
    middle = x_low / 2 + x_high / 2
    threshold = np.where(middle < x_high, middle, x_low)  # the midpoint, unless it rounds up
    return LevelSplits(splits, f, threshold, gain, counts_left[:, enough], counts_right[:, enough])


def leaves(counts, impurity, depth):
    """The tree arrays of one level's nodes, all leaves until ``choose_splits`` says otherwise."""
    n_nodes = counts.shape[1]
    return {
        "children_left": np.full(n_nodes, LEAF),
        "children_right": np.full(n_nodes, LEAF),
        "feature": np.full(n_nodes, UNDEFINED),
        "threshold": np.full(n_nodes, float(UNDEFINED)),
        "impurity": impurity,
        "class_count": counts.T.astype(np.int64),
        "depth": np.full(n_nodes, depth),
        "gain": np.full(n_nodes, np.nan),
    }


def record_splits(level: dict, splitting, found, first_child_id: int) -> None:
    """Write the splits ``found`` into the nodes ``splitting`` of ``level``: their feature,
    threshold and gain, and their children's ids, numbered from ``first_child_id`` in parent
    order, left before right (a left child's right sibling is its id + 1)."""
    left_id = first_child_id + 2 * np.arange(len(found.feature))
    level["children_left"][splitting] = left_id
    level["children_right"][splitting] = left_id + 1
    level["feature"][splitting] = found.feature
    level["threshold"][splitting] = found.threshold
    level["gain"][splitting] = found.gain


class DecisionTreeClassifier(ClassifierMixin, BaseEstimator):
    """A classification tree with entropy (information gain) or Gini splits; see the module.

    Parameters
    ----------
    criterion : {"entropy", "gini"}, default="entropy"
        The impurity I(t) whose decrease the splits maximize.
    max_depth : int or None, default=None
        Nodes at this depth are leaves (the root has depth 0); None: no limit.
    min_samples_split : int, default=2
        A node with fewer samples is a leaf.
    min_samples_leaf : int, default=1
        Every split leaves at least this many samples on each side.
    min_impurity_decrease : float, default=0.0
        A node splits only if (n_t / n) gain >= this (entropy gains in bits).

    Attributes
    ----------
    classes_ : ndarray (K,)
        The class labels, sorted.
    n_features_in_ : int
        The number of features.
    tree_ : Tree
        The fitted tree as flat arrays, nodes numbered breadth first.
    feature_importances_ : ndarray (n_features,)
        sum_t (n_t / n) gain(t) over the splits on each feature, normalized to sum to 1
        (all zeros for a one-leaf tree), as in scikit-learn.

    A single class gives a one-leaf tree that predicts it. Features must be finite.
    Unlike scikit-learn, X stays float64 (scikit-learn casts to float32, so its thresholds
    are midpoints of float32 values) and any two distinct values can be cut between
    (scikit-learn needs them 1e-7 apart).
    """

    def __init__(
        self,
        criterion="entropy",
        max_depth=None,
        min_samples_split=2,
        min_samples_leaf=1,
        min_impurity_decrease=0.0,
    ):
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_impurity_decrease = min_impurity_decrease

    def check_params(self):
        """Raise ValueError on a parameter outside its documented values; return self."""
        if self.criterion not in IMPURITY:
            raise ValueError(f"criterion must be one of {sorted(IMPURITY)}, got {self.criterion!r}")
        check_int(self.max_depth, "max_depth", 1, or_none=True)
        check_int(self.min_samples_split, "min_samples_split", 2)
        check_int(self.min_samples_leaf, "min_samples_leaf", 1)
        check_number(self.min_impurity_decrease, "min_impurity_decrease", 0, finite=False)
        return self

    def _check_X(self, X, reset, y=None):
        """X as float64 (n_samples, n_features); an error names the non-finite features."""
        if reset:
            X, y = validate_data(self, X, y, dtype=np.float64, ensure_all_finite=False)
        else:
            X = validate_data(self, X, dtype=np.float64, ensure_all_finite=False, reset=False)
        if not np.isfinite(X.sum()) and not np.isfinite(X).all():  # a sum: no n x d temporary
            problems = [
                f"{name} in features {np.flatnonzero(test(X).any(axis=0)).tolist()}"
                for name, test in (("NaN", np.isnan), ("infinity", np.isinf))
                if test(X).any()
            ]
            raise ValueError(
                f"X contains {' and '.join(problems)}; the tree needs finite values: impute "
                "or drop them first (e.g. sklearn.impute.SimpleImputer)"
            )
        return X, y

    def fit(self, X, y):
        """Grow the tree on X (n_samples, n_features) and labels y of any sortable type."""
        self.check_params()
        X, y = self._check_X(X, reset=True, y=y)
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        self.tree_ = self._grow(X, y_index, len(self.classes_))
        self.feature_importances_ = importances(self.tree_, self.n_features_in_)
        return self

    def _can_split(self, counts, impurity, depth):
        """Which nodes of one depth (class counts (K, n_nodes)) may still split."""
        n_t = counts.sum(axis=0)
        max_depth = np.inf if self.max_depth is None else self.max_depth
        return (
            (n_t >= self.min_samples_split)
            & (n_t >= 2 * self.min_samples_leaf)
            & (impurity > EPSILON)
            & (depth < max_depth)
        )

    def _grow(self, X, y_index, n_classes):
        """Breadth first: the best splits of a whole level at once, then the next level."""
        impurity = IMPURITY[self.criterion]
        leaf_size, min_decrease = self.min_samples_leaf, self.min_impurity_decrease
        counts = np.bincount(y_index, minlength=n_classes).astype(np.float64)[:, np.newaxis]
        node_impurity = impurity(counts)
        is_open = self._can_split(counts, node_impurity, 0)
        order, increases = split_search.sorted_features(X) if is_open[0] else (None, None)
        levels, first_id = [], 0
        while True:
            depth, n_nodes = len(levels), counts.shape[1]
            level = leaves(counts, node_impurity, depth)
            levels.append(level)
            open_nodes = np.flatnonzero(is_open)
            if not open_nodes.size:
                break
            open_counts = counts[:, open_nodes]
            found = choose_splits(
                X, increases, order, y_index, open_counts, impurity, leaf_size, min_decrease
            )
            n_split = len(found.feature)
            if not n_split:
                break
            record_splits(level, open_nodes[found.splits], found, first_id + n_nodes)
            # the next level: the children in parent order, left before right
            counts = np.stack([found.counts_left, found.counts_right], axis=2)
            counts = counts.reshape(n_classes, 2 * n_split)
            node_impurity = impurity(counts)
            is_open = self._can_split(counts, node_impurity, depth + 1)
            size = open_counts.sum(axis=0).astype(np.intp)
            child = split_search.route(
                X, order[0], size, found.splits, found.feature, found.threshold, is_open
            )
            order, increases = split_search.resort(order, increases, child, int(is_open.sum()))
            first_id += n_nodes
        return Tree(**{name: np.concatenate([lv[name] for lv in levels]) for name in levels[0]})

    def apply(self, X):
        """The leaf id of each row of X."""
        check_is_fitted(self)
        X, checked = self._rows_to_route(X)
        try:
            return self.tree_.apply(X, check_finite=not checked)
        except NotFinite:
            pass
        return self.tree_.apply(self._check_X(X, reset=False)[0])  # raises, naming features

    def _rows_to_route(self, X):
        """(X, checked): ``_check_X(X, reset=False)``'s X and True, or X itself and False where
        it already is what that returns but for the finiteness ``Tree.apply`` then checks
        block by block (X is read from memory once): a float64 ndarray (n >= 1,
        n_features_in_) and the tree was fitted without feature names (so no name is
        checked). Anything else takes ``_check_X``: its errors (e.g. a wrong number of
        features) and conversions are unchanged.
        """
        plain = (
            type(X) is np.ndarray
            and X.dtype == np.float64
            and X.ndim == 2
            and X.shape[0] >= 1
            and X.shape[1] == self.n_features_in_
            and not hasattr(self, "feature_names_in_")
        )
        return (X, False) if plain else (self._check_X(X, reset=False)[0], True)

    def predict_proba(self, X):
        """p(k | x) = N_tk / n_t of the leaf t that x reaches, shape (n_samples, K)."""
        leaf = self.apply(X)  # checks that the tree is fitted
        counts = self.tree_.class_count[leaf]  # only the leaves reached: tree_.value[leaf]
        return counts / counts.sum(axis=1, keepdims=True)

    def predict(self, X):
        """The majority class of the leaf that x reaches, argmax_k p(k | x) = argmax_k N_tk
        (dividing by n_t keeps the order; ties: the lowest k, as np.argmax)."""
        leaf = self.apply(X)  # checks that the tree is fitted
        return self.classes_[self.tree_.majority.take(leaf)]

    def get_depth(self):
        """The depth of the deepest leaf (a one-leaf tree: 0)."""
        check_is_fitted(self)
        return self.tree_.max_depth

    def get_n_leaves(self):
        """The number of leaves."""
        check_is_fitted(self)
        return self.tree_.n_leaves


def importances(tree, n_features):
    """sum_t (n_t / n) gain(t) over the splits on each feature, normalized to sum to 1."""
    split = ~tree.is_leaf
    total = np.bincount(tree.feature[split], tree.weighted_decrease[split], minlength=n_features)
    return total / total.sum() if total.sum() > 0 else total


# -- storage without pickle (common.estimator_files) ----------------------------------------

LOADABLE = {cls.__name__: cls for cls in (DecisionTreeClassifier, Tree)}  # loading refuses others
STATE_FILE = "tree.json"


def save_tree(tree: DecisionTreeClassifier, folder: str | Path) -> Path:
    """Write a fitted tree to ``folder``: ``tree.json`` (parameters, fitted attributes) and the
    ``.npy`` arrays of its ``tree_`` and ``feature_importances_``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_state(object_state(tree, folder, "tree"), folder / STATE_FILE)
    return folder


def load_tree(folder: str | Path) -> DecisionTreeClassifier:
    """The tree ``save_tree`` wrote, ready to predict."""
    folder = Path(folder)
    return restore_object(read_state(folder / STATE_FILE), folder, LOADABLE)
