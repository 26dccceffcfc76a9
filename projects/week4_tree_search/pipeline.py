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
6. A linear SVM by hinge loss against ``sklearn.svm.SVC``: the margin, the support vectors.
7. A PCA embedding of the digits: k-means in it against ``sklearn.cluster.KMeans``, and
   search quality against the embedding's dimension.
8. The k-NN graph: Dijkstra's shortest paths and BFS components against
   ``scipy.sparse.csgraph``, the digits along one shortest path.
9. Features ranked by mutual information against ``mutual_info_classif``; a tree on the
   top few against one on all.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

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

from common.devices import torch_device
from common.estimator_files import CODE_MODEL_DISTRIBUTIONS, log_code_model
from common.plotting import figure
from common.steps import step
from common.validation import check_number, under
from projects.week4_tree_search import (
    clustering,
    feature_selection,
    geometry,
    graphs,
    information,
    plots,
    svm,
    tree_text,
)
from projects.week4_tree_search.data import LOADERS, Split, load_split
from projects.week4_tree_search.search import SimilarityIndex, knn_graph, neighbour_adjacency
from projects.week4_tree_search.tree import DecisionTreeClassifier, entropy_of_counts, save_tree

log = logging.getLogger(__name__)

TREE_DATASETS = tuple(name for name in LOADERS if name != "digits")
TIE_TOL = 1e-6  # relative: our float32 distances against cdist's float64
CDIST_METRIC = {
    "cosine": "cosine",
    "euclidean": "euclidean",
    "manhattan": "cityblock",
}  # search.metric -> scipy
TREE_MODEL = "tree"  # the MLflow model: the tree fitted on the first dataset
SERVING_CODE = Path(__file__).with_name("serving.py")  # loads the logged tree (models from code)
TREE_MODEL_PACKAGES = CODE_MODEL_DISTRIBUTIONS  # the served model's pip requirements
THRESHOLD_TOL = 1e-6  # scikit-learn rounds X to float32: its thresholds differ in the 7th digit
GAIN_TOL = 1e-9
SEED_SPREAD = 10  # other scikit-learn random states the agreement is set beside
MANHATTAN_BLOCK_FLOATS = 2**21  # the (queries, database, features) block of a NumPy search
SVC_TOL = 1e-10  # libsvm's stopping tolerance; it keeps the kernel in float32 (~1e-6 rel.)


def run(cfg: DictConfig) -> float:
    """Every part in turn; returns the mean held-out accuracy of our trees.

    ``cfg.figures`` false: no figure is drawn, and nothing only a figure needs is computed;
    every metric and table stays the same.
    """
    check_settings(cfg)
    device = torch_device(cfg.device)  # checked above: cuda only where there is one
    figures = cfg.figures
    rng = np.random.default_rng(cfg.seed)
    with step("information drills: entropy, cross-entropy, KL"):
        log_information_drills(rng)
    tree_accuracy = log_trees(cfg.tree, cfg.seed, figures)
    with step("decision boundaries, logistic regression"):
        log_boundaries_and_logistic(cfg.tree, cfg.seed, figures)
    with step("digits: the k-NN graph of the training digits"):
        graph = digits_knn_graph(cfg.search, cfg.seed, device)  # read by two steps
    with step("digits: search against brute force and scikit-learn"):
        log_search(cfg.search, cfg.seed, graph, device, figures)
    with step("norms, distance concentration"):
        log_norms(rng)
        log_distance_concentration(cfg.curse, rng, figures)
    with step("linear SVM against scikit-learn's SVC"):
        log_svm(cfg.svm, figures)
    with step("digits: k-means and search in a PCA embedding"):
        log_embedding(cfg.embedding, cfg.search, cfg.seed, figures)
    with step("digits: shortest paths and components of the k-NN graph"):
        log_graph_paths(cfg.graph, cfg.search, cfg.seed, graph, figures)
    with step("feature selection by mutual information"):
        log_feature_selection(cfg.selection, cfg.tree, cfg.seed)
    return tree_accuracy


