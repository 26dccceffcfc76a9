"""Week 2 recipe: probability drills, then a naive Bayes spam filter beside scikit-learn's.

The run logs the drills (distributions, the law of large numbers, the central
limit theorem, feature correlations), the filter's out-of-sample metrics (one
split, or k folds with ``eval=cv``), its parity with scikit-learn, McNemar's
test between the two, Bayes' theorem at work on misclassified messages, and the
fitted filter as an MLflow model that serves raw text.
"""

from __future__ import annotations

import logging
import tempfile
import textwrap
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from omegaconf import DictConfig
from sklearn import metrics as skm

from common.plotting import figure
from projects.week2_spam import evaluation, explain, plots, probability
from projects.week2_spam.data import LABELS, load_messages
from projects.week2_spam.hypothesis_test import mcnemar
from projects.week2_spam.spam_filter import (
    MODEL_NAME,
    build_filter,
    build_reference,
    check_model,
    filter_parts,
    save_filter,
    vectorizer_settings,
)

log = logging.getLogger(__name__)

SERVING_CODE = Path(__file__).with_name("serving.py")
EXAMPLE_MESSAGES = ["Are we still on for lunch tomorrow?", "WINNER! Claim your £1000 prize now"]
CLT_SIZES = (1, 2, 10, 30)
SCHEMES = ("holdout", "cv")  # values of `eval`


def run(cfg: DictConfig) -> float:
    """Drills, evaluation, explanations, the logged model; returns the headline MCC."""
    check_settings(cfg)
    rng = np.random.default_rng(cfg.seed)
    messages = load_messages(cfg.data.path)
    log_probability_drills(rng, cfg.drill_samples, messages)
    texts = messages["text"].to_numpy(dtype=object)  # pandas 3: Arrow strings -> objects
    labels = messages["label"].to_numpy(dtype=object)

    def build():  # a fresh pair of unfitted filters, ours and scikit-learn's
        return build_filter(cfg.features, cfg.model), build_reference(cfg.features, cfg.model)

    result = evaluate(cfg, build, texts, labels)
    log_comparison(result)
    log_explanations(result, cfg.explain)
    # holdout: the filter the test metrics describe; cv: one trained on every message
    final = result.filters[0] if cfg.eval == "holdout" else build()[0].fit(list(texts), labels)
    log_model(final)
    headline = "cv_mcc_mean" if cfg.eval == "cv" else "test_mcc"
    return result.metrics[headline]


def check_settings(cfg: DictConfig) -> None:
    """Fail before any work on a setting no step can use."""
    check_model(cfg.model)
    if cfg.model.alpha < 0:
        raise ValueError(f"model.alpha must be >= 0, got {cfg.model.alpha}")
    if cfg.eval not in SCHEMES:
        raise ValueError(f"eval must be one of {sorted(SCHEMES)}, got {cfg.eval!r}")
    vectorizer_settings(cfg.features)


def evaluate(cfg: DictConfig, build, texts, labels) -> evaluation.OutOfSample:
    """The configured scheme (``eval``): one stratified split or stratified k-fold."""
    if cfg.eval == "cv":
        result = evaluation.cross_validate(build, texts, labels, folds=cfg.cv_folds, seed=cfg.seed)
    else:
        result = evaluation.holdout(
            build, texts, labels, test_size=cfg.data.test_size, seed=cfg.seed
        )
    mlflow.log_metrics(result.metrics)
    for fold, fold_metrics in enumerate(result.fold_metrics):
        mlflow.log_metrics({f"fold_{k}": v for k, v in fold_metrics.items()}, step=fold)
    log.info("%s", {k: round(v, 4) for k, v in result.metrics.items()})
    return result


def log_probability_drills(rng: np.random.Generator, n: int, messages: pd.DataFrame) -> None:
    """W2.2-W2.4, W2.P1-W2.P3: simulations against theory, and correlations in real data."""
    moments = probability.moments_table(rng, n)
    mlflow.log_table(moments, "tables/distribution_moments.json")
    mlflow.log_metric("drill_max_abs_z", float(moments[["z_mean", "z_var"]].abs().max().max()))
    samples = {name: sample(rng, n) for name, (sample, _) in probability.DISTRIBUTIONS.items()}
    exact = {name: dist for name, (_, dist) in probability.DISTRIBUTIONS.items()}
    with figure("drills/distributions", nrows=2, ncols=3, figsize=(13, 7)) as (_, axes):
        plots.distribution_grid(axes, samples, exact)

    coin, die = probability.coin_tosses(rng, n), probability.dice_rolls(rng, n)
    with figure("drills/law_of_large_numbers", ncols=2, figsize=(12, 4)) as (_, (left, right)):
        plots.law_of_large_numbers(left, probability.running_mean(coin), 0.5, 0.5, "coin tosses")
        plots.law_of_large_numbers(
            right, probability.running_mean(die), 3.5, np.sqrt(35 / 12), "dice rolls"
        )
    z = {m: probability.sample_means(rng, "exponential", m, 4000) for m in CLT_SIZES}
    distances = {m: probability.ks_distance_to_normal(z[m]) for m in CLT_SIZES}
    mlflow.log_metrics({f"clt_ks_n{m}": d for m, d in distances.items()})
    with figure("drills/central_limit_theorem", ncols=len(CLT_SIZES), figsize=(16, 3.6)) as (
        _,
        axes,
    ):
        plots.central_limit_theorem(axes, z, distances)

    features = probability.message_features(messages["text"], messages["label"])
    correlations = probability.feature_correlations(features)
    pandas_gap = np.abs(correlations.to_numpy() - features.corr().to_numpy()).max()
    mlflow.log_metric("feature_corr_max_abs_diff_pandas", float(pandas_gap))  # vs DataFrame.corr()
    mlflow.log_table(correlations.reset_index(names="feature"), "tables/feature_correlations.json")
    with figure("drills/feature_correlations", figsize=(7, 6)) as (_, ax):
        plots.correlation_heatmap(ax, correlations)


