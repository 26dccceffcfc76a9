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

The algorithm. Sorting the samples of every node on every feature (scikit-learn's way, in
Cython) is too slow in NumPy, where thousands of nodes cost thousands of Python steps.
Instead the tree grows breadth first and each level is processed at once:

- once, at the root: for every feature j, ``order[j]`` lists the samples sorted by x_j,
  and ``increases[j, p]`` says whether x_j grows from position p of order[j] to the next
  (the thresholds lie there; the values themselves are read again only for the chosen splits);
- at each level ``order[j]`` lists the samples of the level's open nodes sorted by
  (node, x_j), so every node is a contiguous segment, in the same place for every j;
- one cumulative sum of one-hot labels along ``order[j]`` (``cumulative_class_counts``)
  gives, at every position, the class counts N_Lk of the split "everything up to here goes
  left" for every node of the level, and ``split_scores`` their n_L I(t_L) + n_R I(t_R);
  positions that are not thresholds (equal values, too few samples on a side) get the
  score inf;
- ``np.minimum.reduceat`` over the node segments picks each node's best split on j;
- after the level, a stable sort of ``order[j]`` by child node keeps x_j-order inside
  each child, and samples that reached a leaf leave the arrays. ``increases[j]`` follows:
  two samples of a child, at positions a < b of the parent's order, differ in x_j exactly
  when x_j increases somewhere in a .. b - 1, which a cumulative sum of increases[j] tells.

Per level this is a loop over the features of whole-array NumPy calls, O(n d) work
(``best_splits``). The fit runs it as ``best_splits_grouped``, with the very same numbers:
on a level of few samples (wide data, deep levels) a group of features is searched at once,
their positions laid end to end as one level of G n_open nodes, so a level costs its
positions, not d rounds of calls; and the class counts are scored CHUNK_ENTRIES / K
positions at a time, in buffers made once (``entropy_split_scores``), so that with many
classes they stay in the cache. With 7 classes or more the entropy is searched at a cost per
position, not per class and position (``best_splits_pruned``): sum_k N_k log2 N_k of each side
is a cumulative sum along the positions (one N_Lk and one N_Rk change per step), and the exact
scores are computed only within the approximation's error bound of each node's least; and
only the classes present in a node are scored (``best_splits_present_classes``).
``predict`` routes the rows level by level in blocks of X
that stay in the cache, with three gathers a level (each node's left child and feature packed
in one integer, ``Tree.steps``), and drops the rows that reached a leaf every few levels: a
row costs its own depth (``Tree.apply``; ``Tree.apply_every_level`` is the definition).
Memory: ``order`` (int32) and ``increases`` (bool), (n_features, n) each, are all that is
stored per sample and feature, 5 bytes (X is only read: for the thresholds and the routing);
everything else is built and freed one feature at a time, O(K n) numbers.

Sources:
- L. Breiman, J. Friedman, R. Olshen, C. Stone, "Classification and Regression Trees" (1984).
- J. R. Quinlan, "Induction of decision trees", Machine Learning 1 (1986).
- T. Hastie, R. Tibshirani, J. Friedman, "The Elements of Statistical Learning", 2nd ed.
  (2009), section 9.2.
- scikit-learn's ``DecisionTreeClassifier`` and its ``tree_`` arrays, for the attribute
  names and the stopping rules.
