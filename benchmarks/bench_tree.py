"""Time the from-scratch decision tree against scikit-learn's on the same data.

Run: ``.venv/bin/python -m benchmarks.bench_tree``. Both trees use the entropy criterion
and no depth limit (grown until their leaves are pure); scikit-learn's is
``DecisionTreeClassifier(criterion="entropy", random_state=0)``.

- ``make_classification 50k (all)``: ``make_classification(n_samples=50_000,
  n_features=20, random_state=0)``, fitted on all 50,000 samples: the size the
  from-scratch tree must fit in at most twice scikit-learn's time.
- ``make_classification 50k (80/20)``: the same data, fitted on a stratified 80% and
  scored on the other 20%; then iris, wine and breast cancer on stratified 70/30 splits.
- ``make_classification 160k x 50 (all)``: ``make_classification(n_samples=160_000,
  n_features=50, random_state=0)``, all of it: where memory shows (one round: a fit takes
  seconds).

Times are the best of ``repeats`` rounds of ``fit`` (``time.perf_counter``), ours and
scikit-learn's alternating so drift hits both, one BLAS thread; ``ratio`` = ours /
scikit-learn's. ``ours_acc`` / ``sklearn_acc`` are held-out accuracies and ``agreement``
the share of held-out samples both trees label alike. Equal-gain splits are broken
differently (we take the lowest feature index, scikit-learn a random feature order), so
the trees, and a few predictions, can differ without either being wrong.

``ours_MB`` / ``sklearn_MB`` are the peak memory of one more fit of each, traced by
``tracemalloc`` (every NumPy array, and what scikit-learn's Cython allocates through
Python's allocator; X, made before, is not counted), outside the timed rounds (tracing slows
allocation); ``mem_ratio`` = ours / scikit-learn's, the target at most 2.

A second table times the shapes where a cost per class or per level shows (``SHAPES``): the
fit on 30 classes and on wide data (1,600 x 2,000), and ``predict`` with 2 classes on
160,000 rows and with 30 classes on all 50,000 rows and on 100 (where a cost per call
and class, not per row, shows). Each time is the median of ``repeats`` alternating rounds
(``median_times``); ``ratio`` = ours / scikit-learn's, the target at most 1.
``python -m benchmarks.bench_tree --shapes`` prints only this table.
"""

import argparse
import gc
import tracemalloc

import numpy as np
from sklearn import tree as sk_tree
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris, load_wine, make_classification
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from benchmarks.timing import best_times, median_times, print_table
from projects.week4_tree_search.tree import DecisionTreeClassifier

ROUNDS = {  # rounds per ``repeats``: the small sets take milliseconds, the largest seconds
    "make_classification 50k (all)": 1,
    "make_classification 50k (80/20)": 1,
    "make_classification 160k x 50 (all)": 1 / 3,
}


def datasets():
    """name -> (X_train, X_test, y_train, y_test); X_test is None where all samples fit."""
    X, y = make_classification(n_samples=50_000, n_features=20, random_state=0)
    X_big, y_big = make_classification(n_samples=160_000, n_features=50, random_state=0)
    splits = {
        "make_classification 50k (all)": (X, None, y, None),
        "make_classification 50k (80/20)": train_test_split(
            X, y, test_size=0.2, stratify=y, random_state=0
        ),
    }
    for name, load in (
        ("iris", load_iris),
        ("wine", load_wine),
        ("breast_cancer", load_breast_cancer),
    ):
        X, y = load(return_X_y=True)
        splits[name] = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    splits["make_classification 160k x 50 (all)"] = (X_big, None, y_big, None)
    return splits


THIRTY_CLASSES = {"n_samples": 50_000, "n_features": 20, "n_informative": 10, "n_classes": 30}
SHAPES = {  # name -> (make_classification arguments, what is timed: "fit" or predict's rows)
    "fit, 30 classes, 50,000 x 20": (THIRTY_CLASSES, "fit"),
    "fit, 2 classes, 1,600 x 2,000": ({"n_samples": 1_600, "n_features": 2_000}, "fit"),
    "predict, 2 classes, 160,000 x 50": ({"n_samples": 160_000, "n_features": 50}, None),
    "predict, 30 classes, 50,000 x 20": (THIRTY_CLASSES, None),
    "predict, 30 classes, 100 x 20": (THIRTY_CLASSES, 100),
}


