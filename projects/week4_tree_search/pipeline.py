"""Week 4 recipe: information theory, a decision tree grown by information gain, exact
similarity search, and the geometry behind both.

1. Information drills: entropy, cross-entropy and KL divergence beside ``scipy.stats.entropy``.
2. For each tabular set (iris, wine, breast cancer): our tree and scikit-learn's, the same
   root split, their held-out accuracies and agreement, the tree drawn with the information
   gain of each split, and the root's gain checked against a mutual information.
3. On two features: the tree's and a logistic regression's decision regions; the logistic
   model's cross-entropy by hand and by ``sklearn.metrics.log_loss``.
4. Digits as vectors: top-k neighbours by our exact index against brute force and
   scikit-learn, label precision@k, the k-NN graph, a similarity heatmap and a gallery.
5. Norms against ``np.linalg.norm``; distance concentration as the dimension grows.
"""

from __future__ import annotations

import logging

import mlflow
import numpy as np
import pandas as pd
from omegaconf import DictConfig
from scipy import stats
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import cdist
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss as sklearn_log_loss
from sklearn.metrics import mutual_info_score
from sklearn.tree import DecisionTreeClassifier as SklearnTree

from common.plotting import figure
from projects.week4_tree_search import geometry, information, plots
from projects.week4_tree_search.data import LOADERS, Split, load_split
from projects.week4_tree_search.search import SimilarityIndex, knn_graph
from projects.week4_tree_search.tree import (
    IMPURITY,
    DecisionTreeClassifier,
    Tree,
    entropy_of_counts,
)

log = logging.getLogger(__name__)

TREE_DATASETS = tuple(name for name in LOADERS if name != "digits")
TIE_TOL = 1e-6  # relative: our float32 distances against cdist's float64
CDIST_METRIC = {
    "cosine": "cosine",
    "euclidean": "euclidean",
    "manhattan": "cityblock",
}  # search.metric -> scipy
TREE_MODEL = "tree"  # the MLflow model: the tree fitted on the first dataset
THRESHOLD_TOL = 1e-6  # scikit-learn rounds X to float32: its thresholds differ in the 7th digit
GAIN_TOL = 1e-9
SEED_SPREAD = 10  # other scikit-learn random states the agreement is set beside
MANHATTAN_BLOCK_FLOATS = 2**21  # the (queries, database, features) block of a NumPy search


def run(cfg: DictConfig) -> float:
    """Every part in turn; returns the mean held-out accuracy of our trees."""
    check_settings(cfg)
    rng = np.random.default_rng(cfg.seed)
    log_information_drills(rng)
    trees = pd.DataFrame([compare_trees(name, cfg.tree, cfg.seed) for name in cfg.tree.datasets])
    mlflow.log_table(trees, "tables/trees.json")
    headline = {
        "tree_accuracy": trees["tree_accuracy"].mean(),
        "sklearn_tree_accuracy": trees["sklearn_tree_accuracy"].mean(),
        "prediction_agreement": trees["prediction_agreement"].min(),
        "sklearn_seed_agreement_min": trees["sklearn_seed_agreement_min"].min(),
        "root_split_matches": float(trees["root_split_match"].all()),
    }
    mlflow.log_metrics(headline)
    log.info("trees:\n%s", trees.round(4).to_string(index=False))
    log_boundaries_and_logistic(cfg.tree, cfg.seed)
    log_search(cfg.search, cfg.seed)
    log_norms(rng)
    log_distance_concentration(cfg.curse, rng)
    return float(headline["tree_accuracy"])


