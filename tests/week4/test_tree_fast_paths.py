"""The tree's fast paths against the readable code they stand beside, on small inputs.

References and tolerances:
- ``best_splits_grouped`` (features laid end to end, scores in chunks) against
  ``best_splits``: the same scores, positions and class counts, bit for bit (the same
  operations on the same numbers), also with groups and chunks of a few positions;
- ``best_splits_present_classes`` (each node's present classes renumbered) against
  ``best_splits``: bit for bit, on levels whose nodes hold few of 30 or 7 classes, with ties;
- ``best_splits_pruned`` (entropy: O(1) approximate scores, exact ones near each node's least)
  against ``best_splits``: bit for bit, with 2 to 30 classes, ties, groups of features;
- ``cumulative_class_counts_by_runs`` against the formula ``cumulative_class_counts``:
  the same integers (and dtype), with classes absent, at the ends, or of a single sample;
- whole fits through the default path against fits through ``best_splits`` (the readable
  search): the same tree arrays, importances and predictions, with 30 classes and ties;
- ``entropy_split_scores`` (buffers) against ``split_scores(..., entropy_of_counts)``: bit
  for bit, NaN at the same places (n_R = 0, as at a node's end);
- ``Tree.apply`` (blocks of rows, rows at a leaf dropped, the last rows of every block routed
  together, left child and feature packed in one integer) against ``Tree.apply_every_level``:
  the same leaves, also with blocks of a few rows, one feature, a largest feature of 2^k;
  ``predict_proba`` is ``tree_.value`` of the leaf exactly, ``predict`` its first most
  probable class;
- while a learner's version of an exercise of the split search is chosen, the fit calls it
  (also with 30 classes, where the default path neither sums nor scores class by class);
- 30 classes and wide data (400 features) against scikit-learn: the node-by-node walk of
  test_tree.py (gains within 1e-9, ties within 1e-12) and its prediction agreement.
"""

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_classification
from sklearn.model_selection import train_test_split

from common.exercises import using
from projects.week4_tree_search import split_search, tree_structure
from projects.week4_tree_search import tree as tree_module
from projects.week4_tree_search.split_search import (
    best_splits,
    best_splits_grouped,
    best_splits_present_classes,
    best_splits_pruned,
    cumulative_class_counts_by_runs,
    entropy_split_scores,
)
from projects.week4_tree_search.tree import (
    IMPURITY,
    DecisionTreeClassifier,
    cumulative_class_counts,
    entropy_of_counts,
    split_scores,
)
from tests.week4.test_tree import GAIN, assert_agreement, compare_with_sklearn, sklearn_tree


