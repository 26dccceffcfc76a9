"""The best split of every open node of one level of a decision tree, all nodes at once: what
``tree.DecisionTreeClassifier`` calls at each level as it grows the tree breadth first.

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
Memory: ``order`` (int32) and ``increases`` (bool), (n_features, n) each, are all that is
stored per sample and feature, 5 bytes (X is only read: for the thresholds and the routing);
everything else is built and freed one feature at a time, O(K n) numbers.


The search is built on the formulas of ``tree``, the exercises (``entropy_of_counts``,
``cumulative_class_counts``, ``split_scores``): where a learner's version is chosen, it is what
runs. ``tree`` and this module import each other as modules, so either can be imported first.
"""

import numpy as np

from common.exercises import learner_version_chosen
from projects.week4_tree_search import tree


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
        out[chunk] = tree.split_scores(counts_left[:, chunk], counts[:, chunk], impurity)
    return out


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
        cumulative = tree.cumulative_class_counts(y_index[order[j]], n_classes)
        left = np.subtract(cumulative, before, dtype=np.float64)
        del cumulative
        with np.errstate(divide="ignore", invalid="ignore"):  # n_R = 0 at a node's end
            chunked_split_scores(left, node_counts, impurity, out=total)
        total[~(fits & increases[j])] = np.inf  # thresholds lie between distinct values
        score[j], position[j] = first_argmin(total, start, node)
        counts_left[j] = left[:, position[j]]
    return score, position, counts_left


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
    if n_classes < RUNS_FROM_CLASSES or learner_version_chosen(tree.cumulative_class_counts):
        return tree.cumulative_class_counts(y_sorted, n_classes)
    return cumulative_class_counts_by_runs(y_sorted, n_classes)


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
    exercises = (tree.entropy_of_counts, tree.split_scores)
    if impurity is not tree.entropy_of_counts or any(map(learner_version_chosen, exercises)):
        return lambda counts_left, counts: tree.split_scores(counts_left, counts, impurity)
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


def search_results(n_features, n_classes, n_open):
    """Empty (score, position, counts_left) of a level's search, shapes (n_features, n_open),
    (n_features, n_open) and (n_features, K, n_open), as ``best_splits`` returns them."""
    return (
        np.empty((n_features, n_open)),
        np.empty((n_features, n_open), dtype=np.intp),
        np.empty((n_features, n_classes, n_open)),
    )


def store_group(results, rows, m, minima, positions, counts_left):
    """Write the best splits of a group of features (``rows``), found with their positions
    laid end to end (``laid_end_to_end``: feature i of the group from position i m on), into
    ``search_results``: each position back in its own feature's order, N_Lk (K, g n_open) as
    (g, K, n_open)."""
    score, position, found = results
    g, n_open = rows.stop - rows.start, score.shape[1]
    score[rows] = minima.reshape(g, n_open)
    position[rows] = positions.reshape(g, n_open) - m * np.arange(g)[:, np.newaxis]
    found[rows] = counts_left.reshape(len(counts_left), g, n_open).transpose(1, 0, 2)


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

    results = search_results(n_features, n_classes, n_open)
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
        found = np.subtract(cumulative[:, last], before[:, last], dtype=np.float64)
        store_group(results, rows, m, minima, last, found)
    return results


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
    slack = 16 * tree.EPSILON * (len(y_sorted) + 64 * n_classes + 64) * largest
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
    results = search_results(n_features, n_classes, n_open)
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
        store_group(results, rows, m, minima, at[chosen], left[:, chosen])
    return results


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
    exercises = (tree.entropy_of_counts, tree.split_scores, tree.cumulative_class_counts)
    if any(map(learner_version_chosen, exercises)):
        return best_splits_grouped(increases, order, y_index, counts, impurity, min_samples_leaf)
    pruned = impurity is tree.entropy_of_counts and n_present >= PRUNE_FROM_CLASSES
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
