"""Our tree's text listing against ``sklearn.tree.export_text`` (W4.P5).

On continuous data with a depth limit there are no ties, so both trees make the same
splits: the listings name the same features at the same depths in the same order, with
thresholds within 1e-6 relative (scikit-learn's are midpoints of float32 values, ours of
float64), and at 2 decimals the two texts are identical.
"""

import pytest
from sklearn.datasets import load_iris, make_classification
from sklearn.tree import DecisionTreeClassifier as SklearnTree
from sklearn.tree import export_text

from common.grading import grades
from projects.week4_tree_search import tree_text
from projects.week4_tree_search.tree import DecisionTreeClassifier

NAMES = [f"x{j}" for j in range(6)]


@grades(tree_text.export_text)
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("max_depth", [2, 4])
def test_listing_has_the_splits_of_sklearns_export_text(seed, max_depth):
    X, y = make_classification(n_samples=600, n_features=6, n_informative=4, random_state=seed)
    ours = DecisionTreeClassifier(max_depth=max_depth).fit(X, y)
    theirs = SklearnTree(criterion="entropy", max_depth=max_depth, random_state=0).fit(X, y)
    mine = tree_text.split_lines(tree_text.export_text(ours.tree_, NAMES, ours.classes_, 10))
    reference = tree_text.split_lines(export_text(theirs, feature_names=NAMES, decimals=10))
    assert len(mine) == len(reference) == ours.tree_.node_count - ours.get_n_leaves()
    for (depth, name, threshold), (depth_ref, name_ref, threshold_ref) in zip(
        mine, reference, strict=True
    ):
        assert (depth, name) == (depth_ref, name_ref)
        assert threshold == pytest.approx(threshold_ref, rel=1e-6, abs=1e-6)
    text = tree_text.export_text(ours.tree_, NAMES, ours.classes_)
    assert text == export_text(theirs, feature_names=NAMES)


@grades(tree_text.export_text)
def test_a_stump_by_hand():
    iris = load_iris()
    stump = DecisionTreeClassifier(max_depth=1).fit(iris.data[:, [3]], iris.target)
    text = tree_text.export_text(stump.tree_, ["petal width"], iris.target_names)
    assert text == (
        "|--- petal width <= 0.80\n"
        "|   |--- class: setosa\n"
        "|--- petal width >  0.80\n"
        "|   |--- class: versicolor\n"
    )
    assert tree_text.split_lines(text) == [(1, "petal width", 0.8)]
