"""Week 2 recipe: probability drills, then a naive Bayes spam filter beside scikit-learn's.

The run logs the drills (distributions, the law of large numbers, the central
limit theorem, feature correlations), the filter's out-of-sample metrics (one
split, or k folds with ``eval=cv``, also with each message's copies in one fold), how
well its probabilities are calibrated (and, with ``calibration.method``, recalibrated),
its parity with scikit-learn, McNemar's
test between the two, Bayes' theorem at work on misclassified messages, events
and a keyword rule on the messages, per-class statistics, the spam rate's Beta
posterior, integrals (densities, ROC AUC), and the fitted filter as an MLflow
model that serves raw text.
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from omegaconf import DictConfig
from scipy import stats
from sklearn import metrics as skm

from common.estimator_files import CODE_MODEL_DISTRIBUTIONS, log_code_model
from common.plotting import figure, logging_figures
from common.steps import step
from common.validation import under
from projects.week2_spam import (
    bayesian,
    calibration,
    evaluation,
    events,
    explain,
    integration,
    plots,
    probability,
)
from projects.week2_spam.data import LABELS, POSITIVE, load_messages
from projects.week2_spam.hypothesis_test import exact_p_value, mcnemar
from projects.week2_spam.spam_filter import (
    MODEL_NAME,
    build_filter,
    build_reference,
    filter_parts,
    save_filter,
)

log = logging.getLogger(__name__)

SERVING_CODE = Path(__file__).with_name("serving.py")
EXAMPLE_MESSAGES = ["Are we still on for lunch tomorrow?", "WINNER! Claim your £1000 prize now"]
CLT_SIZES = (1, 2, 10, 30)
SPAM_RATE_PRIOR = (1.0, 1.0)  # Beta(a, b) prior of the spam rate: uniform
POSTERIOR_SIZES = (10, 100, 1000)  # the spam rate's posterior after these many messages, then all
SERVING_DISTRIBUTIONS = CODE_MODEL_DISTRIBUTIONS  # the served model's pip requirements


def run(cfg: DictConfig) -> float:
    """Drills, evaluation, explanations, the logged model; returns the headline MCC."""
    check_settings(cfg)
    rng = np.random.default_rng(cfg.seed)
    with step("load the messages"):
        messages = load_messages(cfg.data.path, cfg.data.label_column, cfg.data.text_column)
    texts = messages["text"].to_numpy(dtype=object)  # pandas 3: Arrow strings -> objects
    labels = messages["label"].to_numpy(dtype=object)
    with step("probability drills"):
        features = probability.message_features(texts, labels)  # one row per message
        log_probability_drills(rng, cfg.drill_samples, features)

    def build():  # a fresh pair of unfitted filters, ours and scikit-learn's
        return build_filter(cfg.features, cfg.model), build_reference(cfg.features, cfg.model)

    with step(f"fit and evaluate ({cfg.eval})"):
        result = evaluate(cfg, build, texts, labels)
    with step("ours vs scikit-learn: McNemar"):
        log_comparison(result)
    with step("events, class statistics, Bayes"):
        log_events(messages, result)
        log_class_statistics(features, labels, result)
        posterior = log_bayesian_inference(messages, result)
        log_integrals(result, posterior)
    with step("explain misclassified messages"):
        log_explanations(result, cfg.explain)
    with step("log the filter as an MLflow model"):
        log_model(*final_filter(cfg, build, result, texts, labels))
    headline = "cv_mcc_mean" if cfg.eval == "cv" else "test_mcc"
    return result.metrics[headline]


def final_filter(cfg: DictConfig, build, result: evaluation.OutOfSample, texts, labels):
    """(The filter to log, its calibration map or None).

    holdout: the filter the test metrics describe, and its map; cv: one trained on every
    message, and a map fitted on out-of-fold log-odds of every message.
    """
    if cfg.eval == "holdout":
        return result.filters[0], next(iter(result.calibrators), None)
    calibrate = calibration_fitter(cfg.calibration, lambda: build()[0], cfg.seed)
    final = build()[0].fit(list(texts), labels)
    return final, calibrate(texts, labels) if calibrate is not None else None


def check_settings(cfg: DictConfig) -> None:
    """Fail before any work on a setting no step can use."""
    ours = build_filter(cfg.features, cfg.model)  # features: word_ngrams, char_ngrams or both
    with under("model"):  # the model's own rules: alpha a finite number >= 0
        ours.named_steps["model"].check_params()
    if cfg.calibration.folds < 2:
        raise ValueError(
            f"calibration.folds must be >= 2 (the log-odds of each training message come from "
            f"a filter fitted on the other folds), got {cfg.calibration.folds}"
        )


def evaluate(cfg: DictConfig, build, texts, labels) -> evaluation.OutOfSample:
    """The configured scheme (``eval``): one stratified split or stratified k-fold.

    With ``eval=cv`` the folds are also drawn with each message's copies in one fold
    (``cv_grouped_*``): the corpus repeats some texts, and a copy on both sides of a split
    is a test message the filter has seen.
    """
    calibrate = calibration_fitter(cfg.calibration, lambda: build()[0], cfg.seed)
    if cfg.eval == "cv":
        result = evaluation.cross_validate(
            build, texts, labels, folds=cfg.cv_folds, seed=cfg.seed, calibrate=calibrate
        )
        result.metrics |= grouped_cv_metrics(cfg, build, texts, labels)
    else:
        result = evaluation.holdout(
            build, texts, labels, test_size=cfg.data.test_size, seed=cfg.seed, calibrate=calibrate
        )
    result.metrics |= fitted_temperature(result.calibrators)
    mlflow.log_metrics(result.metrics)
    if result.calibrators:
        mlflow.set_tag("calibration", calibration_note(cfg.calibration))
    for fold, fold_metrics in enumerate(result.fold_metrics):
        mlflow.log_metrics({f"fold_{k}": v for k, v in fold_metrics.items()}, step=fold)
    log.info("%s", {k: round(v, 4) for k, v in result.metrics.items()})
    undefined = int(np.sum(~result.reference_defined))
    if undefined:
        n = len(result.texts)
        why = (
            f"model.alpha={cfg.model.alpha}: scikit-learn's naive Bayes gives NaN for {undefined} "
            f"of {n} messages (unsmoothed, it computes 0/0 where P(x) = 0, or inf - inf; ours "
            f"follows the conventions in naive_bayes.py): parity and McNemar use the other "
            f"{n - undefined}, no sklearn_* scores"
        )
        log.warning("%s", why)
        mlflow.set_tag("reference_comparison", why)
    return result


def fitted_temperature(calibrators: list) -> dict[str, float]:
    """``calibration_temperature``: T of temperature scaling (cv: the mean over folds)."""
    if not calibrators or not isinstance(calibrators[0], calibration.Temperature):
        return {}
    return {"calibration_temperature": float(np.mean([1 / c.beta for c in calibrators]))}


def calibration_note(settings: DictConfig) -> str:
    """The run's tag ``calibration``: what the calibrated_* scores are, and what is not."""
    return (
        f"{settings.method}: calibrated_* score P(spam) mapped from out-of-fold log-odds "
        f"({settings.folds} folds of each training part), and so does the logged model; the "
        f"other scores and the figures but the reliability diagram are uncalibrated"
    )


