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

Each scheme scores the decisions at P(spam) > 1/2 (accuracy ... MCC), the ranking (ROC
AUC) and the probabilities themselves (log loss, Brier score, saturated share, calibration
error: ``calibration``). Optionally the log-odds of ours are recalibrated by a map fitted
on out-of-fold log-odds of the training part alone (``fit_calibration``), and scored as
``calibrated_*``. Folds can keep groups together (``StratifiedGroupKFold``): the corpus
repeats some messages word for word (``duplicate_groups``), and a copy on each side of a
split is a test message the filter has already seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline

from projects.week2_spam.calibration import CALIBRATORS, probability_metrics
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
    p_calibrated: np.ndarray | None = None  # P(spam) of ours recalibrated (calibration on)
    calibrators: list = field(default_factory=list)  # the map of each fold (``calibration``)
    calibrated_fold_metrics: list[dict[str, float]] = field(default_factory=list)  # cv only

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


def out_of_sample_metrics(is_spam: np.ndarray, p_spam: np.ndarray) -> dict[str, float]:
    """The decisions' scores (``classification_metrics``) and the probabilities' (log loss...)."""
    return classification_metrics(is_spam, p_spam) | probability_metrics(is_spam, p_spam)


def prefixed(prefix: str, metrics: dict[str, float]) -> dict[str, float]:
    """``{prefix}{name}``: each metric named for the filter and the scheme it describes."""
    return {f"{prefix}{name}": value for name, value in metrics.items()}


def calibrated(calibrate, ours: Pipeline, train_texts, train_labels, test_texts):
    """(The calibration map fitted on the training part, calibrated P(spam) of the test part)."""
    calibrator = calibrate(train_texts, train_labels)
    return calibrator, calibrator.predict(spam_log_odds(ours, list(test_texts)))


def holdout(build, texts, labels, *, test_size: float, seed: int, calibrate=None) -> OutOfSample:
    """One stratified split: ``test_*`` metrics of ours, ``sklearn_test_*`` of the reference.

    ``calibrate(train_texts, train_labels)`` (optional) returns a fitted calibration map of
    the log-odds: its P(spam) are scored as ``calibrated_test_*``.
    """
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
    result.metrics = prefixed("test_", out_of_sample_metrics(is_spam, p_ours))
    if result.reference_defined.all():
        result.metrics |= prefixed("sklearn_test_", out_of_sample_metrics(is_spam, p_ref))
    result.metrics |= {
        "parity_max_abs_log_proba": parity,
        "sklearn_undefined_posteriors": float(np.sum(~result.reference_defined)),
        "test_duplicates_of_train": float(np.isin(test_x, train_x).sum()),
    }
    if calibrate is not None:
        calibrator, result.p_calibrated = calibrated(calibrate, ours, train_x, train_y, test_x)
        result.calibrators = [calibrator]
        scores = out_of_sample_metrics(is_spam, result.p_calibrated)
        result.metrics |= prefixed("calibrated_test_", scores)
    return result


def cross_validate(
    build, texts, labels, *, folds: int, seed: int, groups=None, calibrate=None, name="cv"
) -> OutOfSample:
    """Stratified k-fold: ``{name}_<metric>_mean`` and ``_std`` over folds; out-of-fold P(spam).

    ``groups`` (optional): ``StratifiedGroupKFold``, each group in one fold (the copies of a
    message, ``duplicate_groups``). ``calibrate``: as in ``holdout``, ``calibrated_{name}_*``.
    """
    if folds < 2:
        raise ValueError(f"cv_folds must be >= 2, got {folds}")
    if groups is None:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    else:
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    result = score_folds(build, texts, labels, splitter.split(texts, labels, groups), calibrate)
    result.metrics = fold_summary(result.fold_metrics, name) | result.metrics
    pooled = {"": result.p_ours, "calibrated_": result.p_calibrated}
    if result.reference_defined.all():
        pooled["sklearn_"] = result.p_reference
    for filter_name, p in pooled.items():
        if p is not None:
            scores = {"mcc": classification_metrics(result.is_spam, p)["mcc"]}
            scores |= probability_metrics(result.is_spam, p)
            result.metrics |= {f"{filter_name}{name}_{k}_pooled": v for k, v in scores.items()}
    if calibrate is not None:
        result.metrics |= fold_summary(result.calibrated_fold_metrics, f"calibrated_{name}")
    result.metrics["sklearn_undefined_posteriors"] = float(np.sum(~result.reference_defined))
    return result


def score_folds(build, texts, labels, splits, calibrate=None) -> OutOfSample:
    """Fit and score both filters on each (train, test) split; out-of-fold P(spam) of each."""
    n, is_spam = len(texts), labels == POSITIVE
    p_calibrated = np.empty(n) if calibrate is not None else None
    result = OutOfSample(
        texts, is_spam, np.empty(n), np.empty(n), [], np.empty(n, int), p_calibrated=p_calibrated
    )
    parity = np.nan
    for k, (train, test) in enumerate(splits):
        result.train_labels = labels[train] if k == 0 else result.train_labels
        ours, result.p_ours[test], result.p_reference[test], fold_parity = fit_and_score(
            *build(), texts[train], labels[train], texts[test], labels[test]
        )
        result.filters.append(ours)
        result.fold[test] = k
        parity = float(np.fmax(parity, fold_parity))  # max over folds, a NaN fold left out
        result.fold_metrics.append(out_of_sample_metrics(is_spam[test], result.p_ours[test]))
        if calibrate is not None:
            calibrator, p_calibrated[test] = calibrated(
                calibrate, ours, texts[train], labels[train], texts[test]
            )
            result.calibrators.append(calibrator)
            scores = out_of_sample_metrics(is_spam[test], p_calibrated[test])
            result.calibrated_fold_metrics.append(scores)
    result.metrics["parity_max_abs_log_proba"] = parity
    return result


def fold_summary(fold_metrics: list[dict[str, float]], name: str) -> dict[str, float]:
    """``{name}_<metric>_mean`` and ``_std`` (ddof 1) of each metric over the folds."""
    summary = {}
    for metric in fold_metrics[0]:
        values = np.array([m[metric] for m in fold_metrics])
        summary[f"{name}_{metric}_mean"] = float(values.mean())
        summary[f"{name}_{metric}_std"] = float(values.std(ddof=1))
    return summary


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
    """The ``method`` map (``calibration.CALIBRATORS``) fitted on out-of-fold log-odds of X.

    Each class needs a message in every fold: ValueError naming ``calibration.folds`` if not.
    """
    smallest = pd.Series(labels).value_counts().min()
    if smallest < folds:
        raise ValueError(
            f"calibration.folds={folds}: a training part holds only {smallest} messages of one "
            f"class, too few for {folds} folds; set calibration.folds <= {max(smallest, 2)} or "
            f"give more messages"
        )
    z = out_of_fold_log_odds(make_filter, X, labels, groups=groups, folds=folds, seed=seed)
    return CALIBRATORS[method](z, labels == POSITIVE)