def check_settings(cfg: DictConfig) -> None:
    """Fail before any work on a setting no step can use."""
    unknown = [name for name in cfg.tree.datasets if name not in TREE_DATASETS]
    if unknown or not cfg.tree.datasets:
        raise ValueError(
            f"tree.datasets must be a non-empty list from {list(TREE_DATASETS)}, got {unknown}"
        )
    if cfg.tree.criterion not in IMPURITY:
        raise ValueError(
            f"tree.criterion must be one of {sorted(IMPURITY)}, got {cfg.tree.criterion!r}"
        )
    if cfg.tree.boundary_dataset not in TREE_DATASETS:
        raise ValueError(
            f"tree.boundary_dataset must be one of {list(TREE_DATASETS)}, "
            f"got {cfg.tree.boundary_dataset!r}"
        )
    n_features = LOADERS[cfg.tree.boundary_dataset]().data.shape[1]
    pair = list(cfg.tree.boundary_features)
    if len(pair) != 2 or len(set(pair)) != 2 or not all(0 <= j < n_features for j in pair):
        raise ValueError(
            f"tree.boundary_features must be two different column indices in [0, {n_features})"
            f" of {cfg.tree.boundary_dataset}, got {pair}"
        )
    if cfg.search.metric not in CDIST_METRIC:
        raise ValueError(
            f"search.metric must be one of {list(CDIST_METRIC)}, got {cfg.search.metric!r}"
        )
    for part in ("tree", "search"):
        if not 0 < cfg[part].test_size < 1:
            raise ValueError(f"{part}.test_size must be in (0, 1), got {cfg[part].test_size}")
    SimilarityIndex(metric=cfg.search.metric, block_size=cfg.search.block_size)._check_params()
    n_database = len(load_split("digits", cfg.search.test_size, cfg.seed).X_train)
    if not 1 <= cfg.search.k <= n_database:
        raise ValueError(
            f"search.k must be <= {n_database} (the database size) and >= 1, got {cfg.search.k}"
        )
    if cfg.search.gallery_queries < 1 or cfg.search.heatmap_samples < 2:
        raise ValueError("search.gallery_queries must be >= 1 and search.heatmap_samples >= 2")
    if not cfg.curse.dims or min(cfg.curse.dims) < 1 or cfg.curse.n_points < 2:
        raise ValueError(
            f"curse.dims must be dimensions >= 1 and curse.n_points >= 2, "
            f"got {list(cfg.curse.dims)} and {cfg.curse.n_points}"
        )
    build_tree(cfg.tree, cfg.seed)  # the tree's own checks: min_samples_leaf >= 1, ...


def build_tree(tree_cfg: DictConfig, seed: int) -> tuple[DecisionTreeClassifier, SklearnTree]:
    """Ours and scikit-learn's, with the same hyperparameters (validated by ours)."""
    params = {
        "criterion": tree_cfg.criterion,
        "max_depth": tree_cfg.max_depth,
        "min_samples_split": tree_cfg.min_samples_split,
        "min_samples_leaf": tree_cfg.min_samples_leaf,
        "min_impurity_decrease": tree_cfg.min_impurity_decrease,
    }
    ours = DecisionTreeClassifier(**params)
    ours._check_params()
    return ours, SklearnTree(**params, random_state=seed)


def log_information_drills(rng: np.random.Generator) -> None:
    """W4.3, W4.P2: H(p), H(p, q) and KL(p || q) by hand and by ``scipy.stats.entropy``, and
    the tree's impurity: the entropy of each column of class counts, in bits."""
    rows = []
    for k in (2, 4, 10):
        p, q = rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k))
        counts = np.round(50 * np.column_stack([p, q]))  # (K, 2): two nodes' class counts
        by_hand, by_scipy = entropy_of_counts(counts), stats.entropy(counts, base=2, axis=0)
        pairs = {
            "entropy": (information.entropy(p), stats.entropy(p)),
            "entropy_bits": (information.entropy(p, base=2), stats.entropy(p, base=2)),
            "cross_entropy": (
                information.cross_entropy(p, q),
                stats.entropy(p) + stats.entropy(p, q),  # H(p, q) = H(p) + KL(p || q)
            ),
            "kl_divergence": (information.kl_divergence(p, q), stats.entropy(p, q)),
            "entropy_of_counts_bits_p": (by_hand[0], by_scipy[0]),
            "entropy_of_counts_bits_q": (by_hand[1], by_scipy[1]),
        }
        for quantity, (ours, scipy_value) in pairs.items():
            rows.append(
                {
                    "quantity": quantity,
                    "K": k,
                    "ours": ours,
                    "scipy": scipy_value,
                    "abs_error": abs(ours - scipy_value),
                }
            )
    table = pd.DataFrame(rows)
    mlflow.log_table(table, "tables/information.json")
    mlflow.log_metric("information_max_abs_error", float(table["abs_error"].max()))