def log_comparison(result: evaluation.OutOfSample) -> None:
    """Confusion matrix, ROC and precision-recall curves, and McNemar's test, ours vs sklearn."""
    predicted = result.p_ours > evaluation.THRESHOLD
    with figure("confusion_matrix", figsize=(5, 4.5)) as (_, ax):
        plots.confusion_matrix(ax, skm.confusion_matrix(result.is_spam, predicted), list(LABELS))
    curves = {"ours": result.p_ours, "scikit-learn": result.p_reference}
    with figure("roc_curve", figsize=(5.5, 5)) as (_, ax):
        plots.roc_curves(
            ax,
            {
                name: (*skm.roc_curve(result.is_spam, p)[:2], skm.roc_auc_score(result.is_spam, p))
                for name, p in curves.items()
            },
        )
    with figure("precision_recall_curve", figsize=(5.5, 5)) as (_, ax):
        plots.precision_recall_curves(
            ax,
            {
                name: (
                    *skm.precision_recall_curve(result.is_spam, p)[:2],
                    skm.average_precision_score(result.is_spam, p),
                )
                for name, p in curves.items()
            },
            prevalence=float(result.is_spam.mean()),
        )
    test = mcnemar(result.is_spam, predicted, result.p_reference > evaluation.THRESHOLD)
    mlflow.log_metrics(
        {
            "mcnemar_p_value": test.p_value,
            "mcnemar_statistic": test.statistic,
            "mcnemar_chi2": test.chi2,
        }
    )
    mlflow.set_tag("mcnemar", f"b={test.b} c={test.c} {test.method}: p={test.p_value:.4g}")


def log_explanations(result: evaluation.OutOfSample, cfg: DictConfig) -> None:
    """W2.1, W2.P4, W2.X1: Bayes' theorem token by token, the MLEs, what smoothing changes.

    Each misclassified message is explained by the filter that scored it without
    having trained on it.
    """
    vectorizer, model = filter_parts(result.filters[0])
    if type(model) not in explain.EVIDENCE:  # complement NB: its scores are not P(x | y)
        log.warning("no token-by-token explanation for %s", type(model).__name__)
        mlflow.set_tag("explanations", f"not available for {type(model).__name__}")
        return
    tokens = explain.indicative_tokens(vectorizer, model, n=cfg.n_tokens)
    mlflow.log_table(tokens, "tables/indicative_tokens.json")
    with figure("indicative_tokens", figsize=(7, 8)) as (_, ax):
        plots.indicative_tokens(ax, tokens, k=cfg.n_tokens)
    token = explain.unseen_token(vectorizer, model)
    mlflow.log_table(
        explain.smoothing_effect(vectorizer, model, token=token, message=readable(token)),
        "tables/smoothing_effect.json",
    )

    wrong = np.flatnonzero((result.p_ours > evaluation.THRESHOLD) != result.is_spam)
    for i, index in enumerate(wrong[: cfg.n_misclassified]):
        text = result.texts[index]
        contributions, summary = explain.explain(
            text, *filter_parts(result.filters[result.fold[index]])
        )
        mlflow.log_table(contributions, f"tables/misclassified_{i}.json")
        truth = "spam" if result.is_spam[index] else "ham"
        with figure(f"misclassified_{i}", figsize=(8, 5)) as (_, ax):
            plots.message_explanation(
                ax,
                contributions,
                summary["prior_log_odds"],
                summary["p_spam"],
                title=f"a {truth} message: {textwrap.shorten(text, 50)!r}",
                absent_log_odds=summary["absent_log_odds"],
            )


def readable(feature: str) -> str:
    """``word__free`` -> ``free``: the text a feature name of the vectorizer union stands for."""
    return feature.split("__", 1)[-1]


def log_model(spam_filter) -> None:
    """The fitted filter as an MLflow model (code + JSON/.npy files, no pickle): text -> P(spam)."""
    with tempfile.TemporaryDirectory() as folder:
        save_filter(spam_filter, Path(folder) / "filter")
        mlflow.pyfunc.log_model(
            name=MODEL_NAME,
            python_model=str(SERVING_CODE),
            artifacts={"filter": str(Path(folder) / "filter")},
            input_example=EXAMPLE_MESSAGES,
        )
