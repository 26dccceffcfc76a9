"""A fitted decision tree as flat arrays indexed by node id (scikit-learn's ``tree_`` layout),
and the routing of rows to their leaves that ``predict`` runs.

``predict`` routes the rows level by level in blocks of X that stay in the cache (each
block checked for NaN and infinity as it comes in), with three gathers a level (each node's
left child and feature packed in one integer, ``Tree.steps``), and drops the rows that
reached a leaf every few levels: a row costs its own depth (``Tree.apply``;
``Tree.apply_every_level`` is the definition).
"""

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np

LEAF = -1  # children_left / children_right of a leaf (scikit-learn's TREE_LEAF)
UNDEFINED = -2  # feature and threshold of a leaf (scikit-learn's TREE_UNDEFINED)
APPLY_BYTES = 1 << 22  # rows of X routed together by Tree.apply: they stay in the cache
COMPACT_EVERY, COMPACT_ROWS = 4, 256  # apply drops the rows at a leaf every 4 levels


class NotFinite(ValueError):
    """Raised by ``Tree.apply(X, check_finite=True)`` where X holds NaN or infinity."""


def all_finite(values):
    """True where no value is NaN or infinite; a sum first (finite: every value is), which
    needs no temporary the size of ``values``."""
    return bool(np.isfinite(values.sum()) or np.isfinite(values).all())


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
        """(feature, left, threshold, code, mask, shift) per node, what ``apply`` reads: one step
        from node t is left[t] + (x[feature[t]] > threshold[t]), the right child of a split
        being its left child + 1, and every leaf a step to itself (left = the leaf, feature 0,
        threshold inf). code = left * 2^shift + feature packs the two into one integer (one
        gather for both: left = code >> shift, feature = code & mask, 2^shift > every feature).
        """
        leaf = self.is_leaf
        feature = np.where(leaf, 0, self.feature)
        left = np.where(leaf, np.arange(self.node_count), self.children_left)
        shift = np.intp(int(feature.max()).bit_length())  # NumPy scalars: cheaper per call
        threshold = np.where(leaf, np.inf, self.threshold)
        return feature, left, threshold, (left << shift) | feature, (np.intp(1) << shift) - 1, shift

    def apply(self, X, check_finite=False):
        """The leaf reached by each row of X (n_samples, n_features), as ``apply_every_level``:
        the rows step down level by level in blocks of APPLY_BYTES of X (kept in the cache
        while they go down, ``descend``) until fewer than COMPACT_ROWS of a block are still
        going; those of all blocks then go down together (a level costs its calls, too).

        ``check_finite``: raise ``NotFinite`` where X holds NaN or infinity, each block checked
        as it comes into the cache (a check of all X first reads it from memory once more).
        """
        X = np.ascontiguousarray(X)
        n_samples, n_features = X.shape
        values, leaf = X.ravel(), np.empty(n_samples, dtype=np.intp)
        block = max(1, APPLY_BYTES // (X.itemsize * n_features))
        feature, left, threshold = self.steps[:3]
        going_on = []
        for first in range(0, n_samples, block):
            stop = min(first + block, n_samples)
            if check_finite and not all_finite(values[first * n_features : stop * n_features]):
                raise NotFinite(f"rows {first} to {stop - 1} of X")
            offset = np.arange(first * n_features, stop * n_features, n_features)
            # level 1: every row at the root, so its feature and threshold need no gather
            node = left[0] + (X[first:stop, feature[0]] > threshold[0])
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
        feature, left, threshold, code, mask, shift = self.steps
        n_features = len(values) // len(leaf)
        for level in itertools.count(1):
            if len(node) < until or not len(node):
                return offset, node
            if len(node) < COMPACT_ROWS:  # few rows: a level costs its calls, one fewer here
                x = values.take(offset + feature.take(node))
                child = left.take(node) + (x > threshold.take(node))
            else:  # one gather fewer; mode="clip": every index is in range, a cheaper check
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
