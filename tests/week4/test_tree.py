"""The from-scratch decision tree against ``sklearn.tree.DecisionTreeClassifier`` (W4.P4),
the rooted-tree invariants (W4.X2), and split gains as mutual informations (W4.X1).

References and tolerances:
- the root split against a brute-force search over every feature and every midpoint, with
  gains from each side's class counts (scipy's entropy in bits, or Gini), every midpoint of
  a feature at once: ours is one of the optimal splits (gain within 1e-12);
- every node against scikit-learn's tree, walked side by side from the root: either both
  split the node's training samples the same way on the same feature (thresholds within
  1e-6 relative: scikit-learn thresholds are midpoints of float32 values, ours of float64;
  gains within 1e-9), or the splits differ and their gains are equal within 1e-12, a tie
  (scikit-learn breaks ties by a random feature order, we by the lowest feature index);
  below a tie the subtrees are not compared. Leaves must coincide.
- held-out prediction agreement (stratified 70/30 split, seed 0): >= 99% where the walk
  met no tie; where it met ties, at least the lowest agreement between scikit-learn's own
  trees under random_state 0 and 1..19, i.e. within scikit-learn's own tie-breaking spread;
- probabilities sum to 1 and feature importances to 1 within 1e-12.
"""

import numpy as np
import pytest
from scipy import stats
from sklearn import tree as sk_tree
from sklearn.datasets import load_breast_cancer, load_iris, load_wine, make_classification
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from common.grading import grades
from projects.week4_tree_search.information import entropy, information_gain, mutual_information
from projects.week4_tree_search.split_search import (
    SCORE_CHUNK,
    chunked_split_scores,
    first_argmin,
    resort,
    sorted_features,
)
from projects.week4_tree_search.tree import (
    IMPURITY,
    DecisionTreeClassifier,
    cumulative_class_counts,
    entropy_of_counts,
    load_tree,
    save_tree,
    split_scores,
)
from projects.week4_tree_search.tree_structure import LEAF, UNDEFINED
from tests.pickles import unpickled_classes

SPLIT_SEARCH = (entropy_of_counts, cumulative_class_counts, split_scores)  # what a fit calls

LOADERS = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer}
PARAMS = [
    {},
    {"max_depth": 3},
    {"min_samples_leaf": 5},
    {"min_samples_split": 12},
    {"min_impurity_decrease": 0.01},
]


def gini_gain(y, left):
    """G(Y) - (n_L / n) G(Y_L) - (n_R / n) G(Y_R), G = 1 - sum_k p_k^2, from the labels."""

    def gini(labels):
        _, counts = np.unique(labels, return_counts=True)
        return 1 - np.sum((counts / counts.sum()) ** 2) if len(labels) else 0.0

    return gini(y) - left.mean() * gini(y[left]) - (~left).mean() * gini(y[~left])


GAIN = {"entropy": lambda y, left: information_gain(y, left, base=2), "gini": gini_gain}


def split(name):
    X, y = LOADERS[name](return_X_y=True)
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)


def sklearn_tree(criterion, params, X, y, random_state=0):
    return sk_tree.DecisionTreeClassifier(
        criterion=criterion, random_state=random_state, **params
    ).fit(X, y)


def sklearn_gain(tree, node):
    """I(t) - (n_L / n_t) I(t_L) - (n_R / n_t) I(t_R) from scikit-learn's tree_ arrays."""
    left, right = tree.children_left[node], tree.children_right[node]
    n = tree.n_node_samples
    return (
        tree.impurity[node]
        - n[left] / n[node] * tree.impurity[left]
        - n[right] / n[node] * tree.impurity[right]
    )