"""

import itertools
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from common.estimator_files import object_state, read_state, restore_object, write_state
from common.exercises import exercise, learner_version_chosen
from common.validation import check_int, check_number

LEAF = -1  # children_left / children_right of a leaf (scikit-learn's TREE_LEAF)
UNDEFINED = -2  # feature and threshold of a leaf (scikit-learn's TREE_UNDEFINED)
EPSILON = np.finfo(np.float64).eps  # a node this impure or less counts as pure
APPLY_BYTES = 1 << 22  # rows of X routed together by Tree.apply: they stay in the cache
COMPACT_EVERY, COMPACT_ROWS = 4, 1024  # apply drops the rows at a leaf every 4 levels


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


def cumulative_class_counts_by_runs(y_sorted, n_classes):
    """``cumulative_class_counts``, the same integers, written run by run instead of summed:
    row k is constant between two consecutive samples of class k (at positions p_k1 < p_k2
    < ...), so it is 0 on [0, p_k1), 1 on [p_k1, p_k2), ..., N_k on [p_kN_k, m): one
    ``np.repeat`` of 0..N_k over these gaps per class, O(m + K) runs in all, instead of K
    cumulative sums of m numbers.
    """
    m = len(y_sorted)
    key = y_sorted.astype(np.int16 if n_classes <= np.iinfo(np.int16).max else np.intp)
    by_class = np.argsort(key, kind="stable")  # the positions of class 0, then of 1, ...
    runs = np.bincount(y_sorted, minlength=n_classes) + 1  # row k: N_k + 1 runs
    row_start = np.cumsum(runs) - runs  # the first run of each row
    starts = np.empty(m + n_classes, dtype=np.intp)  # where each run starts, in (K, m) flat
    is_row_start = np.zeros(m + n_classes, dtype=bool)
    is_row_start[row_start] = True
    starts[row_start] = np.arange(n_classes) * m  # row k starts at 0 with the value 0
    starts[~is_row_start] = key[by_class] * np.intp(m) + by_class  # and steps up at p_kj
    value = np.arange(m + n_classes, dtype=np.int32) - np.repeat(row_start, runs).astype(np.int32)
    lengths = np.diff(starts, append=n_classes * m)
    return np.repeat(value, lengths).reshape(n_classes, m)


RUNS_FROM_CLASSES = 10  # from 10 classes on, K cumulative sums cost more than the runs


def class_counts_along(y_sorted, n_classes):
    """``cumulative_class_counts``: run by run (``cumulative_class_counts_by_runs``) from
    RUNS_FROM_CLASSES classes on, unless a learner's version of the exercise is chosen (then
    it is what runs)."""
    if n_classes < RUNS_FROM_CLASSES or learner_version_chosen(cumulative_class_counts):
        return cumulative_class_counts(y_sorted, n_classes)
    return cumulative_class_counts_by_runs(y_sorted, n_classes)


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


@dataclass(frozen=True)
class Tree:
    """A fitted tree as flat arrays indexed by node id, numbered breadth first (root: 0).

    children_left, children_right : the children's ids, ``LEAF`` (-1) at a leaf; siblings
        are numbered together, children_right = children_left + 1 at a split
    feature, threshold : the split "x[feature] <= threshold goes left"; -2 at a leaf
    impurity : I(t), in bits for the entropy
    class_count : N_tk, shape (n_nodes, n_classes)
    depth : the number of edges from the root
    gain : the split's I(t) - (n_L / n_t) I(t_L) - (n_R / n_t) I(t_R) (bits for the
        entropy); NaN at a leaf
    """

    children_left: np.ndarray
    children_right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    impurity: np.ndarray
    class_count: np.ndarray
    depth: np.ndarray
    gain: np.ndarray

    @property
    def n_node_samples(self):
        """n_t = sum_k N_tk."""
        return self.class_count.sum(axis=1)

    @property
    def value(self):
        """p(k | t) = N_tk / n_t, shape (n_nodes, n_classes), as scikit-learn's ``tree_.value``."""
        return self.class_count / self.n_node_samples[:, np.newaxis]

    @property
    def node_count(self):
        """The number of nodes, leaves included."""
        return len(self.feature)

    @property
    def is_leaf(self):
        """Boolean per node: True where it has no children."""
        return self.children_left == LEAF

    @cached_property
    def majority(self):
        """argmax_k N_tk of each node, the lowest k of a tie (computed once, for predict)."""
        return np.argmax(self.class_count, axis=1)

    @property
    def n_leaves(self):
        """The number of leaves."""
        return int(self.is_leaf.sum())

    @property
    def parent(self):
        """The parent of each node, -1 at the root."""
        parent = np.full(self.node_count, -1)
        split = ~self.is_leaf
        parent[self.children_left[split]] = np.flatnonzero(split)
        parent[self.children_right[split]] = np.flatnonzero(split)
        return parent

    @cached_property
    def max_depth(self):
        """The depth of the deepest node (the root is at depth 0)."""
        return int(self.depth.max())

    @property
    def weighted_decrease(self):
        """(n_t / n) gain(t) at a split, 0 at a leaf: scikit-learn's impurity decrease."""
        weight = self.n_node_samples / self.n_node_samples[0]
        return np.where(self.is_leaf, 0.0, weight * np.nan_to_num(self.gain))

    @cached_property
    def steps(self):
        """(code, threshold, shift) per node, what ``apply`` reads: one step from node t is
        (code[t] >> shift) + (x[code[t] & (2^shift - 1)] > threshold[t]), code = left * 2^shift
        + feature packing the left child and the feature into one integer (one gather for
        both; 2^shift > the largest feature), the right child of a split being its left child
        + 1. Every leaf is a step to itself (left = the leaf, feature 0, threshold inf)."""
        leaf = self.is_leaf
        feature = np.where(leaf, 0, self.feature)
        left = np.where(leaf, np.arange(self.node_count), self.children_left)
        shift = int(feature.max()).bit_length()
        return (left << shift) | feature, np.where(leaf, np.inf, self.threshold), shift

    def apply(self, X):
        """The leaf reached by each row of X (n_samples, n_features), as ``apply_every_level``:
        the rows step down level by level in blocks of APPLY_BYTES of X (kept in the cache
        while they go down, ``descend``) until fewer than COMPACT_ROWS of a block are still
        going; those of all blocks then go down together (a level costs its calls, too).
        """
        X = np.ascontiguousarray(X)
        n_samples, n_features = X.shape
        values, leaf = X.ravel(), np.empty(n_samples, dtype=np.intp)
        block = max(1, APPLY_BYTES // (X.itemsize * n_features))
        code, threshold, shift = self.steps
        root_left, root_feature = code[0] >> shift, code[0] & ((1 << shift) - 1)
        going_on = []
        for first in range(0, n_samples, block):
            offset = np.arange(first, min(first + block, n_samples)) * n_features
            # level 1: every row at the root, so its feature and threshold need no gather
            node = root_left + (values.take(offset + root_feature) > threshold[0])
            going_on.append(self.descend(values, offset, node, leaf, COMPACT_ROWS))
        if going_on:
            offset, node = (np.concatenate(parts) for parts in zip(*going_on, strict=True))
            self.descend(values, offset, node, leaf)
        return leaf

    def descend(self, values, offset, node, leaf, until=0):
        """Step rows at ``node`` down the tree, a row being X.ravel() = ``values`` from
        ``offset`` (row * n_features) on, and write the leaf each reaches into leaf[row].

        Every COMPACT_EVERY levels the rows that reached a leaf (a leaf steps to itself, any
        other node to a child) leave the arrays (or, while fewer than COMPACT_ROWS are left,
        the rows stop once all have), so a row costs about its own depth, not the tree's.
        Returns (offset, node) of the rows still going once fewer than ``until`` are.
        """
        code, threshold, shift = self.steps
        mask, n_features = (1 << shift) - 1, len(values) // len(leaf)
        for level in itertools.count(1):
            if len(node) < until or not len(node):
                return offset, node
            # mode="clip": every index is in range, so only the check differs (and costs less)
            packed = code.take(node, mode="clip")
            x = values.take(offset + (packed & mask), mode="clip")
            child = (packed >> shift) + (x > threshold.take(node, mode="clip"))
            if level % COMPACT_EVERY:
                node = child
                continue
            at_leaf, node = child == node, child
            if len(node) < COMPACT_ROWS and not at_leaf.all():
                continue
            done = np.flatnonzero(at_leaf)
            if len(done):
                leaf[offset[done] // n_features] = node[done]
                going_on = np.flatnonzero(~at_leaf)
                offset, node = offset.take(going_on), node.take(going_on)

    def apply_every_level(self, X):
        """``apply`` as the definition reads: every row takes max_depth steps, a row at a leaf
        stays there."""
        node = np.zeros(len(X), dtype=np.intp)
        rows = np.arange(len(X))
        for _ in range(self.max_depth):
            feature = self.feature[node]
            split = feature != UNDEFINED
            goes_left = X[rows, np.where(split, feature, 0)] <= self.threshold[node]
            child = np.where(goes_left, self.children_left[node], self.children_right[node])
            node = np.where(split, child, node)
        return node


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


def sorted_features(X):
    """(order, increases), each (n_features, n_samples): order[j] (int32; int64 from 2^31
    samples on) lists the samples sorted by x_j (stable: equal values in sample order), and
    increases[j, p] = x_j[order[j, p]] < x_j[order[j, p + 1]] (bool, False at the end).
    """
    n, n_features = X.shape
    index = np.int32 if n < np.iinfo(np.int32).max else np.int64  # 4 bytes: half of intp
    order = np.empty((n_features, n), dtype=index)
    increases = np.zeros((n_features, n), dtype=bool)
    for j in range(n_features):  # one column at a time: O(n) temporaries
        x = np.ascontiguousarray(X[:, j])
        order[j] = np.argsort(x, kind="stable")
        x_sorted = x[order[j]]
        np.less(x_sorted[:-1], x_sorted[1:], out=increases[j, :-1])
    return order, increases


def first_argmin(values, start, node):
    """(min, index of its first occurrence) of each segment values[start[i] : start[i + 1]].

    ``node`` gives the segment of each index (sorted); every segment must be non-empty.
    """
    minima = np.minimum.reduceat(values, start)
    hits = np.flatnonzero(values == minima[node])
    first = np.ones(len(hits), dtype=bool)  # the first hit of each segment (np.r_: slower)
    np.not_equal(node[hits[1:]], node[hits[:-1]], out=first[1:])
    first_hits = hits[first]
    return minima, first_hits


SCORE_CHUNK = 16_384  # positions scored at a time: the impurity's temporaries stay ~2 MB


def chunked_split_scores(counts_left, counts, impurity, out):
    """``split_scores`` of SCORE_CHUNK columns at a time, written to out (m,): every column is
    scored on its own, so the numbers are the same, with temporaries of SCORE_CHUNK columns.
    """
    for start in range(0, counts.shape[1], SCORE_CHUNK):
        chunk = slice(start, start + SCORE_CHUNK)
        out[chunk] = split_scores(counts_left[:, chunk], counts[:, chunk], impurity)
    return out


GROUP_POSITIONS = 1 << 14  # a level's positions of several features, searched at once
CHUNK_ENTRIES = 1 << 15  # class counts (K x positions) scored at once: they stay in cache


def entropy_split_scores(counts_left, counts, work):
    """``split_scores(counts_left, counts, entropy_of_counts)`` computed in the buffers ``work``
    (two float64 arrays of the counts' shape (K, m)) instead of new K x m temporaries: the
    same operations in the same order on the same numbers, so the very same scores.
    """
    counts_right, logs = work
    np.subtract(counts, counts_left, out=counts_right)
    score = 0.0
    for side in (counts_left, counts_right):
        n = side.sum(axis=0)  # n_L, then n_R
        np.log2(np.maximum(side, 1, out=logs), out=logs)
        np.multiply(side, np.subtract(np.log2(n), logs, out=logs), out=logs)
        score = score + n * (logs.sum(axis=0) / n)  # n I(t) with I = entropy_of_counts
    return score


def chunk_scorer(impurity, n_classes, chunk):
    """scores(counts_left, counts) -> n_L I(t_L) + n_R I(t_R) of up to ``chunk`` positions:
    ``entropy_split_scores`` in buffers made once for the entropy, unless a learner's version
    of an exercise it stands for is chosen; ``split_scores`` otherwise."""
    exercises = (entropy_of_counts, split_scores)
    if impurity is not entropy_of_counts or any(map(learner_version_chosen, exercises)):
        return lambda counts_left, counts: split_scores(counts_left, counts, impurity)
    work = np.empty((2, n_classes, chunk))

    def scores(counts_left, counts):
        return entropy_split_scores(counts_left, counts, work[:, :, : counts.shape[1]])

    return scores


def laid_end_to_end(counts, group, min_samples_leaf, index_dtype):
    """The positions of ``group`` copies of a level (node class counts (K, n_open)) laid end
    to end, as one level of group x n_open segments: each segment's ``start``, the segment
    of each position, whether a split there ``fits`` (min_samples_leaf on each side),
    ``before`` (the class counts of the earlier segments,
    subtracted from a cumulative sum along all positions) and the segment's N_tk.
    """
    tiled = np.tile(counts, group)  # N_tk of the copies of the level's nodes
    size = tiled.sum(axis=0).astype(np.intp)
    start = np.cumsum(size) - size
    node = np.repeat(np.arange(len(size)), size)  # the segment of each position
    n_left = np.arange(1, size.sum() + 1) - start[node]
    fits = (n_left >= min_samples_leaf) & (size[node] - n_left >= min_samples_leaf)  # n_R > 0
    del n_left
    before = (np.cumsum(tiled, axis=1) - tiled).astype(index_dtype)[:, node]
    return start, node, fits, before, tiled[:, node]


def best_splits_grouped(increases, order, y_index, counts, impurity, min_samples_leaf):
    """``best_splits``, the same arguments and results: G features' positions are laid end to
    end (``laid_end_to_end``), so one call of each step serves G features of a small level
    (wide data, deep levels), and they are scored CHUNK_ENTRIES / K at a time, so that with
    many classes the K x chunk numbers stay in the cache. Every position is scored by the
    same operations on the same numbers as in ``best_splits``.
    """
    n_features, m = order.shape
    n_classes, n_open = counts.shape
    group = max(1, min(n_features, GROUP_POSITIONS // m))
    start, node, fits, before, node_counts = laid_end_to_end(
        counts, group, min_samples_leaf, order.dtype
    )
    chunk = max(1, min(CHUNK_ENTRIES // n_classes, group * m))  # buffers no larger than needed
    scores, work = chunk_scorer(impurity, n_classes, chunk), np.empty((n_classes, chunk))

    score = np.empty((n_features, n_open))
    position = np.empty((n_features, n_open), dtype=np.intp)
    counts_left = np.empty((n_features, n_classes, n_open))
    for first in range(0, n_features, group):
        rows = slice(first, min(first + group, n_features))
        g = rows.stop - rows.start
        cut, nodes = g * m, g * n_open  # the group's positions and segments
        y_sorted, segment = y_index[order[rows].ravel()], node[:cut]
        cumulative = class_counts_along(y_sorted, n_classes)
        total = np.empty(cut)
        for low in range(0, cut, chunk):
            at = slice(low, min(low + chunk, cut))
            left = np.subtract(cumulative[:, at], before[:, at], out=work[:, : at.stop - low])
            with np.errstate(divide="ignore", invalid="ignore"):  # n_R = 0 at a node's end
                total[at] = scores(left, node_counts[:, at])
        total[~(fits[:cut] & increases[rows].ravel())] = np.inf  # between distinct values
        minima, last = first_argmin(total, start[:nodes], segment)
        score[rows] = minima.reshape(g, n_open)
        position[rows] = last.reshape(g, n_open) - m * np.arange(g)[:, np.newaxis]
        found = np.subtract(cumulative[:, last], before[:, last], dtype=np.float64)
        counts_left[rows] = found.reshape(n_classes, g, n_open).transpose(1, 0, 2)
    return score, position, counts_left


def c_log2_c(n):
    """f(n) = n log2 n, with f(0) = 0 (0 log 0 = 0)."""
    return n * np.log2(np.maximum(n, 1))


def c_log2_c_steps(c):
    """f(c) - f(c - 1) = log2 c + (c - 1) log2(c / (c - 1)) for counts c >= 1, f(1) - f(0) = 0:
    written with log1p, so no difference of two large numbers."""
    previous = np.maximum(c - 1, 1)
    return np.where(c > 1, np.log2(c) + previous * np.log1p(1 / previous) / np.log(2), 0.0)


def approximate_scores(y_sorted, segment, start, n_left, counts):
    """n_L H(t_L) + n_R H(t_R) at every position of segments of class counts ``counts``
    (K, n_segments), O(1) per position, and a bound on its rounding error (with the error of
    ``entropy_split_scores``): n H = f(n) - sum_k f(N_k), f(c) = c log2 c, and moving a sample
    of class k left changes one N_Lk and one N_Rk, so sum_k f(N_Lk) and sum_k f(N_Rk) are
    cumulative sums of ``c_log2_c_steps`` along the positions.
    """
    n_classes = counts.shape[0]
    before = np.cumsum(counts, axis=1) - counts  # the class counts of the earlier segments
    small = n_classes <= np.iinfo(np.int16).max  # int16 keys: a radix sort
    by_class = np.argsort(y_sorted.astype(np.int16 if small else np.intp), kind="stable")
    n_k = np.bincount(y_sorted, minlength=n_classes)
    rank = np.empty(len(y_sorted))
    rank[by_class] = np.arange(len(y_sorted)) - np.repeat(np.cumsum(n_k) - n_k, n_k)
    c = rank + 1 - before[y_sorted, segment]  # N_Lk of the sample's class k, itself included
    r = counts[y_sorted, segment] - c + 1  # N_Rk before it goes left
    left_sums, right_steps = np.cumsum(c_log2_c_steps(c)), np.cumsum(c_log2_c_steps(r))
    first = start - 1
    left_sums -= np.where(first >= 0, left_sums[first], 0.0)[segment]
    right_steps -= np.where(first >= 0, right_steps[first], 0.0)[segment]
    sums = c_log2_c(counts).sum(axis=0)  # sum_k f(N_tk)
    size = counts.sum(axis=0)
    approx = c_log2_c(n_left) - left_sums + c_log2_c(size[segment] - n_left) - sums[segment]
    approx += right_steps
    largest = left_sums.max() + right_steps.max() + sums.max() + c_log2_c(size).max() + 1
    slack = 16 * EPSILON * (len(y_sorted) + 64 * n_classes + 64) * largest
    return approx, slack, (by_class, n_k, before)


def class_counts_at(y_sorted, positions, by_class, n_k, before, segment):
    """N_Lk at ``positions`` (K, n_positions): samples of class k up to the position in its
    segment, by binary search in the positions of each class (sorted: ``by_class``)."""
    n_classes, m = len(n_k), len(y_sorted)
    flat = y_sorted[by_class].astype(np.int64) * m + by_class  # sorted by (class, position)
    queries = np.arange(n_classes, dtype=np.int64)[:, np.newaxis] * m + positions
    upto = np.searchsorted(flat, queries, side="right") - (np.cumsum(n_k) - n_k)[:, np.newaxis]
    return upto - before[:, segment[positions]]


def scores_of_columns(counts_left, counts):
    """``entropy_split_scores`` of each column, scored as in ``best_splits_grouped`` (a lone
    column beside a copy of itself: every sum over k runs column-wise)."""
    n = counts.shape[1]
    if n == 1:
        counts_left, counts = np.repeat(counts_left, 2, axis=1), np.repeat(counts, 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):  # n_R = 0 at a node's end
        return entropy_split_scores(counts_left, counts, np.empty((2, *counts.shape)))[:n]


def best_splits_pruned(increases, order, y_index, counts, impurity, min_samples_leaf):
    """``best_splits`` for the entropy, the same results, at a cost per position and not per
    class and position: ``approximate_scores`` everywhere, and the exact scores of
    ``entropy_split_scores`` only where the approximation is within twice its error bound of
    its segment's least, where every position of the exact least lies.
    """
    n_features, m = order.shape
    n_classes, n_open = counts.shape
    group = max(1, min(n_features, GROUP_POSITIONS // m))
    tiled = np.tile(counts, group)
    start, node, fits, _, _ = laid_end_to_end(counts, group, min_samples_leaf, order.dtype)
    n_left = np.arange(1, len(node) + 1) - start[node]
    score = np.empty((n_features, n_open))
    position = np.empty((n_features, n_open), dtype=np.intp)
    counts_left = np.empty((n_features, n_classes, n_open))
    for first in range(0, n_features, group):
        rows = slice(first, min(first + group, n_features))
        g = rows.stop - rows.start
        cut, nodes = g * m, g * n_open
        y_sorted, segment, seg_start = y_index[order[rows].ravel()], node[:cut], start[:nodes]
        approx, slack, found = approximate_scores(
            y_sorted, segment, seg_start, n_left[:cut], tiled[:, :nodes]
        )
        valid = fits[:cut] & increases[rows].ravel()
        approx[~valid] = np.inf
        least = np.minimum.reduceat(approx, seg_start)
        keep = valid & (approx <= least[segment] + 2 * slack)
        keep[seg_start[np.isinf(least)]] = True  # no split: the segment's start, as best_splits
        at = np.flatnonzero(keep)
        left = class_counts_at(y_sorted, at, *found, segment)
        total = scores_of_columns(left, tiled[:, segment[at]])
        total[~valid[at]] = np.inf
        at_start = np.searchsorted(segment[at], np.arange(nodes))
        minima, chosen = first_argmin(total, at_start, segment[at])
        score[rows] = minima.reshape(g, n_open)
        position[rows] = at[chosen].reshape(g, n_open) - m * np.arange(g)[:, np.newaxis]
        counts_left[rows] = left[:, chosen].reshape(n_classes, g, n_open).transpose(1, 0, 2)
    return score, position, counts_left


PRUNE_FROM_CLASSES = 7  # from 7 classes on, the scores per class cost more than the pruning


def best_splits_present_classes(increases, order, y_index, counts, impurity, min_samples_leaf):
    """``best_splits_grouped`` over only the classes present in each node, the same results:
    in every node the present classes (N_tk > 0) are renumbered 0, 1, ... in their order,
    and the level searched with K' = max_t #{k : N_tk > 0} classes. A class absent from a
    node adds N_Lk (log2 n_L - log2 1) = +0.0 to the sums over k of the entropy (and
    N_Lk^2 = 0 to the Gini's), exactly, so the scores are the same numbers; the class counts
    found go back to their classes. Unless a learner's version of an exercise is chosen.
    """
    n_classes, n_open = counts.shape
    present = counts > 0
    n_present = int(present.sum(axis=0).max()) if n_open else n_classes
    exercises = (entropy_of_counts, split_scores, cumulative_class_counts)
    if any(map(learner_version_chosen, exercises)):
        return best_splits_grouped(increases, order, y_index, counts, impurity, min_samples_leaf)
    pruned = impurity is entropy_of_counts and n_present >= PRUNE_FROM_CLASSES
    search = best_splits_pruned if pruned else best_splits_grouped
    if n_present == n_classes:
        return search(increases, order, y_index, counts, impurity, min_samples_leaf)
    local = np.cumsum(present, axis=0) - 1  # class k's number in node t, where present
    k, t = np.nonzero(present)
    local_counts = np.zeros((n_present, n_open))
    local_counts[local[k, t], t] = counts[k, t]
    samples = order[0]  # the level's samples, node by node
    node = np.repeat(np.arange(n_open), counts.sum(axis=0).astype(np.intp))
    y_local = np.zeros_like(y_index)
    y_local[samples] = local[y_index[samples], node]
    score, position, found = search(
        increases, order, y_local, local_counts, impurity, min_samples_leaf
    )
    counts_left = np.zeros((order.shape[0], n_classes, n_open))
    counts_left[:, k, t] = found[:, local[k, t], t]
    return score, position, counts_left


def best_splits(increases, order, y_index, counts, impurity, min_samples_leaf):
    """Every open node's best split on every feature, for one level of the tree.

    ``order`` (n_features, m) lists the level's m samples sorted by (node, x_j) for each
    feature j, ``increases`` (n_features, m) flags where x_j grows along order[j] (see
    ``sorted_features``) and ``counts`` (K, n_open) holds the nodes' class counts in the same
    order.
    Returns ``score`` (n_features, n_open) = n_L I(t_L) + n_R I(t_R) of the best split
    (inf: no split), ``position`` (the split sends order[j, node start : position + 1]
    left) and ``counts_left`` (n_features, K, n_open).
    """
    n_features, m = order.shape
    n_classes, n_open = counts.shape
    size = counts.sum(axis=0).astype(np.intp)  # n_t
    start = np.cumsum(size) - size
    node = np.repeat(np.arange(n_open, dtype=order.dtype), size)  # the node of each position
    n_left = np.arange(1, m + 1) - start[node]
    fits = (n_left >= min_samples_leaf) & (size[node] - n_left >= min_samples_leaf)  # n_R > 0
    del n_left  # what lives through the loop below is O(K m), as small as it can be
    before = (np.cumsum(counts, axis=1) - counts).astype(order.dtype)[:, node]  # earlier nodes
    node_counts = counts[:, node]  # N_tk at each position, shape (K, m)

    score = np.empty((n_features, n_open))
    position = np.empty((n_features, n_open), dtype=np.intp)
    counts_left = np.empty((n_features, n_classes, n_open))
    total = np.empty(m)
    for j in range(n_features):
        # N_Lk when the node's samples up to this position go left, shape (K, m)
        cumulative = cumulative_class_counts(y_index[order[j]], n_classes)
        left = np.subtract(cumulative, before, dtype=np.float64)
        del cumulative
        with np.errstate(divide="ignore", invalid="ignore"):  # n_R = 0 at a node's end
            chunked_split_scores(left, node_counts, impurity, out=total)
        total[~(fits & increases[j])] = np.inf  # thresholds lie between distinct values
        score[j], position[j] = first_argmin(total, start, node)
        counts_left[j] = left[:, position[j]]
    return score, position, counts_left


RESORT_ENTRIES = 1 << 16  # entries of order resorted at once: several features of a small level


def resort(order, increases, child, n_children):
    """Each order[j] stably sorted by child node (x_j order within a child), -1s dropped,
    and increases[j] along it. In place, a group of features at a time (temporaries of
    ~RESORT_ENTRIES entries): returns views of the first columns of order and increases.

    rank[p] = #{increases before position p}: samples at positions a < b of one node differ
    in x_j iff rank[b] > rank[a] (an increase lies in a .. b - 1), wherever they go.
    """
    n_features, m = order.shape
    n_kept = int(np.count_nonzero(child[order[0]] >= 0))
    if not n_kept:  # every sample reached a leaf
        return order[:, :0], increases[:, :0]
    small = n_children < np.iinfo(np.int16).max  # int16 keys: NumPy's stable sort is a radix sort
    group = max(1, RESORT_ENTRIES // m)
    for first in range(0, n_features, group):
        rows = slice(first, first + group)
        key = child[order[rows]]
        key[key < 0] = n_children  # samples that reached a leaf sort last, then are cut off
        kept = np.argsort(key.astype(np.int16 if small else np.intp), axis=1, kind="stable")
        kept = kept[:, :n_kept]
        rank = np.cumsum(increases[rows], axis=1, dtype=order.dtype) - increases[rows]
        rank = np.take_along_axis(rank, kept, axis=1)
        order[rows, :n_kept] = np.take_along_axis(order[rows], kept, axis=1)
        np.less(rank[:, :-1], rank[:, 1:], out=increases[rows, : n_kept - 1])
        increases[rows, n_kept - 1] = False
    return order[:, :n_kept], increases[:, :n_kept]


def route(X, samples, size, splits, feature, threshold, child_open):
    """Each sample's open child in the next level (its index among the open children), or -1.

    ``samples`` lists the open nodes' samples node by node, ``size`` of each; ``splits``
    flags the nodes that split, on ``feature`` at ``threshold`` (one per splitting node).
    The children are numbered in parent order, left before right.
    """
    node_rank = np.repeat(np.where(splits, np.cumsum(splits) - 1, -1), size)
    in_split = node_rank >= 0
    rank, s = node_rank[in_split], samples[in_split]
    goes_right = X[s, feature[rank]] > threshold[rank]
    open_rank = np.where(child_open, np.cumsum(child_open) - 1, -1)
    child = np.full(X.shape[0], -1)
    child[s] = open_rank[2 * rank + goes_right]
    return child


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
    score, position, counts_left = (search or best_splits_present_classes)(
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
        counts = np.bincount(y_index, minlength=n_classes).astype(np.float64)[:, np.newaxis]
        node_impurity = impurity(counts)
        is_open = self._can_split(counts, node_impurity, 0)
        order, increases = sorted_features(X) if is_open[0] else (None, None)
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
                X,
                increases,
                order,
                y_index,
                open_counts,
                impurity,
                self.min_samples_leaf,
                self.min_impurity_decrease,
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
            child = route(X, order[0], size, found.splits, found.feature, found.threshold, is_open)
            order, increases = resort(order, increases, child, int(is_open.sum()))
            first_id += n_nodes
        return Tree(**{name: np.concatenate([lv[name] for lv in levels]) for name in levels[0]})

    def apply(self, X):
        """The leaf id of each row of X."""
        check_is_fitted(self)
        return self.tree_.apply(self._rows_to_route(X))

    def _rows_to_route(self, X):
        """``_check_X(X, reset=False)``'s X, without its cost per call where X already is what
        it returns: a finite float64 ndarray (n >= 1, n_features_in_) and the tree was fitted
        without feature names (so no name is checked). Anything else takes ``_check_X``: its
        errors (e.g. a wrong number of features) and conversions are unchanged.
        """
        plain = (
            type(X) is np.ndarray
            and X.dtype == np.float64
            and X.ndim == 2
            and X.shape[0] >= 1
            and X.shape[1] == self.n_features_in_
            and not hasattr(self, "feature_names_in_")
        )
        if plain and np.isfinite(X.sum()):  # a sum: no n x d temporary
            return X
        return self._check_X(X, reset=False)[0]

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
