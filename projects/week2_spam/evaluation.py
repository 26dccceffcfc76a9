"""Out-of-sample evaluation of the filter beside scikit-learn's: one split, or k folds.

Both schemes return the same thing, an :class:`OutOfSample`: every evaluated
message with its true label and both filters' P(spam), and the metrics. Spam is
the positive class throughout.

Where scikit-learn's posterior is undefined, its P(spam) is NaN: with alpha = 0 a
message can have evidence P(x) = 0 (each class is missing one of its tokens), a 0 / 0
that scikit-learn returns as NaN and ours replaces by the prior (see ``naive_bayes``).
The comparisons with scikit-learn (parity, McNemar) then use the messages where both are
defined, and scikit-learn's own scores (``sklearn_*``) are not computed: they would
describe other messages than ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline

from projects.week2_spam.calibration import CALIBRATORS
from projects.week2_spam.data import POSITIVE
from projects.week2_spam.spam_filter import spam_log_odds

THRESHOLD = 0.5  # predict spam when P(spam | x) > 1/2: the Bayes decision for 0-1 loss


@dataclass
class OutOfSample:
    texts: np.ndarray  # the messages the filters did not train on
    is_spam: np.ndarray  # bool, their true labels
    p_ours: np.ndarray  # P(spam | text) from the from-scratch filter
    p_reference: np.ndarray  # ... and from scikit-learn's (NaN: undefined, see the module)
    filters: list[Pipeline]  # our fitted filter of each fold (holdout: one)
    fold: np.ndarray  # fold[i]: the filter that scored texts[i] without training on it
    metrics: dict[str, float] = field(default_factory=dict)
    fold_metrics: list[dict[str, float]] = field(default_factory=list)  # cv only
    train_labels: np.ndarray | None = None  # the labels filters[0] was fitted on

    @property
    def reference_defined(self) -> np.ndarray:
        """bool, where scikit-learn's P(spam) is a number (not the NaN of a 0 / 0)."""
        return ~np.isnan(self.p_reference)


def classification_metrics(is_spam: np.ndarray, p_spam: np.ndarray) -> dict[str, float]:
    """Accuracy, precision, recall, F1, MCC at the 1/2 threshold; ROC AUC over all thresholds."""
    predicted = p_spam > THRESHOLD
    return {
        "accuracy": skm.accuracy_score(is_spam, predicted),
        "precision": skm.precision_score(is_spam, predicted, zero_division=0.0),
        "recall": skm.recall_score(is_spam, predicted),
        "f1": skm.f1_score(is_spam, predicted),
        "mcc": skm.matthews_corrcoef(is_spam, predicted),
        "roc_auc": skm.roc_auc_score(is_spam, p_spam),
    }


def parity_error(ours: Pipeline, reference: Pipeline, texts) -> float:
    """max |log P_ours(y|x) - log P_sklearn(y|x)| over messages and classes (equal -inf: 0)."""
    return log_proba_gap(
        ours.predict_log_proba(list(texts)), reference.predict_log_proba(list(texts))
    )


