"""Week 4's figures show what a learner must read off them: how deep the drawn tree is
against the tree, which class each leaf and region is, which digit each block is."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import to_rgba

from projects.week4_tree_search import plots

LEAF = plots.LEAF
NODES = pd.DataFrame(  # root -> leaf a | split -> (leaf b, leaf a): depth 2
    {
        "left": [1, LEAF, 3, LEAF, LEAF],
        "right": [2, LEAF, 4, LEAF, LEAF],
        "depth": [0, 1, 1, 2, 2],
        "samples": [10, 4, 6, 3, 3],
        "label": ["x ≤ 1", "class a", "y ≤ 2", "class b", "class a"],
        "majority_class": ["a", "a", "b", "b", "a"],
    }
)


def box_colours(ax) -> dict[str, tuple]:
    return {
        t.get_text(): t.get_bbox_patch().get_facecolor() for t in ax.texts if t.get_bbox_patch()
    }


def test_a_tree_drawn_shallower_than_it_is_says_how_deep_it_is(subplots):
    ax = subplots()
    plots.tree_diagram(ax, NODES, max_depth=1)
    notes = [t.get_text() for t in ax.texts if t.get_bbox_patch() is None]
    assert notes == ["drawn to depth 1 of 2: … marks a branch cut there"]
    assert "y ≤ 2\n…" in box_colours(ax)  # the cut branch is marked
    ax = subplots()
    plots.tree_diagram(ax, NODES, max_depth=2)
    assert [t for t in ax.texts if t.get_bbox_patch() is None] == []  # all of it: no note


def test_leaves_are_filled_with_their_class_colour_and_splits_are_white(subplots):
    ax = subplots()
    plots.tree_diagram(ax, NODES, max_depth=2)
    fills = [(t.get_text(), t.get_bbox_patch().get_facecolor()) for t in ax.texts]
    assert sorted(fill for text, fill in fills if "≤" in text) == [to_rgba("white")] * 2
    leaf_a = {fill for text, fill in fills if text == "class a"}
    leaf_b = {fill for text, fill in fills if text == "class b"}
    assert len(leaf_a) == 1  # both class-a leaves alike
    assert leaf_a != leaf_b
    assert to_rgba("white") not in leaf_a | leaf_b


def test_decision_regions_have_a_legend_naming_each_class(subplots):
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    y = np.array([0, 1, 2])
    axes = subplots(1, 1, squeeze=False)[0]
    nearest = lambda grid: np.argmin(((grid[:, None] - X[None]) ** 2).sum(-1), axis=1)  # noqa: E731
    plots.decision_boundaries(axes, {"1-NN": nearest}, X, y, ["f0", "f1"], ["setosa", "b", "c"])
    labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert labels == ["setosa", "b", "c"]


def test_the_similarity_heatmap_ticks_each_digit_block_at_its_centre(subplots):
    labels = np.array([0, 0, 1, 1, 1, 1, 7, 7])
    ax = subplots()
    plots.similarity_heatmap(ax, np.eye(len(labels)), labels)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "7"]
    np.testing.assert_array_equal(ax.get_xticks(), [1.0, 4.0, 7.0])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "1", "7"]