def compare_with_sklearn(ours, theirs, X, y, gain_of):
    """Walk both trees from the root and assert that they agree up to ties; count the ties."""
    a, b = ours.tree_, theirs.tree_
    X32 = X.astype(np.float32)  # the data scikit-learn's thresholds refer to
    ties = 0
    stack = [(0, 0, np.arange(len(y)))]
    while stack:
        i, k, rows = stack.pop()
        assert a.n_node_samples[i] == b.n_node_samples[k] == len(rows)
        np.testing.assert_allclose(a.value[i], b.value[k][0], rtol=0, atol=1e-12)
        is_leaf = a.children_left[i] == LEAF, b.children_left[k] == sk_tree._tree.TREE_LEAF
        assert is_leaf[0] == is_leaf[1], f"one tree splits node {i} / {k}, the other does not"
        if is_leaf[0]:
            continue
        left_a = X[rows, a.feature[i]] <= a.threshold[i]
        left_b = X32[rows, b.feature[k]] <= b.threshold[k]
        assert a.gain[i] == pytest.approx(sklearn_gain(b, k), abs=1e-9)
        if a.feature[i] == b.feature[k] and np.array_equal(left_a, left_b):
            assert a.threshold[i] == pytest.approx(b.threshold[k], rel=1e-6, abs=1e-6)
            stack.append((a.children_left[i], b.children_left[k], rows[left_a]))
            stack.append((a.children_right[i], b.children_right[k], rows[~left_a]))
        else:
            ties += 1
            y_t = y[rows]
            assert gain_of(y_t, left_a) == pytest.approx(gain_of(y_t, left_b), abs=1e-12)
    return ties


def assert_agreement(ours, theirs, ties, criterion, params, X_train, y_train, X_test):
    """Without ties: the same tree, >= 99% equal predictions. With ties: predictions agree
    with scikit-learn's (random_state 0) at least as well as its own trees under random_state
    1..19 do, the spread of its tie-breaking."""
    agreement = np.mean(ours.predict(X_test) == theirs.predict(X_test))
    if ties == 0:
        assert ours.tree_.node_count == theirs.tree_.node_count
        assert ours.get_depth() == theirs.get_depth()
        np.testing.assert_allclose(
            ours.feature_importances_, theirs.feature_importances_, rtol=0, atol=1e-9
        )
        assert agreement >= 0.99
        return
    reference = theirs.predict(X_test)
    spread = min(
        np.mean(
            sklearn_tree(criterion, params, X_train, y_train, seed).predict(X_test) == reference
        )
        for seed in range(1, 20)
    )
    assert agreement >= spread


def node_rows(tree, X):
    """The training rows that reach each node, following the splits from the root."""
    rows = {0: np.arange(len(X))}
    for node in range(tree.node_count):  # breadth-first ids: a parent comes before its children
        if tree.children_left[node] != LEAF:
            r = rows[node]
            left = X[r, tree.feature[node]] <= tree.threshold[node]
            rows[tree.children_left[node]] = r[left]
            rows[tree.children_right[node]] = r[~left]
    return rows


# The split search's formulas (W4.P2, W4.P4) against scipy and plain loops