def compare_trees(name: str, tree_cfg: DictConfig, seed: int) -> dict:
    """Ours against scikit-learn's on one set; logs ``<name>.*`` metrics, the drawing, the table."""
    split = load_split(name, tree_cfg.test_size, seed)
    ours, theirs = build_tree(tree_cfg, seed)
    ours.fit(split.X_train, split.y_train)
    theirs.fit(split.X_train, split.y_train)
    predicted, reference = ours.predict(split.X_test), theirs.predict(split.X_test)
    root = root_split_comparison(ours, theirs, split)
    row = {
        "dataset": name,
        "tree_accuracy": np.mean(predicted == split.y_test),
        "sklearn_tree_accuracy": np.mean(reference == split.y_test),
        "prediction_agreement": np.mean(predicted == reference),
        "sklearn_seed_agreement_min": sklearn_seed_agreement(tree_cfg, split, reference, seed),
        "n_leaves": ours.get_n_leaves(),
        "sklearn_n_leaves": theirs.get_n_leaves(),
        "depth": ours.get_depth(),
        "sklearn_depth": theirs.get_depth(),
        **root,
    }
    mlflow.log_metrics({f"{name}.{k}": float(v) for k, v in row.items() if k != "dataset"})
    nodes = node_table(ours.tree_, split, ours.classes_)
    mlflow.log_table(nodes.drop(columns="label"), f"tables/tree_{name}.json")
    with figure(f"tree_{name}", figsize=(14, 6)) as (_, ax):
        plots.tree_diagram(ax, nodes, tree_cfg.drawn_depth)
        ax.set_title(f"Our tree on {name}: split, information gain (bits), samples")
    if name == tree_cfg.datasets[0]:
        log_tree_model(ours, split)
    return row


def sklearn_seed_agreement(
    tree_cfg: DictConfig, split: Split, reference: np.ndarray, seed: int
) -> float:
    """The lowest agreement of scikit-learn's tree with itself under other random states.

    scikit-learn breaks exact ties between features at random; ours takes the lowest
    feature index. Where ties exist, no tree can agree with every scikit-learn seed, and
    this spread is the yardstick for ``prediction_agreement``.
    """
    agreements = []
    for other in range(seed + 1, seed + 1 + SEED_SPREAD):
        _, theirs = build_tree(tree_cfg, other)
        agreements.append(
            np.mean(theirs.fit(split.X_train, split.y_train).predict(split.X_test) == reference)
        )
    return float(min(agreements))