def level(n_samples, n_features, n_nodes, n_classes, seed):
    """One level as the fit holds it: order[j] sorted by (node, x_j), increases along it,
    labels, and the nodes' class counts; tie-heavy integer values."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 5, (n_samples, n_features)).astype(float)
    y = rng.integers(0, n_classes, n_samples)
    node = np.sort(np.r_[0, rng.integers(1, n_nodes, n_samples - 1)])  # node 0: 1 sample
    node = np.unique(node, return_inverse=True)[1]  # every node holds a sample
    order = np.stack([np.lexsort((X[:, j], node)) for j in range(n_features)]).astype(np.int32)
    x_sorted = np.take_along_axis(X.T, order, axis=1)
    increases = np.c_[x_sorted[:, :-1] < x_sorted[:, 1:], np.zeros(n_features, bool)]
    counts = np.stack(
        [np.bincount(y[node == t], minlength=n_classes) for t in range(node.max() + 1)]
    )
    return increases, order, y, counts.T.astype(np.float64)


@pytest.mark.parametrize("criterion", ["entropy", "gini"])
@pytest.mark.parametrize("n_classes", [2, 7])
@pytest.mark.parametrize("min_samples_leaf", [1, 3])
@pytest.mark.parametrize("small_chunks", [False, True], ids=["defaults", "small_chunks"])
def test_grouped_split_search_is_best_splits_bit_for_bit(
    criterion, n_classes, min_samples_leaf, small_chunks, monkeypatch
):
    if small_chunks:  # groups of 3 features of 40 positions, chunks of a few positions
        monkeypatch.setattr(split_search, "GROUP_POSITIONS", 120)
        monkeypatch.setattr(split_search, "CHUNK_ENTRIES", 5 * n_classes)
    increases, order, y, counts = level(40, 7, 6, n_classes, seed=n_classes)
    impurity = IMPURITY[criterion]
    expected = best_splits(increases, order, y, counts, impurity, min_samples_leaf)
    found = best_splits_grouped(increases, order, y, counts, impurity, min_samples_leaf)
    for name, a, b in zip(("score", "position", "counts_left"), expected, found, strict=True):
        np.testing.assert_array_equal(b, a, err_msg=name)
    assert np.isfinite(expected[0]).any()
    assert np.isinf(expected[0][:, 0]).all()  # node 0, of 1 sample: no split


def few_classes_per_node(increases, order, y, counts, n_classes):
    """The level of ``level`` relabelled so that node t holds only classes t .. t + 2 (mod K)."""
    node = np.repeat(np.arange(counts.shape[1]), counts.sum(axis=0).astype(np.intp))
    y = y.copy()
    y[order[0]] = (node + y[order[0]] % 3) % n_classes
    new_counts = np.zeros_like(counts)
    np.add.at(new_counts, (y[order[0]], node), 1)
    return increases, order, y, new_counts


@pytest.mark.parametrize("criterion", ["entropy", "gini"])
@pytest.mark.parametrize("n_classes", [7, 30])
@pytest.mark.parametrize("min_samples_leaf", [1, 3])
def test_split_search_over_present_classes_is_best_splits_bit_for_bit(
    criterion, n_classes, min_samples_leaf
):
    base = level(300, 5, 25, n_classes, seed=n_classes)
    for increases, order, y, counts in (base, few_classes_per_node(*base, n_classes)):
        impurity = IMPURITY[criterion]
        expected = best_splits(increases, order, y, counts, impurity, min_samples_leaf)
        found = best_splits_present_classes(increases, order, y, counts, impurity, min_samples_leaf)
        for name, a, b in zip(("score", "position", "counts_left"), expected, found, strict=True):
            np.testing.assert_array_equal(b, a, err_msg=name)
        assert np.isfinite(expected[0]).any()
    assert (few_classes_per_node(*base, n_classes)[3] > 0).sum(axis=0).max() <= 3  # K' <= 3


@pytest.mark.parametrize("n_classes", [2, 7, 30])
@pytest.mark.parametrize("min_samples_leaf", [1, 3])
@pytest.mark.parametrize("small_groups", [False, True], ids=["defaults", "small_groups"])
def test_pruned_entropy_split_search_is_best_splits_bit_for_bit(
    n_classes, min_samples_leaf, small_groups, monkeypatch
):
    if small_groups:  # groups of 2 features of 120 positions
        monkeypatch.setattr(split_search, "GROUP_POSITIONS", 240)
    for seed in range(3):
        base = level(120, 5, 9, n_classes, seed=seed)
        for increases, order, y, counts in (base, few_classes_per_node(*base, n_classes)):
            arguments = (increases, order, y, counts, entropy_of_counts, min_samples_leaf)
            expected, found = best_splits(*arguments), best_splits_pruned(*arguments)
            names = ("score", "position", "counts_left")
            for name, a, b in zip(names, expected, found, strict=True):
                np.testing.assert_array_equal(b, a, err_msg=f"{name}, seed {seed}")
            assert np.isfinite(expected[0]).any()
            assert np.isinf(expected[0][:, 0]).all()  # node 0, of 1 sample: no split


@pytest.mark.parametrize("n_classes", [1, 2, 10, 30])
def test_cumulative_class_counts_by_runs_are_the_formula_exactly(n_classes):
    rng = np.random.default_rng(n_classes)
    labels = [
        rng.integers(0, n_classes, 500),
        rng.integers(0, max(1, n_classes // 3), 200),  # the last classes absent
        np.full(40, n_classes - 1),  # one class only, the last
        np.array([n_classes - 1, 0]),  # each class present at one end
        np.array([0]),
        np.sort(rng.integers(0, n_classes, 100)),  # classes in long runs
    ]
    for y_sorted in labels:
        expected = cumulative_class_counts(y_sorted, n_classes)
        found = cumulative_class_counts_by_runs(y_sorted, n_classes)
        assert found.dtype == expected.dtype
        np.testing.assert_array_equal(found, expected)


def fits_to_compare():
    """(name, X, y, parameters) of fits with 30 classes, few, ties and a leaf minimum."""
    X_30, y_30 = make_classification(
        n_samples=1200, n_features=8, n_informative=6, n_classes=30, random_state=1
    )
    X_12, y_12 = make_classification(
        n_samples=1000, n_features=8, n_informative=5, n_classes=12, random_state=2
    )
    X_iris, y_iris = load_iris(return_X_y=True)
    return [
        ("30_classes", X_30, y_30, {}),
        ("30_classes_gini_leaf_3", X_30, y_30, {"criterion": "gini", "min_samples_leaf": 3}),
        ("12_classes_ties", np.round(X_12), y_12, {}),  # integer values: many equal gains
        ("iris", X_iris, y_iris, {}),
    ]


TREE_ARRAYS = ["children_left", "children_right", "feature", "threshold", "impurity"]
TREE_ARRAYS += ["class_count", "depth", "gain"]


def test_default_fit_is_the_fit_through_the_readable_search(monkeypatch):
    fitted = [DecisionTreeClassifier(**p).fit(X, y) for _, X, y, p in fits_to_compare()]
    readable = tree_module.choose_splits

    def through_best_splits(*args, **kwargs):
        return readable(*args, **kwargs, search=best_splits)

    monkeypatch.setattr(tree_module, "choose_splits", through_best_splits)
    for (name, X, y, parameters), fast in zip(fits_to_compare(), fitted, strict=True):
        slow = DecisionTreeClassifier(**parameters).fit(X, y)
        for array in TREE_ARRAYS:
            np.testing.assert_array_equal(
                getattr(fast.tree_, array), getattr(slow.tree_, array), err_msg=f"{name} {array}"
            )
        np.testing.assert_array_equal(fast.feature_importances_, slow.feature_importances_)
        np.testing.assert_array_equal(fast.predict_proba(X), slow.predict_proba(X))
        np.testing.assert_array_equal(fast.predict(X), slow.predict(X))
    assert fitted[0].tree_.node_count > 500  # a deep tree: many levels of few classes


def test_entropy_split_scores_are_split_scores_bit_for_bit():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 40, (9, 500)).astype(float)
    counts[3:, :50] = 0  # nodes of few classes: most counts 0
    counts_left = np.floor(counts * rng.random(counts.shape))
    counts_left[:, :5] = counts[:, :5]  # n_R = 0, as at the end of a node: NaN
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = split_scores(counts_left, counts, entropy_of_counts)
        found = entropy_split_scores(counts_left, counts, np.empty((2, *counts.shape)))
    np.testing.assert_array_equal(found, expected)
    assert np.isnan(found[:5]).all()
    assert np.isfinite(found).mean() > 0.9  # elsewhere n_L = 0 or n_R = 0 only by chance


def trees_and_data():
    """Fitted trees (with ties, 30 classes, a single leaf, a single feature, a largest feature
    of 4 = 2^2: one more bit in ``Tree.steps``' code) and rows to route through them."""
    X_iris, y_iris = load_iris(return_X_y=True)
    X_30, y_30 = make_classification(
        n_samples=600, n_features=8, n_informative=6, n_classes=30, random_state=0
    )
    X_5 = np.c_[X_30[:, :4] * 0, X_30[:, :1]]  # only feature 4 separates
    return [
        (DecisionTreeClassifier().fit(X_iris, y_iris), X_iris),
        (DecisionTreeClassifier(criterion="gini", max_depth=5).fit(X_30, y_30), X_30),
        (DecisionTreeClassifier().fit(X_30, y_30), X_30[::-1]),
        (DecisionTreeClassifier().fit(X_iris, np.zeros(150)), X_iris),  # one leaf
        (DecisionTreeClassifier().fit(X_30[:, 3:4], y_30), X_30[:, 3:4]),  # one feature
        (DecisionTreeClassifier().fit(X_5, y_30 % 2), X_5),
    ]


BLOCKS = {  # (APPLY_BYTES, COMPACT_EVERY, COMPACT_ROWS) of Tree.apply
    "defaults": None,  # the test sets are smaller than a block: one block
    "blocks_compacted_then_together": (64 * 8 * 8, 2, 16),  # 64 rows of 8 features a block
    "small_blocks": (7 * 8 * 8, 1, 2),  # 7 rows a block, rows at a leaf dropped at every level
}


@pytest.mark.parametrize("blocks", BLOCKS)
def test_apply_is_apply_every_level_and_predictions_read_the_leaf(blocks, monkeypatch):
    if BLOCKS[blocks]:
        names = ("APPLY_BYTES", "COMPACT_EVERY", "COMPACT_ROWS")
        for name, value in zip(names, BLOCKS[blocks], strict=True):
            monkeypatch.setattr(tree_structure, name, value)
    for model, X in trees_and_data():
        tree = model.tree_
        leaf = tree.apply(X)
        np.testing.assert_array_equal(leaf, tree.apply_every_level(X))
        assert tree.is_leaf[leaf].all()
        np.testing.assert_array_equal(model.predict_proba(X), tree.value[leaf])
        expected = model.classes_[np.argmax(tree.value[leaf], axis=1)]
        np.testing.assert_array_equal(model.predict(X), expected)
    assert tree_structure.Tree.apply(tree, X[:0]).shape == (0,)


def test_siblings_are_numbered_together():
    """``apply`` steps to children_left + 1 for the right child."""
    for model, _ in trees_and_data():
        split = ~model.tree_.is_leaf
        right, left = model.tree_.children_right[split], model.tree_.children_left[split]
        np.testing.assert_array_equal(right, left + 1)


def test_a_learners_split_scores_is_what_the_fit_calls():
    calls = []

    def mine(counts_left, counts, impurity):
        calls.append(counts.shape)
        return split_scores.exercise.reference(counts_left, counts, impurity)

    X, y = load_iris(return_X_y=True)
    reference = DecisionTreeClassifier().fit(X, y).tree_
    with using({split_scores.exercise.key: mine}):
        chosen = DecisionTreeClassifier().fit(X, y).tree_
    assert calls, "the fit never called the learner's split_scores"
    for name in ("feature", "threshold", "children_left", "class_count"):
        np.testing.assert_array_equal(getattr(chosen, name), getattr(reference, name))


def test_a_learners_cumulative_class_counts_is_what_a_30_class_fit_calls():
    calls = []

    def mine(y_sorted, n_classes):
        calls.append(n_classes)
        return cumulative_class_counts.exercise.reference(y_sorted, n_classes)

    X, y = make_classification(
        n_samples=300, n_features=8, n_informative=6, n_classes=30, random_state=0
    )
    reference = DecisionTreeClassifier().fit(X, y).tree_
    with using({cumulative_class_counts.exercise.key: mine}):
        chosen = DecisionTreeClassifier().fit(X, y).tree_
    assert calls, "the fit never called the learner's cumulative_class_counts"
    for name in TREE_ARRAYS:
        np.testing.assert_array_equal(getattr(chosen, name), getattr(reference, name))


SHAPES = {  # where the fast paths group features (wide) and chunk many classes
    "30_classes": {"n_samples": 1500, "n_features": 8, "n_informative": 6, "n_classes": 30},
    "wide": {"n_samples": 300, "n_features": 400},
}


@pytest.mark.parametrize("shape", SHAPES)
def test_many_classes_and_wide_data_match_sklearn_up_to_ties(shape):
    X, y = make_classification(**SHAPES[shape], random_state=0)
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.3, random_state=0)
    ours = DecisionTreeClassifier().fit(X_train, y_train)
    theirs = sklearn_tree("entropy", {}, X_train, y_train)
    ties = compare_with_sklearn(ours, theirs, X_train, y_train, GAIN["entropy"])
    assert_agreement(ours, theirs, ties, "entropy", {}, X_train, y_train, X_test)