@grades(entropy_of_counts)
def test_entropy_of_counts_is_scipy_entropy_of_each_column_in_bits():
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 30, (5, 40)).astype(float)
    counts[:4, 0] = 0  # a pure node: 0 bits
    expected = stats.entropy(counts, base=2, axis=0)  # normalizes each column, like a node
    np.testing.assert_allclose(entropy_of_counts(counts), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(entropy_of_counts(counts[:, 3]), expected[3], rtol=0, atol=1e-12)
    np.testing.assert_allclose(entropy_of_counts(2 * counts), expected, rtol=0, atol=1e-12)
    cube = counts.reshape(5, 8, 5)  # (K, ...): every other axis is a batch of nodes
    np.testing.assert_allclose(entropy_of_counts(cube), expected.reshape(8, 5), atol=1e-12)


@grades(cumulative_class_counts)
def test_cumulative_class_counts_count_each_class_up_to_each_position():
    y = np.random.default_rng(2).integers(0, 4, 60)
    y[y == 2] = 3  # class 2 never occurs: its row stays 0
    N = cumulative_class_counts(y, 5)
    assert N.shape == (5, 60)
    expected = np.column_stack([np.bincount(y[: i + 1], minlength=5) for i in range(60)])
    np.testing.assert_array_equal(N, expected)


def label_impurity(labels, criterion):
    """The impurity of a set of labels from its class counts: scipy's entropy (bits) or Gini."""
    p = np.bincount(labels) / len(labels)
    return stats.entropy(p, base=2) if criterion == "entropy" else 1 - np.sum(p**2)


@grades(split_scores)
@pytest.mark.parametrize("criterion", ["entropy", "gini"])
def test_split_scores_weigh_each_childs_impurity_by_its_size(criterion):
    # one node of 40 samples sorted by a feature: split i sends samples 0..i left
    y = np.random.default_rng(3).integers(0, 3, 40)
    counts_left = np.column_stack([np.bincount(y[: i + 1], minlength=3) for i in range(39)])
    node = np.repeat(np.bincount(y, minlength=3)[:, None], 39, axis=1)
    expected = [
        (i + 1) * label_impurity(y[: i + 1], criterion)
        + (39 - i) * label_impurity(y[i + 1 :], criterion)
        for i in range(39)
    ]
    scores = split_scores(counts_left, node, IMPURITY[criterion])
    np.testing.assert_allclose(scores, expected, rtol=1e-12, atol=1e-12)


# The root split: an optimal one, and scikit-learn's gain


def root_gains(y, left, criterion):
    """The gain of each row of masks ``left`` (splits, n) over the labels y, from each side's
    class counts: scipy's entropy (bits) or Gini, I(Y) - (n_L / n) I(Y_L) - (n_R / n) I(Y_R)."""
    onehot = (y[:, None] == np.unique(y)[None, :]).astype(float)
    sides = [left.astype(float) @ onehot, (~left).astype(float) @ onehot]  # (splits, classes)

    def impurity(counts):
        p = counts / np.maximum(counts.sum(axis=-1, keepdims=True), 1)
        return stats.entropy(p, base=2, axis=-1) if criterion == "entropy" else 1 - (p**2).sum(-1)

    return impurity(onehot.sum(0)) - sum(c.sum(-1) / len(y) * impurity(c) for c in sides)


@pytest.mark.parametrize("criterion", ["entropy", "gini"])
@pytest.mark.parametrize("name", list(LOADERS))
def test_root_split_is_optimal_and_matches_sklearn(name, criterion):
    X, y = LOADERS[name](return_X_y=True)
    candidates = []  # (gain, feature, threshold) of every midpoint of every feature
    for j in range(X.shape[1]):
        values = np.unique(X[:, j])
        thresholds = values[:-1] / 2 + values[1:] / 2
        gains = root_gains(y, X[:, j][None, :] <= thresholds[:, None], criterion)
        candidates += zip(gains, [j] * len(gains), thresholds, strict=True)
    best = max(gain for gain, _, _ in candidates)
    optimal = {(j, t) for gain, j, t in candidates if gain >= best - 1e-12}

    ours = DecisionTreeClassifier(criterion=criterion).fit(X, y).tree_
    theirs = sklearn_tree(criterion, {}, X, y).tree_
    assert (ours.feature[0], ours.threshold[0]) in optimal
    assert ours.feature[0] == min(j for j, _ in optimal)  # ties: the lowest feature index
    assert ours.gain[0] == pytest.approx(best, abs=1e-12)
    assert ours.gain[0] == pytest.approx(sklearn_gain(theirs, 0), abs=1e-9)
    assert ours.impurity[0] == pytest.approx(theirs.impurity[0], abs=1e-12)
    # scikit-learn's root is optimal too, at a float32 midpoint of an optimal threshold
    assert any(
        j == theirs.feature[0] and t == pytest.approx(theirs.threshold[0], rel=1e-6)
        for j, t in optimal
    )


def test_the_iris_root_is_a_tie_between_petal_length_and_width():
    X, y = load_iris(return_X_y=True)
    setosa = y == 0
    for j, threshold in ((2, 2.45), (3, 0.8)):  # both isolate setosa exactly
        np.testing.assert_array_equal(X[:, j] <= threshold, setosa)
    ours = DecisionTreeClassifier().fit(X, y).tree_
    assert (ours.feature[0], ours.threshold[0]) == (2, pytest.approx(2.45, abs=1e-12))


# Every node, and the predictions, against scikit-learn


@grades(*SPLIT_SEARCH)
@pytest.mark.parametrize("params", PARAMS, ids=str)
@pytest.mark.parametrize("criterion", ["entropy", "gini"])
@pytest.mark.parametrize("name", list(LOADERS))
def test_every_node_matches_sklearn_up_to_ties(name, criterion, params):
    X_train, X_test, y_train, _ = split(name)
    ours = DecisionTreeClassifier(criterion=criterion, **params).fit(X_train, y_train)
    theirs = sklearn_tree(criterion, params, X_train, y_train)
    ties = compare_with_sklearn(ours, theirs, X_train, y_train, GAIN[criterion])

    assert_agreement(ours, theirs, ties, criterion, params, X_train, y_train, X_test)


@pytest.mark.parametrize("params", [{}, {"max_depth": 8}, {"min_samples_leaf": 20}], ids=str)
def test_continuous_data_matches_sklearn_up_to_ties(params):
    X, y = make_classification(n_samples=4000, n_features=10, n_informative=6, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)
    ours = DecisionTreeClassifier(**params).fit(X_train, y_train)
    theirs = sklearn_tree("entropy", params, X_train, y_train)
    ties = compare_with_sklearn(ours, theirs, X_train, y_train, GAIN["entropy"])
    assert_agreement(ours, theirs, ties, "entropy", params, X_train, y_train, X_test)
    assert abs(ours.score(X_test, y_test) - theirs.score(X_test, y_test)) <= 0.02


def test_float64_splits_values_that_float32_merges():
    # 1 and 1 + 1e-9 are one float32 value: scikit-learn cannot separate them, we can
    X, y = np.array([[1.0], [1.0 + 1e-9]]), np.array([0, 1])
    ours = DecisionTreeClassifier().fit(X, y)
    assert ours.tree_.node_count == 3
    assert ours.tree_.threshold[0] == 1.0 + 5e-10
    assert sklearn_tree("entropy", {}, X, y).tree_.node_count == 1


# Hyperparameters and stopping rules


@pytest.mark.parametrize("criterion", ["entropy", "gini"])
def test_hyperparameters_are_respected(criterion):
    X, y = load_breast_cancer(return_X_y=True)
    for params in PARAMS[1:]:
        tree = DecisionTreeClassifier(criterion=criterion, **params).fit(X, y).tree_
        n_t, split = tree.n_node_samples, ~tree.is_leaf
        assert tree.max_depth <= params.get("max_depth", np.inf)
        assert n_t[tree.is_leaf].min() >= params.get("min_samples_leaf", 1)
        assert n_t[split].min() >= params.get("min_samples_split", 2)
        assert tree.weighted_decrease[split].min() >= params.get("min_impurity_decrease", 0)
    unconstrained = DecisionTreeClassifier(criterion=criterion).fit(X, y).tree_
    assert unconstrained.max_depth > 3
    assert unconstrained.n_node_samples[unconstrained.is_leaf].min() < 5
    assert unconstrained.weighted_decrease[~unconstrained.is_leaf].min() < 0.01


def test_max_depth_one_is_a_stump():
    X, y = load_wine(return_X_y=True)
    tree = DecisionTreeClassifier(max_depth=1).fit(X, y).tree_
    assert (tree.node_count, tree.n_leaves, tree.max_depth) == (3, 2, 1)


def test_zero_gain_splits_are_taken_like_sklearn():
    # XOR: no single split gains anything, yet the tree must split to separate the classes
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 3, dtype=float)
    y = np.array([0, 1, 1, 0] * 3)
    model = DecisionTreeClassifier().fit(X, y)
    assert model.tree_.gain[0] == pytest.approx(0.0, abs=1e-12)
    assert model.score(X, y) == 1.0
    assert model.tree_.node_count == sklearn_tree("entropy", {}, X, y).tree_.node_count == 7
    assert DecisionTreeClassifier(min_impurity_decrease=1e-6).fit(X, y).tree_.node_count == 1