def time_shape(arguments, timed, fitted, repeats):
    """(ours_s, sklearn_s, ours, theirs) of one ``SHAPES`` entry; ``fitted`` caches the trees."""
    X, y = make_classification(**arguments, random_state=0)
    key = str(arguments)
    if timed == "fit" or key not in fitted:
        ours = DecisionTreeClassifier(criterion="entropy")
        theirs = sk_tree.DecisionTreeClassifier(criterion="entropy", random_state=0)
        if timed != "fit":
            fitted[key] = ours.fit(X, y), theirs.fit(X, y)
    if timed == "fit":
        times = median_times(lambda: ours.fit(X, y), lambda: theirs.fit(X, y), repeats)
        fitted[key] = ours, theirs
        return (*times, ours, theirs)
    ours, theirs = fitted[key]
    X_query = X if timed is None else X[:timed]
    times = median_times(lambda: ours.predict(X_query), lambda: theirs.predict(X_query), repeats)
    return (*times, ours, theirs)


def shape_rows(repeats):
    """One row per ``SHAPES`` entry: the median time of ours and scikit-learn's, their ratio."""
    rows, fitted = [], {}
    for name, (arguments, timed) in SHAPES.items():
        ours_s, sklearn_s, ours, theirs = time_shape(arguments, timed, fitted, repeats)
        rows.append({
            "shape": name,
            "ours_s": ours_s,
            "sklearn_s": sklearn_s,
            "ratio": ours_s / sklearn_s,
            "ours_nodes": ours.tree_.node_count,
            "sklearn_nodes": theirs.tree_.node_count,
        })  # fmt: skip
    return rows


def print_shapes(repeats=5, blas_threads=1):
    """Print the ``SHAPES`` table (medians of ``repeats`` rounds) and return its rows."""
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        rows = shape_rows(repeats)
    print_table(
        f"Decision tree fit and predict where classes or levels cost (entropy, unconstrained), "
        f"median of {repeats} rounds, BLAS threads: {blas_threads}",
        rows,
        {"ours_s": "{:.4f}", "sklearn_s": "{:.4f}", "ratio": "{:.2f}"},
    )
    return rows


def traced_peak_mb(fit):
    """Peak traced memory (MB) of one call of fit(), counted from its start."""
    gc.collect()
    tracemalloc.start()
    try:
        fit()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def compare(name, X_train, X_test, y_train, y_test, repeats):
    """One table row: both fits timed, their tree sizes and held-out predictions."""
    ours = DecisionTreeClassifier(criterion="entropy")
    theirs = sk_tree.DecisionTreeClassifier(criterion="entropy", random_state=0)
    ours_s, sklearn_s = best_times(
        lambda: ours.fit(X_train, y_train), lambda: theirs.fit(X_train, y_train), repeats
    )
    ours_mb = traced_peak_mb(lambda: clone(ours).fit(X_train, y_train))
    sklearn_mb = traced_peak_mb(lambda: clone(theirs).fit(X_train, y_train))
    row = {
        "data": name,
        "n_train": len(X_train),
        "ours_s": ours_s,
        "sklearn_s": sklearn_s,
        "ratio": ours_s / sklearn_s,
        "ours_MB": ours_mb,
        "sklearn_MB": sklearn_mb,
        "mem_ratio": ours_mb / sklearn_mb,
        "ours_nodes": ours.tree_.node_count,
        "sklearn_nodes": theirs.tree_.node_count,
        "ours_depth": ours.get_depth(),
        "sklearn_depth": theirs.get_depth(),
    }
    if X_test is not None:
        predicted = ours.predict(X_test), theirs.predict(X_test)
        row["ours_acc"] = np.mean(predicted[0] == y_test)
        row["sklearn_acc"] = np.mean(predicted[1] == y_test)
        row["agreement"] = np.mean(predicted[0] == predicted[1])
    return row


def main(repeats=3, blas_threads=1):
    """Print the timing table and return its rows as a list of dicts."""
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        rows = [
            compare(name, *data, repeats=max(1, round(ROUNDS.get(name, 3) * repeats)))
            for name, data in datasets().items()
        ]
    print_table(
        f"Decision tree fit (entropy, unconstrained), best of {repeats} rounds "
        f"({3 * repeats} for the small sets, {max(1, round(repeats / 3))} for 160k x 50), "
        f"BLAS threads: {blas_threads}",
        rows,
        {
            "ours_s": "{:.4f}",
            "sklearn_s": "{:.4f}",
            "ratio": "{:.2f}",
            "ours_MB": "{:.1f}",
            "sklearn_MB": "{:.1f}",
            "mem_ratio": "{:.2f}",
            "ours_acc": "{:.4f}",
            "sklearn_acc": "{:.4f}",
            "agreement": "{:.4f}",
        },
    )
    print()
    return rows + print_shapes(max(3, repeats), blas_threads)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", action="store_true", help="only the table of SHAPES")
    parser.add_argument("--repeats", type=int, default=5, help="rounds of the SHAPES table")
    arguments = parser.parse_args()
    if arguments.shapes:
        print_shapes(arguments.repeats)
    else:
        main()