def grouped_cv_metrics(cfg: DictConfig, build, texts, labels) -> dict[str, float]:
    """``cv_grouped_*``: the k-fold scores with each text's copies in one fold (uncalibrated)."""
    grouped = evaluation.cross_validate(
        build,
        texts,
        labels,
        folds=cfg.cv_folds,
        seed=cfg.seed,
        groups=evaluation.duplicate_groups(texts),
        name="cv_grouped",
    )
    return {k: v for k, v in grouped.metrics.items() if "cv_grouped_" in k}


def calibration_fitter(settings: DictConfig, make_filter, seed: int):
    """None for ``method: none``; else (train texts, labels) -> the fitted calibration map.

    The map is fitted on out-of-fold log-odds of the training messages, a message's copies
    kept in one fold (``evaluation.fit_calibration``).
    """
    if settings.method == "none":
        return None

    def calibrate(texts, labels):  # the map of one training part
        groups = evaluation.duplicate_groups(texts)
        return evaluation.fit_calibration(
            make_filter,
            texts,
            labels,
            groups=groups,
            method=settings.method,
            folds=settings.folds,
            seed=seed,
        )

    return calibrate


def log_probability_drills(rng: np.random.Generator, n: int, features: pd.DataFrame) -> None:
    """W2.2-W2.4, W2.P1-W2.P3: simulations against theory, and correlations in real data."""
    moments = probability.moments_table(rng, n)
    mlflow.log_table(moments, "tables/distribution_moments.json")
    mlflow.log_metric("drill_max_abs_z", float(moments[["z_mean", "z_var"]].abs().max().max()))
    # the figures' samples are drawn with figures=false too: the draws after them stay the same
    samples = {name: sample(rng, n) for name, (sample, _) in probability.DISTRIBUTIONS.items()}
    coin, die = probability.coin_tosses(rng, n), probability.dice_rolls(rng, n)
    z = {m: probability.sample_means(rng, "exponential", m, 4000) for m in CLT_SIZES}
    distances = {m: probability.ks_distance_to_normal(z[m]) for m in CLT_SIZES}
    mlflow.log_metrics({f"clt_ks_n{m}": d for m, d in distances.items()})
    if logging_figures():
        log_drill_figures(samples, coin, die, z, distances)

    correlations = probability.feature_correlations(features)
    pandas_gap = np.abs(correlations.to_numpy() - features.corr().to_numpy()).max()
    mlflow.log_metric("feature_corr_max_abs_diff_pandas", float(pandas_gap))  # vs DataFrame.corr()
    mlflow.log_table(correlations.reset_index(names="feature"), "tables/feature_correlations.json")
    if logging_figures():
        with figure("drills/feature_correlations", figsize=(7, 6)) as (_, ax):
            plots.correlation_heatmap(ax, correlations)