# Invariants: probabilities, importances, purity, the rooted binary tree


@pytest.mark.parametrize("criterion", ["entropy", "gini"])
@pytest.mark.parametrize("name", list(LOADERS))
def test_probabilities_importances_and_purity(name, criterion):
    X_train, X_test, y_train, _ = split(name)
    model = DecisionTreeClassifier(criterion=criterion).fit(X_train, y_train)
    P = model.predict_proba(X_test)
    assert P.shape == (len(X_test), len(model.classes_))
    assert np.all((P >= 0) & (P <= 1))
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(model.predict(X_test), model.classes_[P.argmax(axis=1)])
    assert model.feature_importances_.sum() == pytest.approx(1.0, abs=1e-12)
    assert model.feature_importances_.min() >= 0
    # the training rows are distinct: an unconstrained tree ends in pure leaves
    assert len(np.unique(X_train, axis=0)) == len(X_train)
    leaves = model.tree_.is_leaf
    assert np.all(model.tree_.impurity[leaves] == 0)
    assert model.score(X_train, y_train) == 1.0


@pytest.mark.parametrize("params", PARAMS, ids=str)
@pytest.mark.parametrize("name", list(LOADERS))
def test_the_fitted_tree_is_a_rooted_binary_tree(name, params):
    X, y = LOADERS[name](return_X_y=True)
    tree = DecisionTreeClassifier(**params).fit(X, y).tree_
    split = ~tree.is_leaf
    ids = np.arange(tree.node_count)
    assert tree.node_count == 2 * tree.n_leaves - 1
    # every node but the root is the child of exactly one node; the root of none
    children = np.concatenate([tree.children_left[split], tree.children_right[split]])
    np.testing.assert_array_equal(np.sort(children), ids[1:])
    parent = tree.parent
    assert parent[0] == -1
    np.testing.assert_array_equal(tree.depth[1:], tree.depth[parent[1:]] + 1)
    assert np.all(parent[1:] < ids[1:])  # breadth first: parents are numbered first
    assert np.all(np.diff(tree.depth) >= 0)
    # leaves carry no split, splits a real one; counts add up from the children
    assert np.all(tree.feature[tree.is_leaf] == UNDEFINED)
    assert np.all(tree.children_right[tree.is_leaf] == LEAF)
    assert np.all(np.isnan(tree.gain[tree.is_leaf]))
    np.testing.assert_array_equal(
        tree.class_count[split],
        tree.class_count[tree.children_left[split]] + tree.class_count[tree.children_right[split]],
    )