def log_proba_gap(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| of two arrays of log-probabilities, 0 where both are -inf."""
    both_infinite = np.isneginf(a) & np.isneginf(b)
    with np.errstate(invalid="ignore"):  # -inf - -inf, replaced by 0
        return float(np.max(np.where(both_infinite, 0.0, np.abs(a - b))))


def fit_and_score(ours, reference, train_texts, train_labels, test_texts, test_labels):
    """Fit both filters on the training part; P(spam) of each on the test part, and parity.

    Each filter scores the test part once: log P(y | x) gives the parity, and
    P(spam | x) = exp(log P(spam | x)) is what ``predict_proba`` returns (both filters
    compute it so), i.e. ``spam_probability``. The parity covers the messages where
    scikit-learn's posterior is defined (NaN if it is defined for none).
    """
    ours.fit(list(train_texts), train_labels)
    log_ours = ours.predict_log_proba(list(test_texts))
    with np.errstate(divide="ignore", invalid="ignore"):  # alpha = 0: log 0, and 0 / 0 = NaN
        reference.fit(list(train_texts), train_labels)
        log_reference = reference.predict_log_proba(list(test_texts))
    p_ours, p_reference = (
        np.exp(log_p[:, list(f.classes_).index(POSITIVE)])
        for f, log_p in ((ours, log_ours), (reference, log_reference))
    )
    defined = ~np.isnan(log_reference).any(axis=1)
    parity = log_proba_gap(log_ours[defined], log_reference[defined]) if defined.any() else np.nan
    return ours, p_ours, p_reference, parity


def holdout(build, texts, labels, *, test_size: float, seed: int) -> OutOfSample:
    """One stratified split: ``test_*`` metrics of ours, ``sklearn_test_*`` of the reference."""
    if not 0 < test_size < 1:
        raise ValueError(f"data.test_size must be in (0, 1), got {test_size}")
    train_x, test_x, train_y, test_y = train_test_split(
        texts, labels, test_size=test_size, stratify=labels, random_state=seed
    )
    ours, p_ours, p_ref, parity = fit_and_score(*build(), train_x, train_y, test_x, test_y)
    is_spam = test_y == POSITIVE
    result = OutOfSample(
        test_x, is_spam, p_ours, p_ref, [ours], np.zeros(len(test_x), int), train_labels=train_y
    )
    result.metrics = {f"test_{k}": v for k, v in classification_metrics(is_spam, p_ours).items()}
    if result.reference_defined.all():
        scores = classification_metrics(is_spam, p_ref)
        result.metrics |= {f"sklearn_test_{k}": v for k, v in scores.items()}
    result.metrics |= {
        "parity_max_abs_log_proba": parity,
        "sklearn_undefined_posteriors": float(np.sum(~result.reference_defined)),
    }
    return result


def cross_validate(build, texts, labels, *, folds: int, seed: int) -> OutOfSample:
    """Stratified k-fold: ``cv_<metric>_mean`` and ``_std`` over folds; out-of-fold P(spam)."""
    if folds < 2:
        raise ValueError(f"cv_folds must be >= 2, got {folds}")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    p_ours, p_ref, fold = np.empty(len(texts)), np.empty(len(texts)), np.empty(len(texts), int)
    is_spam = labels == POSITIVE
    filters, fold_metrics, parity, first_train = [], [], np.nan, None
    for k, (train, test) in enumerate(splitter.split(texts, labels)):
        first_train = labels[train] if k == 0 else first_train
        ours, p_ours[test], p_ref[test], fold_parity = fit_and_score(
            *build(), texts[train], labels[train], texts[test], labels[test]
        )
        filters.append(ours)
        fold[test] = k
        parity = float(np.fmax(parity, fold_parity))  # max over folds, a NaN fold left out
        fold_metrics.append(classification_metrics(is_spam[test], p_ours[test]))
    result = OutOfSample(
        texts,
        is_spam,
        p_ours,
        p_ref,
        filters,
        fold,
        fold_metrics=fold_metrics,
        train_labels=first_train,
    )
    for name in fold_metrics[0]:
        values = np.array([m[name] for m in fold_metrics])
        result.metrics[f"cv_{name}_mean"] = float(values.mean())
        result.metrics[f"cv_{name}_std"] = float(values.std(ddof=1))
    if result.reference_defined.all():
        result.metrics["sklearn_cv_mcc_pooled"] = classification_metrics(is_spam, p_ref)["mcc"]
    result.metrics |= {
        "parity_max_abs_log_proba": parity,
        "sklearn_undefined_posteriors": float(np.sum(~result.reference_defined)),
    }
    return result


def rows(X, index):
    """X[index]: a list of the texts for a 1-D array of texts (what the vectorizer reads)."""
    return list(X[index]) if X.ndim == 1 else X[index]


def duplicate_groups(texts) -> np.ndarray:
    """One group id per distinct text: copies of a message share theirs."""
    return pd.factorize(np.asarray(texts, dtype=object))[0]


def out_of_fold_log_odds(make_filter, X, labels, *, groups, folds: int, seed: int) -> np.ndarray:
    """z_j of each message from a filter fitted on the other folds (a group stays in one fold).

    ``make_filter()``: a fresh unfitted filter. Folds: ``StratifiedGroupKFold`` (shuffled,
    seeded), so a duplicate never scores a filter that trained on its copy.
    """
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    z = np.empty(len(labels))
    for train, test in splitter.split(X, labels, groups):
        z[test] = spam_log_odds(make_filter().fit(rows(X, train), labels[train]), rows(X, test))
    return z


def fit_calibration(make_filter, X, labels, *, groups, method: str, folds: int, seed: int):
    """The ``method`` map (``calibration.CALIBRATORS``) fitted on out-of-fold log-odds of X."""
    z = out_of_fold_log_odds(make_filter, X, labels, groups=groups, folds=folds, seed=seed)
    return CALIBRATORS[method](z, labels == POSITIVE)