def log_drill_figures(
    samples: dict, coin: np.ndarray, die: np.ndarray, z: dict, distances: dict
) -> None:
    """Samples against their exact pmf/pdf, the law of large numbers, the central limit theorem."""
    exact = {name: dist for name, (_, dist) in probability.DISTRIBUTIONS.items()}
    with figure("drills/distributions", nrows=2, ncols=3, figsize=(13, 7)) as (_, axes):
        plots.distribution_grid(axes, samples, exact)
    with figure("drills/law_of_large_numbers", ncols=2, figsize=(12, 4)) as (_, (left, right)):
        plots.law_of_large_numbers(left, probability.running_mean(coin), 0.5, 0.5, "coin tosses")
        plots.law_of_large_numbers(
            right, probability.running_mean(die), 3.5, np.sqrt(35 / 12), "dice rolls"
        )
    with figure("drills/central_limit_theorem", ncols=len(CLT_SIZES), figsize=(16, 3.6)) as (
        _,
        axes,
    ):
        plots.central_limit_theorem(axes, z, distances)


def log_comparison(result: evaluation.OutOfSample) -> None:
    """Confusion matrix, ROC, precision-recall and reliability curves, and McNemar's test,
    ours vs sklearn."""
    predicted = result.p_ours > evaluation.THRESHOLD
    reliability = reliability_curves(result)
    mlflow.log_table(reliability, "tables/reliability.json")
    if logging_figures():
        log_comparison_figures(result, predicted, reliability)
    both = result.reference_defined  # the messages where scikit-learn's posterior is defined
    if not both.any():
        mlflow.set_tag("mcnemar", "not computed: no message has a scikit-learn posterior")
        return
    test = mcnemar(
        result.is_spam[both], predicted[both], result.p_reference[both] > evaluation.THRESHOLD
    )
    mlflow.log_metrics(
        {
            "mcnemar_p_value": test.p_value,
            "mcnemar_statistic": test.statistic,
            "mcnemar_chi2": test.chi2,
        }
    )
    on = "" if both.all() else f" on {both.sum()} of {len(both)} messages"
    mlflow.set_tag("mcnemar", f"b={test.b} c={test.c} {test.method}{on}: p={test.p_value:.4g}")


def reliability_curves(result: evaluation.OutOfSample) -> pd.DataFrame:
    """One row per filter and bin: mean predicted P(spam), observed spam rate, messages."""
    curves = {"ours": result.p_ours}
    if result.reference_defined.all():
        curves["scikit-learn"] = result.p_reference
    if result.p_calibrated is not None:
        curves["ours, calibrated"] = result.p_calibrated
    frames = []
    for name, p in curves.items():
        predicted, observed, count = calibration.reliability_bins(result.is_spam, p)
        frames.append(
            pd.DataFrame(
                {"filter": name, "predicted": predicted, "observed": observed, "messages": count}
            )
        )
    return pd.concat(frames, ignore_index=True)