@grades(*SPLIT_SEARCH)
@pytest.mark.parametrize("name", list(LOADERS))
def test_node_impurities_and_gains_are_the_information_of_their_samples(name):
    X, y = LOADERS[name](return_X_y=True)
    tree = DecisionTreeClassifier().fit(X, y).tree_
    for node, rows in node_rows(tree, X).items():
        counts = np.bincount(y[rows], minlength=tree.class_count.shape[1])
        np.testing.assert_array_equal(tree.class_count[node], counts)
        assert tree.impurity[node] == pytest.approx(entropy(counts, base=2), abs=1e-12)
        if tree.children_left[node] == LEAF:
            continue
        x = X[rows, tree.feature[node]]
        left = x <= tree.threshold[node]
        # W4.X1: the gain is the mutual information of the split indicator and the label
        assert tree.gain[node] == pytest.approx(
            mutual_information(left, y[rows], base=2), abs=1e-12
        )
        # the threshold is the midpoint between the two sides' nearest values
        assert tree.threshold[node] == x[left].max() / 2 + x[~left].min() / 2


# The vectorized pieces against plain loops


@grades(entropy_of_counts)
@pytest.mark.parametrize("criterion", ["entropy", "gini"])
def test_impurity_of_counts_is_computed_per_column(criterion):
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 20, (4, 50)).astype(float)
    counts[:, 0] = [7, 0, 0, 0]  # a pure node
    counts[:3, 1] = 0
    expected = [
        entropy(c, base=2) if criterion == "entropy" else 1 - np.sum((c / c.sum()) ** 2)
        for c in counts.T
    ]
    np.testing.assert_allclose(IMPURITY[criterion](counts), expected, rtol=0, atol=1e-12)
    assert IMPURITY[criterion](counts)[0] == 0.0


def test_first_argmin_per_segment():
    values = np.array([3.0, 1.0, 1.0, np.inf, np.inf, 2.0, 0.5, 0.5])
    start = np.array([0, 3, 5])
    node = np.repeat([0, 1, 2], [3, 2, 3])
    minima, first = first_argmin(values, start, node)
    np.testing.assert_array_equal(minima, [1.0, np.inf, 0.5])
    np.testing.assert_array_equal(first, [1, 3, 6])


