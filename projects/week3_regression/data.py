"""The two datasets of week 3, both shipped with scikit-learn (no download).

- diabetes: 442 patients x 10 features, a disease-progression score (regression);
- breast cancer: 569 tumours x 30 features, malignant or benign (classification).

``load_task`` returns a seeded split as float64 tensors, standardized on the
training part when asked: standardizing shrinks the condition number of X^T X,
which is what decides how many steps gradient descent needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

DATASETS = {"linear": load_diabetes, "logistic": load_breast_cancer}


@dataclass
class Split:
    X_train: torch.Tensor  # (n_train, d), float64
    y_train: torch.Tensor  # (n_train,)
    X_test: torch.Tensor
    y_test: torch.Tensor
    feature_names: list[str]


def load_task(task: str, *, test_size: float, standardize: bool, seed: int) -> Split:
    """Seeded (stratified for classification) split of the task's dataset, as tensors."""
    if task not in DATASETS:
        raise ValueError(f"task must be one of {sorted(DATASETS)}, got {task!r}")
    if not 0 < test_size < 1:
        raise ValueError(f"data.test_size must be in (0, 1), got {test_size}")
    bunch = DATASETS[task]()
    X, y = bunch.data.astype(np.float64), bunch.target.astype(np.float64)
    stratify = y if task == "logistic" else None
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=stratify
    )
    if standardize:  # z = (x - mean) / std, fitted on the training part only
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    arrays = (X_train, y_train, X_test, y_test)
    tensors = (torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)
    return Split(*tensors, feature_names=list(bunch.feature_names))