def log_trees(tree_cfg: DictConfig, seed: int, figures: bool) -> float:
    """Our tree against scikit-learn's on each of ``tree.datasets`` (one step each), the
    table ``tables/trees.json`` and the summary metrics; the mean held-out accuracy."""
    rows = []
    for name in tree_cfg.datasets:
        with step(f"{name}: our tree against scikit-learn's"):
            rows.append(compare_trees(name, tree_cfg, seed, figures))
    trees = pd.DataFrame(rows)
    mlflow.log_table(trees, "tables/trees.json")
    summary = {
        "tree_accuracy": trees["tree_accuracy"].mean(),
        "sklearn_tree_accuracy": trees["sklearn_tree_accuracy"].mean(),
        "prediction_agreement": trees["prediction_agreement"].min(),
        "sklearn_seed_agreement_min": trees["sklearn_seed_agreement_min"].min(),
        "root_split_matches": float(trees["root_split_match"].all()),
    }
    mlflow.log_metrics(summary)
    log.info("trees:\n%s", trees.round(4).to_string(index=False))
    return float(summary["tree_accuracy"])


def check_settings(cfg: DictConfig) -> None:
    """Fail before any work on a setting no step can use."""
    torch_device(cfg.device)  # device=cuda on a machine without one: one line, no work done
    unknown = [name for name in cfg.tree.datasets if name not in TREE_DATASETS]
    if unknown or not cfg.tree.datasets:
        raise ValueError(
            f"tree.datasets must be a non-empty list from {list(TREE_DATASETS)}, got {unknown}"
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
    for part in ("tree", "search"):
        check_number(cfg[part].test_size, f"{part}.test_size", 0, 1, include_boundaries="neither")
    with under("search"):  # the index's own rules: block_size a multiple of chunk_size, ...
        SimilarityIndex(metric=cfg.search.metric, block_size=cfg.search.block_size).check_params()
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
    check_svm_settings(cfg.svm)
    check_digit_settings(cfg.embedding, cfg.graph, n_database, cfg.search.k)
    check_selection_settings(cfg.selection)
    build_tree(cfg.tree, cfg.seed)  # the tree's own checks: min_samples_leaf >= 1, ...


def check_svm_settings(svm_cfg: DictConfig) -> None:
    """svm.*: a tabular set, two of its columns, two of its labels, C > 0, max_iter >= 1."""
    if svm_cfg.dataset not in TREE_DATASETS:
        raise ValueError(
            f"svm.dataset must be one of {list(TREE_DATASETS)}, got {svm_cfg.dataset!r}"
        )
    bunch = LOADERS[svm_cfg.dataset]()
    n_features, labels = bunch.data.shape[1], np.unique(bunch.target).tolist()
    features, classes = list(svm_cfg.features), list(svm_cfg.classes)
    if (
        len(features) != 2
        or len(set(features)) != 2
        or not all(0 <= j < n_features for j in features)
    ):
        raise ValueError(
            f"svm.features must be two different column indices in [0, {n_features}) of "
            f"{svm_cfg.dataset}, got {features}"
        )
    if len(classes) != 2 or len(set(classes)) != 2 or not set(classes) <= set(labels):
        raise ValueError(
            f"svm.classes must be two different labels of {svm_cfg.dataset} from {labels}, "
            f"got {classes}"
        )
    with under("svm"):  # the fit's own rules: C a finite number > 0, max_iter an int >= 1
        svm.check_svm_params(svm_cfg.C, svm_cfg.max_iter)


def check_digit_settings(emb_cfg, graph_cfg, n_database: int, k_max: int) -> None:
    """embedding.* and graph.*: dimensions of the 64-pixel digits, counts within the
    database, the sparser k-NN graphs within the search's (k <= search.k)."""
    n_pixels = LOADERS["digits"]().data.shape[1]
    dims = list(emb_cfg.search_dims)
    if not dims or not all(1 <= d <= n_pixels for d in [*dims, emb_cfg.dim]):
        raise ValueError(
            f"embedding.dim and embedding.search_dims must be dimensions in [1, {n_pixels}], "
            f"got {emb_cfg.dim} and {dims}"
        )
    if not 1 <= emb_cfg.n_clusters <= n_database:
        raise ValueError(
            f"embedding.n_clusters must be in [1, {n_database}], got {emb_cfg.n_clusters}"
        )
    if not 0 <= graph_cfg.source < n_database:
        raise ValueError(f"graph.source must be in [0, {n_database}), got {graph_cfg.source}")
    ks = list(graph_cfg.component_ks)
    if not all(1 <= k <= k_max for k in ks):
        raise ValueError(f"graph.component_ks must be in [1, search.k = {k_max}], got {ks}")


def check_selection_settings(sel_cfg: DictConfig) -> None:
    """selection.*: a tabular set, >= 2 bins, 1 <= top_k <= its number of features."""
    if sel_cfg.dataset not in TREE_DATASETS:
        raise ValueError(
            f"selection.dataset must be one of {list(TREE_DATASETS)}, got {sel_cfg.dataset!r}"
        )
    n_features = LOADERS[sel_cfg.dataset]().data.shape[1]
    if sel_cfg.n_bins < 2 or not 1 <= sel_cfg.top_k <= n_features:
        raise ValueError(
            f"selection.n_bins must be >= 2 and selection.top_k in [1, {n_features}], "
            f"got {sel_cfg.n_bins} and {sel_cfg.top_k}"
        )


def build_tree(tree_cfg: DictConfig, seed: int) -> tuple[DecisionTreeClassifier, SklearnTree]:
    """Ours and scikit-learn's, with the same hyperparameters (validated by ours)."""
    params = {
        "criterion": tree_cfg.criterion,
        "max_depth": tree_cfg.max_depth,
        "min_samples_split": tree_cfg.min_samples_split,
        "min_samples_leaf": tree_cfg.min_samples_leaf,
        "min_impurity_decrease": tree_cfg.min_impurity_decrease,
    }
    with under("tree"):  # the tree's own rules, "tree.min_samples_leaf must be ..."
        ours = DecisionTreeClassifier(**params).check_params()
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


def compare_trees(name: str, tree_cfg: DictConfig, seed: int, figures: bool) -> dict:
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
    if figures:
        with figure(f"tree_{name}", figsize=(14, 6)) as (_, ax):
            plots.tree_diagram(ax, nodes, tree_cfg.drawn_depth)
            ax.set_title(f"Our tree on {name}: split, information gain (bits), samples")
    if name == tree_cfg.datasets[0]:
        with step(f"{name}: log the tree as an MLflow model"):
            log_tree_model(ours, split)
        log_tree_listings(name, ours, theirs, split, nodes, tree_cfg.drawn_depth, figures)
    return row


def log_tree_listings(
    name, ours, theirs, split: Split, nodes, drawn_depth: int, figures: bool
) -> None:
    """W4.P5: scikit-learn's own drawings of its tree (``plot_tree``, ``export_text``)
    beside ours; ties may make the two trees differ (see the README)."""
    from sklearn.tree import export_text, plot_tree

    ours_text = tree_text.export_text(ours.tree_, split.feature_names, split.target_names)
    theirs_text = export_text(
        theirs,
        feature_names=split.feature_names,
        class_names=split.target_names,
        max_depth=theirs.get_depth(),
    )
    mlflow.log_text(ours_text, f"trees/tree_{name}.txt")
    mlflow.log_text(theirs_text, f"trees/sklearn_tree_{name}.txt")
    if not figures:
        return
    with figure(f"tree_drawings_{name}", nrows=2, figsize=(14, 11)) as (_, axes):
        plots.tree_diagram(axes[0], nodes, drawn_depth)
        axes[0].set_title(f"Our tree on {name} (plots.tree_diagram)")
        plot_tree(
            theirs,
            max_depth=drawn_depth,
            feature_names=split.feature_names,
            class_names=split.target_names,
            filled=True,
            fontsize=7,
            ax=axes[1],
        )
        axes[1].set_title(f"scikit-learn's tree on {name} (sklearn.tree.plot_tree)")


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
    """The fitted tree as an MLflow model (code + JSON/.npy files, no pickle) with a signature."""
    log_code_model(
        TREE_MODEL,
        SERVING_CODE,
        "tree",
        lambda folder: save_tree(tree, folder),
        split.X_test[:3],
        TREE_MODEL_PACKAGES,
    )


def log_boundaries_and_logistic(tree_cfg: DictConfig, seed: int, figures: bool) -> None:
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
    if not figures:
        return
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
            list(split.target_names),
        )