@pytest.mark.parametrize("criterion", ["entropy", "gini"])
def test_split_scores_in_chunks_are_the_split_scores(criterion):
    """The fit scores SCORE_CHUNK positions at a time (bounded memory); each column is scored
    on its own, so the chunks give the very numbers of one call, across chunk boundaries."""
    rng = np.random.default_rng(0)
    m = 2 * SCORE_CHUNK + 123
    counts = rng.integers(1, 50, (3, m)).astype(float)
    counts_left = np.floor(counts * rng.random((3, m)))
    counts_left[:, :5] = counts[:, :5]  # n_R = 0, as at the end of a node: 0 / 0
    with np.errstate(divide="ignore", invalid="ignore"):
        out = chunked_split_scores(counts_left, counts, IMPURITY[criterion], out=np.empty(m))
        expected = split_scores(counts_left, counts, IMPURITY[criterion])
    np.testing.assert_array_equal(out, expected)


def tie_heavy_features(n_samples, seed=0):
    """Integer values (many ties), -0.0 beside 0.0 (equal), and values 1 ulp apart."""
    rng = np.random.default_rng(seed)
    X = rng.integers(-3, 4, (n_samples, 4)).astype(float)
    X[::7, 1] = -0.0
    X[:, 3] = 1 + rng.integers(0, 3, n_samples) * np.finfo(float).eps
    return X


def test_sorted_features_flags_where_each_sorted_feature_increases():
    """The split search reads thresholds from these flags, not from the values."""
    X = tie_heavy_features(300)
    order, increases = sorted_features(X)
    assert order.dtype == np.int32
    for j in range(X.shape[1]):
        np.testing.assert_array_equal(order[j], np.argsort(X[:, j], kind="stable"))
        x_sorted = X[order[j], j]
        np.testing.assert_array_equal(increases[j], np.r_[x_sorted[:-1] < x_sorted[1:], False])