def root_split_comparison(ours, theirs, split: Split) -> dict:
    """The root's feature, threshold and gain, ours and scikit-learn's (W4.P4, W4.X1).

    Two features tie when both give the largest gain, and scikit-learn breaks the tie at
    random: ``root_same_split`` says whether the splits are the same, ``root_split_match``
    whether they are equally good (the same gain).
    The gain is also computed from the root's labels, as an information gain and as the
    mutual information between the split and the label, by hand and by scikit-learn.
    """
    t, s = ours.tree_, theirs.tree_
    gain, sklearn_gain = t.gain[0], s.impurity[0] - weighted_children_impurity(s)
    goes_left = split.X_train[:, t.feature[0]] <= t.threshold[0]
    same_split = t.feature[0] == s.feature[0] and abs(t.threshold[0] - s.threshold[0]) < (
        THRESHOLD_TOL * max(1.0, abs(s.threshold[0]))
    )
    return {
        "root_feature": t.feature[0],
        "sklearn_root_feature": s.feature[0],
        "root_threshold": t.threshold[0],
        "sklearn_root_threshold": s.threshold[0],
        "root_gain": gain,
        "sklearn_root_gain": sklearn_gain,
        "root_same_split": same_split,
        "root_split_match": abs(gain - sklearn_gain) < GAIN_TOL,  # equally good, ties aside
        "root_information_gain": information.information_gain(split.y_train, goes_left, base=2),
        "root_mutual_information": information.mutual_information(goes_left, split.y_train, base=2),
        "root_gain_minus_mutual_information": gain
        - mutual_info_score(goes_left, split.y_train) / np.log(2),  # nats -> bits
    }


def weighted_children_impurity(tree_) -> float:
    """(n_L / n) I(t_L) + (n_R / n) I(t_R) at the root of a scikit-learn ``tree_``."""
    left, right = tree_.children_left[0], tree_.children_right[0]
    n = tree_.weighted_n_node_samples
    return (n[left] * tree_.impurity[left] + n[right] * tree_.impurity[right]) / n[0]


def node_table(tree, split: Split, classes: np.ndarray) -> pd.DataFrame:
    """One row per node: children, depth, split, gain, samples, majority class, a label."""
    is_leaf = tree.children_left == plots.LEAF
    majority = classes[tree.class_count.argmax(axis=1)]
    names = np.array([*split.feature_names, ""])  # leaves point at the last, empty name
    feature = np.where(is_leaf, len(names) - 1, tree.feature)
    labels = [
        f"class {split.target_names[c]}\nn = {n}" if leaf else
        f"{names[f]} ≤ {thr:.3g}\nIG = {g:.3f} bits\nn = {n}"
        for leaf, c, f, thr, g, n in zip(
            is_leaf, majority, feature, tree.threshold, tree.gain, tree.n_node_samples, strict=True
        )
    ]  # fmt: skip
    return pd.DataFrame(
        {
            "left": tree.children_left,
            "right": tree.children_right,
            "depth": tree.depth,
            "feature": np.where(is_leaf, "", names[feature]),
            "threshold": np.where(is_leaf, np.nan, tree.threshold),
            "information_gain": tree.gain,
            "samples": tree.n_node_samples,
            "majority_class": majority,
            "label": labels,
        }
    )


def log_tree_model(tree: DecisionTreeClassifier, split: Split) -> None:
    """The fitted tree as an MLflow scikit-learn model (skops format) with a signature."""
    import mlflow.sklearn

    mlflow.sklearn.log_model(
        tree,
        name=TREE_MODEL,
        input_example=split.X_test[:3],
        skops_trusted_types=[f"{cls.__module__}.{cls.__name__}" for cls in (type(tree), Tree)],
    )


def log_boundaries_and_logistic(tree_cfg: DictConfig, seed: int) -> None:
    """W4.P3, W4.P4: decision regions of our tree and of a logistic regression on two
    features, and the logistic model's cross-entropy by hand and by ``log_loss``."""
    split = load_split(tree_cfg.boundary_dataset, tree_cfg.test_size, seed)
    pair = list(tree_cfg.boundary_features)
    X_train, X_test = split.X_train[:, pair], split.X_test[:, pair]
    tree, _ = build_tree(tree_cfg, seed)
    tree.fit(X_train, split.y_train)
    logistic = LogisticRegression(max_iter=1000).fit(X_train, split.y_train)
    proba = logistic.predict_proba(X_test)
    metrics = {
        "logistic_accuracy": logistic.score(X_test, split.y_test),
        "logistic_log_loss": sklearn_log_loss(split.y_test, proba, labels=logistic.classes_),
        "logistic_log_loss_by_hand": information.log_loss(
            split.y_test, proba, labels=logistic.classes_
        ),
        "boundary_tree_accuracy": tree.score(X_test, split.y_test),
    }
    metrics["log_loss_abs_diff"] = abs(
        metrics["logistic_log_loss"] - metrics["logistic_log_loss_by_hand"]
    )
    mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
    names = [split.feature_names[j] for j in pair]
    with figure("decision_boundaries", ncols=2, figsize=(12, 5)) as (_, axes):
        plots.decision_boundaries(
            axes,
            {
                f"Our tree (test accuracy {metrics['boundary_tree_accuracy']:.3f})": tree.predict,
                "Logistic regression (cross-entropy "
                f"{metrics['logistic_log_loss_by_hand']:.3f} nats)": logistic.predict,
            },
            X_train,
            split.y_train,
            names,
        )