def digits_knn_graph(search_cfg: DictConfig, seed: int, device):
    """The search.k-NN graph of the training digits, weighted by distance (cosine: 1 - s)."""
    split = load_split("digits", search_cfg.test_size, seed)
    params = {"metric": search_cfg.metric, "block_size": search_cfg.block_size, "device": device}
    return knn_graph(split.X_train, search_cfg.k, mode="distance", **params)


def log_search(search_cfg: DictConfig, seed: int, graph, device, figures: bool) -> None:
    """W4.1, W4.P1, W4.X2: digits held out as queries, their k nearest training digits;
    ``graph``: the k-NN graph of the training digits (``digits_knn_graph``)."""
    from sklearn.neighbors import NearestNeighbors

    split = load_split("digits", search_cfg.test_size, seed)
    k = search_cfg.k
    index = SimilarityIndex(
        metric=search_cfg.metric, block_size=search_cfg.block_size, device=device
    )
    scores, ids = index.fit(split.X_train).search(split.X_test, k)
    distances = cdist(split.X_test, split.X_train, metric=CDIST_METRIC[search_cfg.metric])
    brute_ids = np.argsort(distances, axis=1, kind="stable")[:, :k]  # the float64 reference
    sklearn_ids = (
        NearestNeighbors(n_neighbors=k, metric=search_cfg.metric, algorithm="brute")
        .fit(split.X_train)
        .kneighbors(split.X_test, return_distance=False)
    )
    numpy_ids = geometry.top_k(numpy_scores(search_cfg.metric, split.X_test, split.X_train), k)
    edges = connectivity(graph)
    n_components, _ = connected_components(edges, directed=True, connection="weak")
    rows, cols = edges.nonzero()
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
    if figures:
        draw_search(split, sample, split.y_train[: search_cfg.heatmap_samples][order], scores, ids,
                    search_cfg.gallery_queries)  # fmt: skip


