"""The figures of week 4: a fitted tree drawn with the information gain of each split, decision
boundaries on two features, a cosine-similarity heatmap, query images with their nearest
neighbours, and the concentration of distances as the dimension grows.

Each function draws onto axes it is given and returns nothing; the pipeline opens, logs and
closes the figure (``common.plotting.figure``). Inputs are plain arrays and DataFrames.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from projects.week4_tree_search.tree import LEAF  # a leaf's children, as in scikit-learn


def tree_diagram(ax, nodes: pd.DataFrame, max_depth: int) -> None:
    """A rooted binary tree, root on top, down to ``max_depth`` (W4.P4, W4.X2).

    ``nodes`` has one row per node id: ``left``, ``right`` (child ids, -1 at a leaf),
    ``depth``, ``samples`` and a ``label`` (the split, its information gain, or the class
    at a leaf), and optionally ``majority_class`` (a leaf is filled with its class's
    colour). Leaves get equal horizontal slots; a parent sits above its children. A tree
    deeper than ``max_depth`` says so in the corner: "…" marks each branch cut there.
    """
    classes = sorted(nodes["majority_class"].unique()) if "majority_class" in nodes else []
    x = node_positions(nodes, max_depth)
    for node, xpos in x.items():
        row = nodes.loc[node]
        for child in (int(row.left), int(row.right)):
            if child in x:
                ax.plot([xpos, x[child]], [-row.depth, -row.depth - 1], color="grey", lw=0.8)
        truncated = row.left != LEAF and node in x and int(row.left) not in x
        ax.text(
            xpos,
            -row.depth,
            row.label + ("\n…" if truncated else ""),
            ha="center",
            va="center",
            fontsize=7,
            bbox={"boxstyle": "round", "facecolor": node_colour(row, classes)},
        )
    ax.set(xlim=(-0.7, max(x.values()) + 0.7), ylim=(-max_depth - 0.6, 0.6))
    deepest = int(nodes["depth"].max())
    if deepest > max_depth:
        ax.text(0.0, 0.0, f"drawn to depth {max_depth} of {deepest}: … marks a branch cut there",
                transform=ax.transAxes, fontsize=8, style="italic")  # fmt: skip
    ax.axis("off")


def node_positions(nodes: pd.DataFrame, max_depth: int) -> dict[int, float]:
    """x of each node drawn: leaves (and nodes cut at ``max_depth``) on slots 0, 1, 2, ...
    left to right, each parent midway between its children."""
    x, next_slot = {}, [0]

    def place(node: int) -> float:
        row = nodes.loc[node]
        children = [int(row.left), int(row.right)]
        if children[0] == LEAF or row.depth >= max_depth:
            x[node] = next_slot[0]
            next_slot[0] += 1
        else:
            x[node] = float(np.mean([place(child) for child in children]))
        return x[node]

    place(0)
    return x


def node_colour(row, classes: list) -> tuple | str:
    """White for a split; at a leaf, its majority class's tab10 colour, lightened."""
    if row.left != LEAF or "majority_class" not in row.index:
        return "white"
    r, g, b, _ = plt.get_cmap("tab10")(classes.index(row.majority_class) % 10)
    return (0.6 + 0.4 * r, 0.6 + 0.4 * g, 0.6 + 0.4 * b)


def decision_boundaries(
    axes,
    predictors: dict[str, Callable[[np.ndarray], np.ndarray]],
    X: np.ndarray,
    y: np.ndarray,
    feature_names: list[str],
    class_names: list[str] | None = None,
) -> None:
    """Each predictor's class regions over the plane of two features, with the points; a
    legend names each class's colour (``class_names``, else class 0, 1, ...)."""
    from matplotlib.patches import Patch

    pad = 0.05 * (X.max(axis=0) - X.min(axis=0))
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300))
    grid = np.column_stack([g0.ravel(), g1.ravel()])
    for ax, (title, predict) in zip(np.ravel(axes), predictors.items(), strict=True):
        regions = predict(grid).reshape(g0.shape)
        n_classes = int(max(y.max(), regions.max())) + 1
        colours = [plt.get_cmap("tab10")(k) for k in range(n_classes)]  # the points' colours
        ax.contourf(
            g0, g1, regions, alpha=0.25, levels=np.arange(n_classes + 1) - 0.5, colors=colours
        )
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap="tab10", vmin=0, vmax=9, s=14, edgecolor="k", lw=0.3)
        ax.set(xlabel=feature_names[0], ylabel=feature_names[1], title=title)
        names = class_names or [f"class {k}" for k in range(n_classes)]
        ax.legend(handles=[Patch(color=colours[k], label=names[k]) for k in range(n_classes)],
                  fontsize=8, loc="best")  # fmt: skip


def similarity_heatmap(ax, similarity: np.ndarray, labels: np.ndarray) -> None:
    """cos(x_i, x_j) for samples sorted by label: same-label blocks light up on the diagonal."""
    import seaborn as sns

    sns.heatmap(similarity, ax=ax, cmap="viridis", square=True, xticklabels=False,
                yticklabels=False, cbar_kws={"label": "cosine similarity"})  # fmt: skip
    edges = np.flatnonzero(np.diff(labels)) + 1
    for edge in edges:
        ax.axhline(edge, color="white", lw=0.5)
        ax.axvline(edge, color="white", lw=0.5)
    starts, ends = np.r_[0, edges], np.r_[edges, len(labels)]
    centres, digits = (starts + ends) / 2, [str(labels[i]) for i in starts]  # a tick per block
    ax.set_xticks(centres, digits)
    ax.set_yticks(centres, digits, rotation=0)
    ax.set(xlabel="digit", ylabel="digit")
    ax.set_title("Cosine similarity of digits, sorted by label")