def log_search(search_cfg: DictConfig, seed: int) -> None:
    """W4.1, W4.P1, W4.X2: digits held out as queries, their k nearest training digits."""
    from sklearn.neighbors import NearestNeighbors

    split = load_split("digits", search_cfg.test_size, seed)
    k = search_cfg.k
    index = SimilarityIndex(metric=search_cfg.metric, block_size=search_cfg.block_size)
    scores, ids = index.fit(split.X_train).search(split.X_test, k)
    distances = cdist(split.X_test, split.X_train, metric=CDIST_METRIC[search_cfg.metric])
    brute_ids = np.argsort(distances, axis=1, kind="stable")[:, :k]  # the float64 reference
    sklearn_ids = (
        NearestNeighbors(n_neighbors=k, metric=search_cfg.metric, algorithm="brute")
        .fit(split.X_train)
        .kneighbors(split.X_test, return_distance=False)
    )
    numpy_ids = geometry.top_k(numpy_scores(search_cfg.metric, split.X_test, split.X_train), k)
    graph = knn_graph(split.X_train, k, metric=search_cfg.metric)
    n_components, _ = connected_components(graph, directed=True, connection="weak")
    rows, cols = graph.nonzero()
    metrics = {
        "search_precision_at_k": np.mean(split.y_train[ids] == split.y_test[:, None]),
        "search_recall_vs_bruteforce": recall(ids, brute_ids, distances),
        "search_recall_vs_sklearn": recall(ids, sklearn_ids, distances),
        "numpy_search_recall_vs_bruteforce": recall(numpy_ids, brute_ids, distances),
        "knn_graph_same_label_edges": np.mean(split.y_train[rows] == split.y_train[cols]),
        "knn_graph_weak_components": n_components,
    }
    mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
    log.info("search: %s", {k: round(float(v), 4) for k, v in metrics.items()})

    order = np.argsort(split.y_train[: search_cfg.heatmap_samples], kind="stable")
    sample = split.X_train[: search_cfg.heatmap_samples][order]
    log_distance_drills(sample)
    with figure("similarity_heatmap", figsize=(7, 6)) as (_, ax):
        plots.similarity_heatmap(
            ax,
            geometry.cosine_similarity(sample),
            split.y_train[: search_cfg.heatmap_samples][order],
        )
    shown = np.arange(min(search_cfg.gallery_queries, len(split.X_test)))
    with figure(
        "neighbour_gallery",
        nrows=len(shown),
        ncols=k + 1,
        figsize=(1.2 * (k + 1), 1.4 * len(shown)),
    ) as (_, axes):
        plots.neighbour_gallery(
            axes,
            split.X_test[shown].reshape(-1, 8, 8),
            split.X_train[ids[shown]].reshape(len(shown), k, 8, 8),
            scores[shown],
            np.column_stack([split.y_test[shown], split.y_train[ids[shown]]]),
        )