def draw_search(split, sample, sample_labels, scores, ids, gallery_queries: int) -> None:
    """The cosine-similarity heatmap of ``sample`` (sorted by label) and a gallery of the
    first queries with their neighbours (``ids``, ``scores``)."""
    k = ids.shape[1]
    with figure("similarity_heatmap", figsize=(7, 6)) as (_, ax):
        plots.similarity_heatmap(ax, geometry.cosine_similarity(sample), sample_labels)
    shown = np.arange(min(gallery_queries, len(split.X_test)))
    with figure("neighbour_gallery", figsize=(1.2 * (k + 1), 1.4 * len(shown))) as (_, ax):
        plots.neighbour_gallery(
            ax,
            split.X_test[shown].reshape(-1, 8, 8),
            split.X_train[ids[shown]].reshape(len(shown), k, 8, 8),
            scores[shown],
            np.column_stack([split.y_test[shown], split.y_train[ids[shown]]]),
        )


def connectivity(graph):
    """The same edges, each of weight 1 (``knn_graph(mode="connectivity")``): a distance of
    0 (duplicate digits) is an edge, not a missing one."""
    n, k = graph.shape[0], graph.indptr[1]
    return neighbour_adjacency(graph.indices.reshape(n, k), np.ones((n, k)))


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


def log_distance_concentration(
    curse_cfg: DictConfig, rng: np.random.Generator, figures: bool
) -> None:
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
    if figures:
        with figure("distance_concentration", figsize=(6, 4.5)) as (_, ax):
            plots.distance_concentration(ax, contrast)