def log_comparison_figures(
    result: evaluation.OutOfSample, predicted: np.ndarray, reliability: pd.DataFrame
) -> None:
    """The confusion matrix of ours; the ROC, reliability and precision-recall curves of ours
    and sklearn's (``reliability``: ``reliability_curves``)."""
    with figure("confusion_matrix", figsize=(5, 4.5)) as (_, ax):
        plots.confusion_matrix(ax, skm.confusion_matrix(result.is_spam, predicted), list(LABELS))
    curves = {"ours": result.p_ours}
    if result.reference_defined.all():  # scikit-learn's curves need a P(spam) for every message
        curves["scikit-learn"] = result.p_reference
    with figure("roc_curve", figsize=(5.5, 5)) as (_, ax):
        plots.roc_curves(
            ax,
            {
                name: (*skm.roc_curve(result.is_spam, p)[:2], skm.roc_auc_score(result.is_spam, p))
                for name, p in curves.items()
            },
        )
    with figure("reliability_diagram", nrows=2, figsize=(5.5, 7), sharex=True) as (_, axes):
        plots.reliability_diagram(*axes, reliability)
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


def log_events(messages: pd.DataFrame, result: evaluation.OutOfSample) -> None:
    """W2.5, W2.X4: events "free" and "URL" as masks, their rules and independence; a keyword rule.

    The rule "spam if free OR url OR txt OR ..." (``events.KEYWORDS``) is scored on the
    evaluated messages and compared with the filter by McNemar's test, also by counting.
    """
    masks = events.event_masks(messages["text"], {k: events.KEYWORDS[k] for k in ("free", "url")})
    free, url = masks["free"].to_numpy(), masks["url"].to_numpy()
    mlflow.log_table(events.event_table(free, url, ("free", "url")), "tables/events.json")
    metrics = {
        "p_free": float(events.probability(free)),
        "p_url": float(events.probability(url)),
        "p_free_or_url": float(events.union_by_inclusion_exclusion(free, url)),
        "p_free_and_url": float(events.intersection_by_multiplication(free, url)),
    }
    is_spam = (messages["label"] == POSITIVE).to_numpy()
    for name, rows in (("", slice(None)), ("_given_spam", is_spam), ("_given_ham", ~is_spam)):
        try:  # needs each event and its complement non-empty among the rows
            test = events.independence_test(free[rows], url[rows])
        except ValueError as error:
            log.warning("free-url independence%s: %s", name, error)
            continue
        metrics[f"free_url_lift{name}"] = test.lift
        if not name:
            metrics |= {"free_url_chi2": test.statistic, "free_url_p_value": test.p_value}

    rule = events.any_of(events.event_masks(result.texts))  # spam if any keyword matches
    scores = evaluation.classification_metrics(result.is_spam, rule.astype(np.float64))
    metrics |= {f"rule_{name}": value for name, value in scores.items()}
    test = mcnemar(result.is_spam, result.p_ours > evaluation.THRESHOLD, rule)
    metrics |= {
        "rule_mcnemar_p_value": test.p_value,
        "rule_mcnemar_exact_p_value": exact_p_value(test.b, test.c),
    }
    mlflow.log_metrics(metrics)
    mlflow.set_tag("rule_mcnemar", f"b={test.b} c={test.c} {test.method}: p={test.p_value:.4g}")


def log_class_statistics(
    features: pd.DataFrame, labels: np.ndarray, result: evaluation.OutOfSample
) -> None:
    """W2.P5: per-class statistics by ``groupby("label").agg``; the priors the filter learned.

    ``features``: ``probability.message_features`` of the messages with these labels.
    """
    table = probability.class_statistics(features, labels)
    mlflow.log_table(table.reset_index(), "tables/class_statistics.json")
    model = filter_parts(result.filters[0])[1]
    priors = probability.class_priors(result.train_labels).loc[model.classes_]
    mlflow.log_metrics(
        {
            "groupby_count_max_abs_diff": float(
                np.max(np.abs(priors["messages"].to_numpy() - model.class_count_))
            ),
            "groupby_prior_max_abs_diff": float(
                np.max(np.abs(priors["prior"].to_numpy() - np.exp(model.class_log_prior_)))
            ),
        }
    )