def test_predict_skips_the_conversion_only_where_it_changes_nothing():
    """``_rows_to_route`` returns X itself (unchecked: ``Tree.apply`` checks it block by block)
    where ``_check_X`` would return an equal array, and otherwise what ``_check_X`` returns or
    raises (a wrong width, 0 rows, NaN, a list)."""
    X, y = load_iris(return_X_y=True)
    model = DecisionTreeClassifier(max_depth=3).fit(X, y)
    routed, checked = model._rows_to_route(X)
    assert routed is X
    assert not checked
    for rows in (X[:, ::-1], X.astype(np.float32), X.tolist(), X[::2]):  # strided, cast, list
        routed, checked = model._rows_to_route(rows)
        np.testing.assert_array_equal(routed, model._check_X(rows, False)[0])
        assert checked == (not isinstance(rows, np.ndarray) or rows.dtype != np.float64)
        np.testing.assert_array_equal(model.predict(rows), model.predict(np.asarray(rows, float)))
    bad = [(X[:, :3], "X has 3 features, but DecisionTreeClassifier is expecting 4")]
    bad += [(X[:0], "Found array with 0 sample"), (np.where(X > 7, np.nan, X), "NaN in features")]
    for rows, match in bad:
        with pytest.raises(ValueError, match=match):
            model.predict(rows)