def log_steps(key: str, values) -> None:
    """values[0], values[1], ... as the metric ``key`` at steps 0, 1, ..., in one call."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    metrics = [Metric(key, float(v), now, step) for step, v in enumerate(values)]
    mlflow.tracking.MlflowClient().log_batch(mlflow.active_run().info.run_id, metrics=metrics)


def log_svm(svm_cfg: DictConfig, figures: bool) -> None:
    """W4.5: a linear SVM by hinge loss and L2 (autograd, L-BFGS) against ``SVC(kernel="linear")``:
    objective, margin 2 / ||w||, support vectors, and a figure of the margin."""
    from sklearn.svm import SVC

    bunch = LOADERS[svm_cfg.dataset]()
    classes, features = list(svm_cfg.classes), list(svm_cfg.features)
    X, y = svm.two_class_points(bunch.data, bunch.target, classes, features)
    C = float(svm_cfg.C)
    w, b, objectives = svm.fit_linear_svm(X, y, C, max_iter=svm_cfg.max_iter)
    reference = SVC(kernel="linear", C=C, tol=SVC_TOL, shrinking=False).fit(X, y)
    w_ref, b_ref = reference.coef_[0], float(reference.intercept_[0])
    support = svm.support_vectors(X, y, w, b)
    log_steps("svm_objective", objectives)  # after each smoothing stage
    sklearn_objective = svm.hinge_objective(X, y, w_ref, b_ref, C)
    metrics = {
        "svm_sklearn_objective": sklearn_objective,
        "svm_objective_rel_diff": objectives[-1] / sklearn_objective - 1,
        "svm_margin": svm.margin(w),
        "svm_sklearn_margin": svm.margin(w_ref),
        "svm_n_support": len(support),
        "svm_support_vectors_match": set(support) == set(reference.support_),
        "svm_training_accuracy": np.mean(np.sign(X @ w + b) == y),
    }
    mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
    log.info("svm: %s", {k: round(float(v), 6) for k, v in metrics.items()})
    if not figures:
        return
    names = [bunch.feature_names[j] for j in features]
    with figure("svm_margin", figsize=(7, 5.5)) as (_, ax):
        plots.svm_margin(
            ax,
            X,
            y,
            {"ours (autograd, L-BFGS)": (w, b), "sklearn SVC": (w_ref, b_ref)},
            support,
            names,
        )
        ax.set_title(f"Linear SVM, C = {C:g}: margin 2/||w|| = {metrics['svm_margin']:.4f}")


def sklearn_kmeans(Z: np.ndarray, init: np.ndarray):
    """scikit-learn's Lloyd k-means from the centres ``init``, on one OpenMP thread: it sums
    per thread, so with more its last bits depend on how many the run was given."""
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="openmp"):
        return KMeans(len(init), init=init, n_init=1, algorithm="lloyd", tol=0.0).fit(Z)


def log_embedding(emb_cfg: DictConfig, search_cfg: DictConfig, seed: int, figures: bool) -> None:
    """W4.6: k-means (Lloyd) in a PCA embedding of the digits against scikit-learn's KMeans
    from the same centres, and search quality against the embedding's dimension."""
    from sklearn.metrics import adjusted_rand_score

    split = load_split("digits", search_cfg.test_size, seed)
    mu, components = clustering.pca_fit(split.X_train, max(emb_cfg.dim, *emb_cfg.search_dims))
    Z = clustering.pca_transform(split.X_train, mu, components[: emb_cfg.dim])
    rng = np.random.default_rng(seed)
    init = Z[rng.choice(len(Z), emb_cfg.n_clusters, replace=False)]  # random training digits
    labels, centres, inertias = clustering.kmeans(Z, init)
    reference = sklearn_kmeans(Z, init)
    log_steps("kmeans_inertia", inertias)
    metrics = {
        "kmeans_inertia_rel_diff": inertias[-1] / reference.inertia_ - 1,
        "kmeans_label_agreement": np.mean(labels == reference.labels_),
        "kmeans_iterations": len(inertias),
        "kmeans_sklearn_iterations": reference.n_iter_,
        "kmeans_adjusted_rand_vs_digits": adjusted_rand_score(split.y_train, labels),
    }
    table = embedding_search_table(split, mu, components, search_cfg, list(emb_cfg.search_dims))
    metrics["embedding_recall_at_k_lowest_dim"] = table["recall_at_k"].iloc[0]
    metrics["embedding_recall_at_k_highest_dim"] = table["recall_at_k"].iloc[-1]
    mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
    mlflow.log_table(table, "tables/embedding_search.json")
    rounded = {k: round(float(v), 6) for k, v in metrics.items()}
    log.info("embedding: %s\n%s", rounded, table.round(4).to_string(index=False))
    if not figures:
        return
    with figure("embedding_search", ncols=2, figsize=(12, 5)) as (_, axes):
        title = f"k-means, K = {len(init)}, in d = {Z.shape[1]}: the first 2 dimensions"
        plots.embedding_clusters(axes[0], Z, labels, centres, title)
        plots.embedding_search(axes[1], table)


