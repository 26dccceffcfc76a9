"""Our flat-array tree as text, in the layout of ``sklearn.tree.export_text`` (W4.P5).

Depth first from the root, a split node writes its left branch under "x <= s" and its right
branch under "x >  s", a leaf its majority class; each level indents by "|   ":

    |--- petal width (cm) <= 0.80
    |   |--- class: setosa
    |--- petal width (cm) >  0.80
    |   |--- petal width (cm) <= 1.75
    ...

``split_lines`` reads the splits back from either listing, so that ours and
scikit-learn's can be compared split by split.
"""

import re

from common.exercises import exercise
from projects.week4_tree_search.tree import LEAF

SPLIT = re.compile(r"^((?:\|   )*)\|--- (.+) <= (\S+)$")  # indent, feature, threshold


@exercise("W4.P5", hint="a recursive write(node, depth): left child under <=, right under >")
def export_text(tree, feature_names, class_names, decimals=2):
    """The listing of a ``tree.Tree`` in the layout of the module docstring, one line per
    edge ending in a newline, thresholds with ``decimals`` digits, a leaf's class its
    largest class_count (every level; scikit-learn's default stops at 10): a string."""
    lines = []

    def write(node, depth):
        indent = "|   " * (depth - 1) + "|---"
        if tree.children_left[node] == LEAF:
            lines.append(f"{indent} class: {class_names[tree.class_count[node].argmax()]}")
            return
        name = feature_names[tree.feature[node]]
        threshold = f"{tree.threshold[node]:.{decimals}f}"
        lines.append(f"{indent} {name} <= {threshold}")
        write(tree.children_left[node], depth + 1)
        lines.append(f"{indent} {name} >  {threshold}")
        write(tree.children_right[node], depth + 1)

    write(0, 1)
    return "\n".join(lines) + "\n"


def split_lines(text):
    """[(depth, feature name, threshold)] of every "x <= s" line, in the listing's order."""
    splits = []
    for line in text.splitlines():
        if match := SPLIT.match(line):
            indent, name, threshold = match.groups()
            splits.append((len(indent) // 4 + 1, name, float(threshold)))
    return splits