def check_x_message(model, X):
    """The message ``_check_X`` raises for X (the one predict must raise, word for word)."""
    with pytest.raises(ValueError, match=r"^X contains ") as error:
        model._check_X(X, reset=False)
    return str(error.value)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_a_non_finite_value_in_the_last_block_and_an_unused_feature_raises_check_xs_error(
    value, monkeypatch
):
    """``Tree.apply`` checks X block by block; a NaN or infinity anywhere, also in the last row
    and in a feature no split reads, raises ``_check_X``'s error (the same text, no chained
    error) from predict, predict_proba and apply, with blocks of 16 rows and the default."""
    X, y = load_iris(return_X_y=True)
    X = np.c_[X, np.zeros(len(X))]  # feature 4 is constant: no split reads it
    model = DecisionTreeClassifier().fit(X, y)
    assert 4 not in model.tree_.feature
    bad = X.copy()
    bad[-1, 4] = value
    expected = check_x_message(model, bad)
    name = "NaN" if np.isnan(value) else "infinity"
    assert expected.startswith(f"X contains {name} in features [4]; the tree needs finite")
    for block_bytes in (None, 16 * 5 * 8):  # the default: one block; else 10 blocks
        if block_bytes:
            monkeypatch.setattr(tree_structure, "APPLY_BYTES", block_bytes)
        for method in (model.predict, model.predict_proba, model.apply):
            with pytest.raises(ValueError, match=r"^X contains ") as error:
                method(bad)
            assert str(error.value) == expected
            assert error.value.__context__ is None  # not raised while handling another


@pytest.mark.filterwarnings("ignore:overflow encountered in reduce:RuntimeWarning")
def test_finite_rows_whose_sum_overflows_are_routed_and_the_tree_checks_only_when_asked(
    monkeypatch,
):
    """A block's sum of finite values can overflow to infinity: its values are then checked
    one by one, and the rows routed. ``Tree.apply`` checks nothing unless asked."""
    monkeypatch.setattr(tree_structure, "APPLY_BYTES", 16 * 4 * 8)  # 16 rows a block
    X, y = load_iris(return_X_y=True)
    model = DecisionTreeClassifier().fit(X, y)
    huge = X.copy()
    huge[-20:, 0] = 1e308  # the last blocks sum to infinity
    assert not np.isfinite(huge.sum())
    expected = model.tree_.apply_every_level(huge)
    np.testing.assert_array_equal(model.apply(huge), expected)
    nan = np.where(huge > 1e300, np.nan, huge)
    assert model.tree_.apply(nan).shape == (150,)  # routed, unchecked
    with pytest.raises(tree_structure.NotFinite, match=r"^rows 128 to 143 of X$"):
        model.tree_.apply(nan, check_finite=True)