def embedding_search_table(split: Split, mu, components, search_cfg, dims) -> pd.DataFrame:
    """Per dimension d: variance kept, recall@k against the exact neighbours among the
    centred pixels (cdist), and label precision@k."""
    k = search_cfg.k
    Z_train = clustering.pca_transform(split.X_train, mu, components)
    Z_test = clustering.pca_transform(split.X_test, mu, components)
    found = clustering.embedding_search(Z_train, Z_test, dims, k, search_cfg.metric)
    distances = cdist(split.X_test - mu, split.X_train - mu, metric=CDIST_METRIC[search_cfg.metric])
    reference_ids = np.argsort(distances, axis=1, kind="stable")[:, :k]
    total = ((split.X_train - mu) ** 2).sum()
    return pd.DataFrame(
        {
            "dim": dims,
            "variance_kept": [(Z_train[:, :d] ** 2).sum() / total for d in dims],
            "recall_at_k": [recall(found[d], reference_ids, distances) for d in dims],
            "precision_at_k": [
                np.mean(split.y_train[found[d]] == split.y_test[:, None]) for d in dims
            ],
        }
    )


def graph_components(graph, ks: list[int]) -> pd.DataFrame:
    """For each k, the components of the graph of each node's k nearest (of ``graph``'s):
    ours by BFS against scipy's ``connected_components``, and whether they agree."""
    rows = []
    for k in ks:
        g = graphs.nearest_subgraph(graph, k)  # the first k of each row's search.k
        n_bfs, labels = graphs.connected_components_bfs(g)
        n_scipy, scipy_labels = connected_components(g, directed=True, connection="weak")
        same = graphs.same_partition(labels, scipy_labels)
        rows.append({"k": k, "components_bfs": n_bfs, "components_scipy": n_scipy,
                     "same_partition": same})  # fmt: skip
    return pd.DataFrame(rows)