def neighbour_gallery(
    ax, queries: np.ndarray, neighbours: np.ndarray, scores: np.ndarray, labels: np.ndarray
) -> None:
    """Row i: query image i, then its neighbours best first, each titled label and score
    (green: the query's label, red: another). One axes holds the mosaic: it draws much
    faster than a subplot per image.

    ``queries`` (n, h, w); ``neighbours`` (n, k, h, w); ``scores`` (n, k); ``labels``
    (n, k + 1) with the query's label first.
    """
    n, k, h, w = neighbours.shape
    cell_h, cell_w = h + 4, w + 2  # room for a title above each image, a gap beside it
    mosaic = np.full((n * cell_h, (k + 1) * cell_w), np.nan)  # nan: drawn blank
    for i in range(n):
        for j, image in enumerate([queries[i], *neighbours[i]]):
            top, left = i * cell_h + cell_h - h, j * cell_w
            mosaic[top : top + h, left : left + w] = image
            if j == 0:
                title, colour = f"query: {labels[i, 0]}", "black"
            else:
                title = f"{labels[i, j]}  {scores[i, j - 1]:.2f}"
                colour = "green" if labels[i, j] == labels[i, 0] else "red"
            ax.text(left + (w - 1) / 2, top - 0.7, title, ha="center", va="bottom", fontsize=7,
                    color=colour)  # fmt: skip
    ax.imshow(mosaic, cmap="gray_r")
    ax.axis("off")


def distance_concentration(ax, contrast: pd.DataFrame) -> None:
    """(d_max - d_min) / d_min against the dimension, log-log (W4.4)."""
    ax.loglog(contrast["dim"], contrast["relative_contrast"], marker="o")
    ax.set(
        xlabel="dimension d",
        ylabel="(d_max − d_min) / d_min",
        title="Nearest and farthest neighbours become alike as d grows",
    )


def svm_margin(ax, X, y, lines: dict[str, tuple[np.ndarray, float]], support, names) -> None:
    """The two classes, each hyperplane w.x + b = 0 with its margin lines w.x + b = +-1
    (the first solid and dashed, the others dotted), and the support vectors ringed (W4.5)."""
    for label, marker in ((-1, "o"), (1, "s")):
        rows = y == label
        ax.scatter(X[rows, 0], X[rows, 1], marker=marker, s=22, edgecolor="k", lw=0.3,
                   label=f"y = {label:+d}")  # fmt: skip
    ax.scatter(X[support, 0], X[support, 1], s=120, facecolors="none", edgecolors="crimson",
               lw=1.2, label=f"support vectors ({len(support)})")  # fmt: skip
    x0 = np.linspace(X[:, 0].min() - 0.2, X[:, 0].max() + 0.2, 50)
    for i, (title, (w, b)) in enumerate(lines.items()):
        colour = "k" if i == 0 else "tab:orange"
        for level in (0, -1, 1):  # the hyperplane, then the margin lines
            style = ("-" if level == 0 else "--") if i == 0 else ":"
            label = title if level == 0 else None
            ax.plot(x0, (level - b - w[0] * x0) / w[1], color=colour, ls=style, lw=1, label=label)
    ax.set(xlabel=names[0], ylabel=names[1], ylim=(X[:, 1].min() - 0.2, X[:, 1].max() + 0.2))
    ax.legend(fontsize=7, loc="upper left")


def embedding_clusters(ax, Z, clusters, centres, title) -> None:
    """Points of a 2-D view of an embedding coloured by cluster, centres as crosses (W4.6)."""
    ax.scatter(Z[:, 0], Z[:, 1], c=clusters, cmap="tab10", vmin=0, vmax=9, s=6)
    if centres is not None:
        ax.scatter(centres[:, 0], centres[:, 1], marker="X", s=90, c="k", edgecolor="w")
    ax.set(xlabel="principal component 1", ylabel="principal component 2", title=title)


def embedding_search(ax, table: pd.DataFrame) -> None:
    """Recall@k against the full space and label precision@k, against the dimension (W4.6)."""
    for column in ("recall_at_k", "precision_at_k", "variance_kept"):
        ax.plot(table["dim"], table[column], marker="o", label=column)
    ax.set(xscale="log", xlabel="embedding dimension d", ylim=(0, 1.02),
           title="Search in a PCA embedding of the digits")  # fmt: skip
    ax.minorticks_off()  # log-scale minor labels would crowd the dimensions
    ax.set_xticks(table["dim"], [str(d) for d in table["dim"]])
    ax.legend()


def image_chain(ax, images: np.ndarray, titles: list[str]) -> None:
    """Images (n, h, w) side by side in one strip, each titled, e.g. the digits along a
    shortest path (W4.X3). One axes: a strip draws much faster than n subplots."""
    n, h, w = images.shape
    strip = np.zeros((h, n * (w + 1) - 1))  # a blank column between neighbours
    for i, image in enumerate(images):
        strip[:, i * (w + 1) : i * (w + 1) + w] = image
    ax.imshow(strip, cmap="gray_r")
    for i, title in enumerate(titles):
        ax.text(i * (w + 1) + (w - 1) / 2, -1, title, ha="center", va="bottom", fontsize=7)
    ax.axis("off")
