"""The datasets of week 4, all shipped with scikit-learn: no download.

iris (150 x 4, 3 classes), wine (178 x 13, 3 classes) and breast cancer
(569 x 30, 2 classes) for the trees; digits (1,797 8x8 images, 10 classes) as
vectors in R^64 for the similarity search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn import datasets
from sklearn.model_selection import train_test_split

LOADERS = {
    "iris": datasets.load_iris,
    "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer,
    "digits": datasets.load_digits,
}


@dataclass(frozen=True)
class Split:
    """A stratified train/test split, with the names a plot needs."""

    name: str
    X_train: np.ndarray  # shape (n_train, n_features)
    X_test: np.ndarray
    y_train: np.ndarray  # shape (n_train,)
    y_test: np.ndarray
    feature_names: list[str]
    target_names: list[str]


def load_split(name: str, test_size: float, seed: int) -> Split:
    """``name`` from :data:`LOADERS`, split with ``test_size`` held out, stratified by label."""
    if name not in LOADERS:
        raise ValueError(f"dataset must be one of {sorted(LOADERS)}, got {name!r}")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    bunch = LOADERS[name]()
    X_train, X_test, y_train, y_test = train_test_split(
        bunch.data, bunch.target, test_size=test_size, random_state=seed, stratify=bunch.target
    )
    feature_names = [str(f) for f in getattr(bunch, "feature_names", range(bunch.data.shape[1]))]
    return Split(
        name, X_train, X_test, y_train, y_test, feature_names, [str(t) for t in bunch.target_names]
    )