def log_graph_paths(
    graph_cfg: DictConfig, search_cfg: DictConfig, seed: int, graph, figures: bool
) -> None:
    """W4.X3: Dijkstra on the k-NN graph (``digits_knn_graph``) against
    ``scipy.sparse.csgraph.dijkstra``, BFS components against ``connected_components``, the
    digits along one shortest path."""
    from scipy.sparse.csgraph import dijkstra

    split = load_split("digits", search_cfg.test_size, seed)
    graph = graph.copy()
    graph.data = np.maximum(graph.data, 0)  # float32 cosines of equal directions may pass 1
    d, pred = graphs.dijkstra(graph, graph_cfg.source)
    d_ref = dijkstra(graph, directed=True, indices=graph_cfg.source)
    reached = np.isfinite(d_ref)
    target = int(np.argmax(np.where(reached, d, -np.inf)))  # the farthest reachable digit
    path = graphs.path_to(pred, target)
    components = graph_components(graph, [*graph_cfg.component_ks, search_cfg.k])
    mlflow.log_table(components, "tables/knn_components.json")
    metrics = {
        "dijkstra_max_abs_diff_vs_scipy": np.abs(d[reached] - d_ref[reached]).max(),
        "dijkstra_same_reachable": np.array_equal(np.isfinite(d), reached),
        "shortest_path_reachable": reached.sum(),
        "shortest_path_hops": len(path) - 1,
        "shortest_path_length": d[target],
        "components_same_partition": components["same_partition"].all(),
        "knn_graph_components_bfs": components["components_bfs"].iloc[-1],
    }
    mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
    rounded = {k: round(float(v), 12) for k, v in metrics.items()}
    log.info("graph: %s\n%s", rounded, components.to_string(index=False))
    if figures:
        title = (
            f"A shortest path in the {search_cfg.k}-NN graph ({search_cfg.metric}): "
            f"training digit {graph_cfg.source} to the farthest one it reaches"
        )
        draw_shortest_path(split, path, d, title)


def draw_shortest_path(split, path: list[int], d, title: str) -> None:
    """The training digits along ``path``, each with its label and distance d from the start."""
    titles = [f"{split.y_train[i]}\nd = {d[i]:.2f}" for i in path]
    with figure("shortest_path_digits", figsize=(1.0 * len(path) + 1, 2.2)) as (_, ax):
        plots.image_chain(ax, split.X_train[path].reshape(-1, 8, 8), titles)
        ax.set_title(title, fontsize=8, pad=24)


def log_feature_selection(sel_cfg: DictConfig, tree_cfg: DictConfig, seed: int) -> None:
    """W4.X4: features ranked by a plug-in mutual information on binned training values,
    against ``mutual_info_classif(discrete_features=True)``; a tree on the top k vs all."""
    from sklearn.feature_selection import mutual_info_classif

    split = load_split(sel_cfg.dataset, tree_cfg.test_size, seed)
    edges = feature_selection.quantile_edges(split.X_train, sel_cfg.n_bins)
    codes = feature_selection.discretize(split.X_train, edges)
    ours = feature_selection.mutual_information_scores(codes, split.y_train)
    theirs = mutual_info_classif(codes, split.y_train, discrete_features=True, random_state=seed)
    order = feature_selection.rank_features(ours)
    top = order[: sel_cfg.top_k]
    selected, every = build_tree(tree_cfg, seed)[0], build_tree(tree_cfg, seed)[0]
    selected.fit(split.X_train[:, top], split.y_train)
    every.fit(split.X_train, split.y_train)
    table = pd.DataFrame(
        {
            "feature": np.array(split.feature_names)[order],
            "mutual_information": ours[order],
            "sklearn": theirs[order],
            "abs_diff": np.abs(ours - theirs)[order],
        }
    )
    metrics = {
        "selection_mi_max_abs_diff": table["abs_diff"].max(),
        "selection_same_ranking": np.array_equal(order, feature_selection.rank_features(theirs)),
        "selection_top_k_tree_accuracy": selected.score(split.X_test[:, top], split.y_test),
        "selection_all_features_tree_accuracy": every.score(split.X_test, split.y_test),
    }
    mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
    mlflow.log_table(table, "tables/mutual_information_ranking.json")
    log.info("feature selection: %s", {k: round(float(v), 16) for k, v in metrics.items()})