@pytest.mark.parametrize("n_children", [3, 40_000])  # int16 radix-sort keys, and int64
def test_resort_is_a_stable_sort_by_child_and_carries_the_increases(n_children):
    """After the resort each child's samples are in x_j order, and increases[j] says where
    x_j grows from one sample of a child to the next (between children it is not used), on
    tie-heavy values, where many neighbours in a child are equal."""
    rng = np.random.default_rng(0)
    n_samples = 2 * n_children
    X = tie_heavy_features(n_samples)[:, :3]
    node = np.sort(rng.integers(0, max(1, n_children // 2), n_samples))  # the level's nodes
    # the layout a level starts from: order[j] sorted by (node, x_j), increases along it
    order = np.stack([np.lexsort((X[:, j], node)) for j in range(3)])
    x_sorted = np.take_along_axis(X.T, order, axis=1)
    increases = np.c_[x_sorted[:, :-1] < x_sorted[:, 1:], np.zeros(3, bool)]
    # node t's samples go to its children 2t and 2t + 1, or reach a leaf (-1)
    child = np.where(rng.random(n_samples) < 0.2, -1, 2 * node + rng.integers(0, 2, n_samples))
    new_order, new_increases = resort(order.copy(), increases.copy(), child, n_children)
    for j in range(3):
        kept = order[j][child[order[j]] >= 0]
        expected = kept[np.argsort(child[kept], kind="stable")]
        np.testing.assert_array_equal(new_order[j], expected)
        x, same = X[expected, j], child[expected[:-1]] == child[expected[1:]]
        np.testing.assert_array_equal(new_increases[j, :-1][same], (x[:-1] < x[1:])[same])


# The scikit-learn contract, labels, bad input


@parametrize_with_checks(
    [DecisionTreeClassifier(), DecisionTreeClassifier(criterion="gini", max_depth=3)]
)
def test_sklearn_estimator_checks(estimator, check):
    # check_array_api_input skips itself unless SCIPY_ARRAY_API=1 (we use NumPy only).
    check(estimator)


@pytest.mark.parametrize(
    "labels",
    [["setosa", "versicolor", "virginica"], [-7, 0, 12], [2.0, -1.0, 4.0]],
)
def test_any_label_type(labels):
    X, y = load_iris(return_X_y=True)
    named = np.array(labels, dtype=object if isinstance(labels[0], str) else None)[y]
    model = DecisionTreeClassifier(max_depth=2).fit(X, named)
    np.testing.assert_array_equal(model.classes_, sorted(labels))
    reference = DecisionTreeClassifier(max_depth=2).fit(X, y)
    np.testing.assert_array_equal(model.predict(X), np.array(labels)[reference.predict(X)])


def test_a_single_class_gives_a_one_leaf_tree():
    X = np.arange(12.0).reshape(6, 2)
    model = DecisionTreeClassifier().fit(X, ["spam"] * 6)
    assert (model.tree_.node_count, model.get_depth(), model.get_n_leaves()) == (1, 0, 1)
    np.testing.assert_array_equal(model.predict([[100.0, -3.0]]), ["spam"])
    np.testing.assert_array_equal(model.predict_proba(X), np.ones((6, 1)))
    np.testing.assert_array_equal(model.feature_importances_, [0.0, 0.0])


def test_works_in_a_pipeline_and_cross_validation():
    X, y = load_wine(return_X_y=True)
    ours = cross_val_score(
        make_pipeline(StandardScaler(), DecisionTreeClassifier(max_depth=3)), X, y
    )
    assert ours.mean() > 0.8


def test_non_finite_features_are_named():
    X, y = load_iris(return_X_y=True)
    X = X.copy()
    X[3, 1], X[5, 2], X[7, 2] = np.nan, np.inf, -np.inf
    with pytest.raises(
        ValueError, match=r"X contains NaN in features \[1\] and infinity in features \[2\]"
    ):
        DecisionTreeClassifier().fit(X, y)
    model = DecisionTreeClassifier().fit(load_iris().data, y)
    with pytest.raises(ValueError, match=r"X contains NaN in features \[1\]; .*SimpleImputer"):
        model.predict(X[3:4])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (
            {"criterion": "log_loss"},
            r"criterion must be one of \['entropy', 'gini'\], got 'log_loss'",
        ),
        ({"max_depth": 0}, "^max_depth must be an int >= 1 or None, got 0$"),
        ({"max_depth": 2.5}, "^max_depth must be an int >= 1 or None, got 2.5$"),
        ({"min_samples_split": 1}, "^min_samples_split must be an int >= 2, got 1$"),
        ({"min_samples_split": True}, "^min_samples_split must be an int >= 2, got True$"),
        ({"min_samples_leaf": 0}, "^min_samples_leaf must be an int >= 1, got 0$"),
        ({"min_impurity_decrease": -0.1}, "min_impurity_decrease must be a number >= 0, got -0.1"),
        ({"min_impurity_decrease": np.nan}, "min_impurity_decrease must be a number >= 0, got nan"),
    ],
)
def test_bad_hyperparameters_are_rejected(params, match):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=match):
        DecisionTreeClassifier(**params).fit(X, y)


def test_other_bad_input():
    with pytest.raises(ValueError, match="Found array with 0 sample"):
        DecisionTreeClassifier().fit(np.empty((0, 3)), [])
    with pytest.raises(ValueError, match="Unknown label type"):
        DecisionTreeClassifier().fit(np.ones((4, 2)), [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        DecisionTreeClassifier().fit(np.ones((4, 2)), [0, 1, 0])
    model = DecisionTreeClassifier().fit(np.eye(4), [0, 1, 0, 1])
    with pytest.raises(
        ValueError, match="X has 3 features, but DecisionTreeClassifier is expecting 4"
    ):
        model.predict(np.ones((2, 3)))


def test_a_saved_tree_loads_with_the_same_arrays_and_predictions(tmp_path):
    """``tree.save_tree`` / ``load_tree``: JSON + .npy, every array of ``tree_`` bit for bit."""
    X, y = load_wine(return_X_y=True)
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.3, random_state=0)
    tree = DecisionTreeClassifier(max_depth=4).fit(X_train, y_train)
    with unpickled_classes() as found:
        back = load_tree(save_tree(tree, tmp_path / "tree"))
    assert found == []
    assert back.get_params() == tree.get_params()
    for name, value in vars(tree.tree_).items():
        np.testing.assert_array_equal(getattr(back.tree_, name), value)
        assert getattr(back.tree_, name).dtype == value.dtype
    np.testing.assert_array_equal(back.feature_importances_, tree.feature_importances_)
    np.testing.assert_array_equal(back.predict_proba(X_test), tree.predict_proba(X_test))
