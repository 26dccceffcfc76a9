"""The evaluation scores each filter once; its numbers are those of the straightforward path.

``fit_and_score`` takes P(spam | x) and the parity with scikit-learn from one
``predict_log_proba`` per filter. Reference: ``spam_filter.spam_probability`` (``predict_proba``)
and ``evaluation.parity_error`` (``predict_log_proba`` of both filters again), on the first
1,000 messages of the SMS Spam Collection. Tolerance: none, every number must be equal.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from projects.week2_spam import config  # noqa: F401  (registers the schema)
from projects.week2_spam.evaluation import (
    cross_validate,
    duplicate_groups,
    fit_and_score,
    fit_calibration,
    holdout,
    out_of_sample_metrics,
    parity_error,
    prefixed,
)
from projects.week2_spam.spam_filter import build_filter, build_reference, spam_probability
from tests.week2.test_vectorizer import sms_messages
from tests.weeks import compose_config


@pytest.fixture(scope="module")
def split():
    texts, labels = sms_messages()
    texts, labels = np.array(texts[:1000], dtype=object), labels[:1000]
    return train_test_split(texts, labels, test_size=0.3, stratify=labels, random_state=0)


@pytest.mark.parametrize(
    "overrides",
    [
        [],  # the default filter: word and character n-grams, Bernoulli
        ["model.name=multinomial", "model.alpha=0.5", "features.word_ngrams=[1,2]"],
        ["model.name=complement", "model.alpha=0.5", "features.char_ngrams=null"],
    ],
)
def test_fit_and_score_equals_spam_probability_and_parity_error(split, overrides):
    train_x, test_x, train_y, test_y = split
    cfg = compose_config("week2", *overrides)
    ours, reference = (
        build_filter(cfg.features, cfg.model),
        build_reference(cfg.features, cfg.model),
    )
    fitted, p_ours, p_reference, parity = fit_and_score(
        ours, reference, train_x, train_y, test_x, test_y
    )
    assert fitted is ours
    np.testing.assert_array_equal(p_ours, spam_probability(ours, test_x))
    np.testing.assert_array_equal(p_reference, spam_probability(reference, test_x))
    assert parity == parity_error(ours, reference, test_x)
    assert 0 < p_ours.mean() < 1  # a real split: both classes scored


@pytest.mark.parametrize("name", ["multinomial", "bernoulli"])
def test_alpha_0_compares_with_scikit_learn_where_its_posterior_is_defined(name):
    """ "win you": spam never said "you", ham never said "win": P(x) = 0 without smoothing.

    scikit-learn returns NaN there (0 / 0), ours the prior; the other messages agree. (No
    word is in every message of a class: scikit-learn's Bernoulli NB also gives NaN there.)
    """
    cfg = compose_config(
        "week2", f"model.name={name}", "model.alpha=0", "features.char_ngrams=null"
    )
    spam, ham = ["win a prize", "win cash", "free prize"], ["see you", "see me soon", "you", "me"]
    texts, labels = np.array(spam + ham, object), np.array(["spam"] * 3 + ["ham"] * 4, object)
    test_texts = np.array(["win you", "win a prize", "see you soon"], object)
    _, p_ours, p_reference, parity = fit_and_score(
        build_filter(cfg.features, cfg.model),
        build_reference(cfg.features, cfg.model),
        texts,
        labels,
        test_texts,
        np.array(["spam", "spam", "ham"], object),
    )
    assert np.isnan(p_reference).tolist() == [True, False, False]
    assert p_ours[0] == pytest.approx(3 / 7, rel=1e-15)  # the prior P(spam) = 3 / 7
    assert p_ours[1:].tolist() == [1.0, 0.0]  # a word never seen in the other class decides
    assert parity < 1e-12  # over the two defined messages
    np.testing.assert_allclose(p_ours[1:], p_reference[1:], rtol=0, atol=1e-12)


WORDS = ["features.char_ngrams=null"]  # the default filter on words alone: fast


def first_messages(n: int):
    """The first n messages of the corpus and their labels, as arrays of objects."""
    texts, labels = sms_messages()
    return np.array(texts[:n], dtype=object), np.asarray(labels[:n], dtype=object)


def calibrate_on_3_folds(method):
    """(train texts, labels) -> the ``method`` map fitted on 3 out-of-fold parts of them."""
    cfg = compose_config("week2", *WORDS)

    def calibrate(texts, labels):
        return fit_calibration(
            lambda: build_filter(cfg.features, cfg.model),
            texts,
            labels,
            groups=duplicate_groups(texts),
            method=method,
            folds=3,
            seed=0,
        )

    return calibrate


def word_filters():
    cfg = compose_config("week2", *WORDS)
    return build_filter(cfg.features, cfg.model), build_reference(cfg.features, cfg.model)


@pytest.mark.parametrize("method", ["temperature", "isotonic"])
def test_calibration_adds_calibrated_scores_and_changes_no_other_number(method):
    # calibration.method=none (the default) logs what the filter logged before calibration
    # existed: the scores of fit_and_score's P(spam); a method only adds calibrated_test_*.
    texts, labels = first_messages(500)
    plain = holdout(word_filters, texts, labels, test_size=0.3, seed=0)
    calibrated = holdout(
        word_filters,
        texts,
        labels,
        test_size=0.3,
        seed=0,
        calibrate=calibrate_on_3_folds(method),
    )
    assert plain.p_calibrated is None
    assert not [k for k in plain.metrics if "calibrated" in k]
    assert {k: calibrated.metrics[k] for k in plain.metrics} == plain.metrics
    added = {k.removeprefix("calibrated_") for k in set(calibrated.metrics) - set(plain.metrics)}
    assert added == {k for k in plain.metrics if k.startswith("test_")} - {
        "test_duplicates_of_train"
    }
    train_x, test_x, train_y, test_y = train_test_split(
        texts, labels, test_size=0.3, stratify=labels, random_state=0
    )
    _, p_ours, _, _ = fit_and_score(*word_filters(), train_x, train_y, test_x, test_y)
    scores = {k: v for k, v in plain.metrics.items() if k.startswith("test_")}
    del scores["test_duplicates_of_train"]
    assert scores == prefixed("test_", out_of_sample_metrics(test_y == "spam", p_ours))
    if method == "temperature":  # one T fitted to minimize the log loss: it softens
        assert calibrated.metrics["calibrated_test_log_loss"] < plain.metrics["test_log_loss"]
        assert (
            calibrated.metrics["calibrated_test_saturated_share"]
            < plain.metrics["test_saturated_share"]
        )
        assert calibrated.metrics["calibrated_test_mcc"] == plain.metrics["test_mcc"]


def test_grouped_folds_keep_every_copy_of_a_message_in_one_fold():
    texts, labels = first_messages(400)
    groups = duplicate_groups(texts)
    plain = cross_validate(word_filters, texts, labels, folds=3, seed=0)
    grouped = cross_validate(
        word_filters, texts, labels, folds=3, seed=0, groups=groups, name="cv_grouped"
    )
    copies = pd.Series(grouped.fold).groupby(groups).nunique()
    assert (copies == 1).all()  # every text's copies scored by one filter
    assert (pd.Series(groups).value_counts() > 1).any()  # ... and there are copies
    assert (pd.Series(plain.fold).groupby(groups).nunique() > 1).any()  # plain folds split some
    assert set(grouped.metrics) == {k.replace("cv_", "cv_grouped_", 1) for k in plain.metrics}