def log_bayesian_inference(
    messages: pd.DataFrame, result: evaluation.OutOfSample
) -> bayesian.BetaPosterior:
    """W2.X3: the spam rate's Beta posterior as messages arrive; smoothing as a posterior mean.

    Returns the posterior after every message.
    """
    is_spam = (messages["label"] == POSITIVE).to_numpy()
    sizes = [n for n in POSTERIOR_SIZES if n < len(is_spam)] + [len(is_spam)]
    table = bayesian.sequential_posteriors(is_spam, sizes, *SPAM_RATE_PRIOR)
    mlflow.log_table(table, "tables/spam_rate_posterior.json")
    if logging_figures():
        with figure("spam_rate_posterior", figsize=(7, 4.5)) as (_, ax):
            plots.spam_rate_posteriors(ax, table, SPAM_RATE_PRIOR)
    posterior = bayesian.BetaPosterior(*table.iloc[-1][list(bayesian.BetaPosterior._fields)])
    metrics = {
        "spam_rate_posterior_mean": posterior.mean,
        "spam_rate_ci_low": posterior.low,
        "spam_rate_ci_high": posterior.high,
    }
    try:
        theta, posterior_mean = bayesian.lidstone_as_posterior_mean(
            filter_parts(result.filters[0])[1]
        )
    except ValueError as error:  # complement NB: its weights are no posterior mean
        log.warning("%s", error)
    else:
        metrics["dirichlet_posterior_mean_max_abs_diff"] = float(
            np.max(np.abs(theta - posterior_mean))
        )
    mlflow.log_metrics(metrics)
    return posterior


def log_integrals(result: evaluation.OutOfSample, posterior: bayesian.BetaPosterior) -> None:
    """W2.X5: each drilled density (and the posterior) integrates to one; AUC as an integral."""
    densities = {name: dist for name, (_, dist) in probability.DISTRIBUTIONS.items()}
    densities["spam-rate posterior"] = stats.beta(posterior.a, posterior.b)
    table = integration.mass_table(densities)
    mlflow.log_table(table, "tables/density_integrals.json")
    auc = integration.roc_auc_by_trapezoid(result.is_spam, result.p_ours)
    mlflow.log_metrics(
        {
            "density_integral_max_abs_error": float(table["max_abs_error"].max()),
            "spam_rate_ci_area": integration.area(
                densities["spam-rate posterior"], posterior.low, posterior.high
            ),
            "roc_auc_trapezoid": auc,
            "roc_auc_trapezoid_abs_diff": abs(
                auc - skm.roc_auc_score(result.is_spam, result.p_ours)
            ),
        }
    )


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
    if logging_figures():
        with figure("indicative_tokens", figsize=(7, 8)) as (_, ax):
            plots.indicative_tokens(ax, tokens, k=cfg.n_tokens)
    token = explain.unseen_token(vectorizer, model)
    mlflow.log_table(
        explain.smoothing_effect(vectorizer, model, token=token, message=readable(token)),
        "tables/smoothing_effect.json",
    )

    log_misclassified(result, cfg.n_misclassified)


def log_misclassified(result: evaluation.OutOfSample, n_misclassified: int) -> None:
    """The first misclassified messages, each explained token by token (a table, and a
    figure when figures are on) by the filter that scored it without training on it."""
    wrong = np.flatnonzero((result.p_ours > evaluation.THRESHOLD) != result.is_spam)
    for i, index in enumerate(wrong[:n_misclassified]):
        text = result.texts[index]
        contributions, summary = explain.explain(
            text, *filter_parts(result.filters[result.fold[index]])
        )
        mlflow.log_table(contributions, f"tables/misclassified_{i}.json")
        if not logging_figures():
            continue
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


def log_model(spam_filter, calibrator=None) -> None:
    """The fitted filter as an MLflow model (code + JSON/.npy files, no pickle): text -> P(spam).

    With a ``calibrator`` (``calibration.method``) the model serves calibrated P(spam). The
    signature comes from the type hints of ``serving.SpamFilterModel.predict`` (MLflow
    checks them on the input example); logging checks the example is served as well.
    """
    log_code_model(
        MODEL_NAME,
        SERVING_CODE,
        "filter",
        lambda folder: save_filter(spam_filter, folder, calibrator),
        EXAMPLE_MESSAGES,
        SERVING_DISTRIBUTIONS,
    )