def numpy_scores(metric: str, Q: np.ndarray, X: np.ndarray) -> np.ndarray:
    """(m, n) scores of the queries Q against X by ``geometry.py``, larger = nearer: the
    cosine similarity, or minus the distance (manhattan in blocks: it needs m n d memory)."""
    if metric == "cosine":
        return geometry.cosine_similarity(Q, X)
    if metric == "euclidean":
        return -geometry.euclidean_distances(Q, X)
    step = max(1, MANHATTAN_BLOCK_FLOATS // (len(X) * X.shape[1]))
    blocks = [geometry.manhattan_distances(Q[i : i + step], X) for i in range(0, len(Q), step)]
    return -np.vstack(blocks)


def log_distance_drills(X: np.ndarray) -> None:
    """W4.1: every pairwise distance and similarity of the rows of X beside scipy's cdist."""
    pairs = {
        "euclidean": (geometry.euclidean_distances(X, X), cdist(X, X)),
        "manhattan": (geometry.manhattan_distances(X, X), cdist(X, X, metric="cityblock")),
        "cosine_similarity": (geometry.cosine_similarity(X), 1 - cdist(X, X, metric="cosine")),
    }
    table = pd.DataFrame(
        [
            {"quantity": name, "ours_mean": ours.mean(), "scipy_mean": theirs.mean(),
             "max_abs_error": np.abs(ours - theirs).max()}
            for name, (ours, theirs) in pairs.items()
        ]
    )  # fmt: skip
    mlflow.log_table(table, "tables/distances.json")
    mlflow.log_metric("distances_max_abs_error", float(table["max_abs_error"].max()))


def recall(ids: np.ndarray, reference_ids: np.ndarray, distances: np.ndarray) -> float:
    """Share of our k neighbours that are no farther than the reference's k-th, averaged over
    the queries: |ours ∩ reference| / k where the k-th place is not tied, ties counted as hits.

    ``distances`` (m, n) from ``scipy.spatial.distance.cdist`` (cosine: 1 - cos) judge both.
    """
    kth = np.take_along_axis(distances, reference_ids, axis=1).max(axis=1, keepdims=True)
    ours = np.take_along_axis(distances, ids, axis=1)
    return float(np.mean(ours <= kth + TIE_TOL * np.maximum(1.0, np.abs(kth))))


def log_norms(rng: np.random.Generator) -> None:
    """W4.2: L1, L2 and Frobenius norms beside ``np.linalg.norm``."""
    x, A = rng.standard_normal(1000), rng.standard_normal((50, 40))
    pairs = {
        "l1": (geometry.l1_norm(x), np.linalg.norm(x, ord=1)),
        "l2": (geometry.l2_norm(x), np.linalg.norm(x, ord=2)),
        "frobenius": (geometry.frobenius_norm(A), np.linalg.norm(A, ord="fro")),
    }
    table = pd.DataFrame(
        [{"norm": n, "ours": a, "numpy": b, "abs_error": abs(a - b)} for n, (a, b) in pairs.items()]
    )
    mlflow.log_table(table, "tables/norms.json")
    mlflow.log_metric("norms_max_abs_error", float(table["abs_error"].max()))


def log_distance_concentration(curse_cfg: DictConfig, rng: np.random.Generator) -> None:
    """W4.4: (d_max - d_min) / d_min of uniform points shrinks as the dimension grows."""
    dims = list(curse_cfg.dims)
    contrast = pd.DataFrame(
        {
            "dim": dims,
            "relative_contrast": geometry.relative_contrast(
                curse_cfg.n_points, dims, rng, n_queries=curse_cfg.n_queries
            ),
        }
    )
    mlflow.log_table(contrast, "tables/distance_concentration.json")
    mlflow.log_metrics(
        {
            "relative_contrast_lowest_dim": float(contrast["relative_contrast"].iloc[0]),
            "relative_contrast_highest_dim": float(contrast["relative_contrast"].iloc[-1]),
        }
    )
    with figure("distance_concentration", figsize=(6, 4.5)) as (_, ax):
        plots.distance_concentration(ax, contrast)
