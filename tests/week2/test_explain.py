"""Bayes' theorem made visible: the log-odds identity and the tables built on it.

References: each model's own predict_log_proba (ours and scikit-learn's MultinomialNB and
BernoulliNB): posterior log-odds = prior log-odds + sum of contributions + absent-token
log-odds must hold within 1e-9 absolute; the smoothed MLE formula recomputed from the raw
counts for the smoothing table (rtol 1e-12).
"""

import functools

import numpy as np
import pandas as pd
import pytest
from sklearn import naive_bayes as sk_nb
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from common.grading import grades
from projects.week2_spam.explain import (
    explain,
    indicative_tokens,
    smoothing_effect,
    token_contributions,
)
from projects.week2_spam.naive_bayes import (
    BernoulliNaiveBayes,
    ComplementNaiveBayes,
    MultinomialNaiveBayes,
)
from projects.week2_spam.vectorizer import CountVectorizer
from tests.week2.test_vectorizer import sms_messages

TRAIN = [
    "WIN a FREE prize now, claim your cash",
    "free entry to win cash, txt WIN now",
    "urgent: claim your prize, call now",
    "are you coming to lunch later?",
    "ok see you at home, call me later",
    "I'm at home now, lunch was free",
    "love you, see you soon",
]
LABELS = ["spam", "spam", "spam", "ham", "ham", "ham", "ham"]
MESSAGES = [
    "Claim your FREE cash prize now!!",
    "see you at lunch",
    "free lunch? call me",
    "",
    "nothing known here: 🍕 zzz",
    "win win win win lunch lunch",
]


def toy_filter(alpha=1.0, model=MultinomialNaiveBayes, **vectorizer_params):
    return make_pipeline(CountVectorizer(**vectorizer_params), model(alpha=alpha)).fit(
        TRAIN, LABELS
    )


@pytest.fixture(scope="module")
def sms():
    return sms_messages()


def check_identity(spam_filter, message):
    """posterior log-odds = prior + contributions + absent tokens = the model's, to 1e-9."""
    table, summary = explain(message, spam_filter[0], spam_filter[-1])
    log_p = spam_filter.predict_log_proba([message])[0]  # classes_ = [ham, spam]
    assert summary["posterior_log_odds"] == pytest.approx(log_p[1] - log_p[0], abs=1e-9)
    parts = summary[["prior_log_odds", "sum_of_contributions", "absent_log_odds"]].sum()
    assert parts == pytest.approx(summary["posterior_log_odds"], abs=1e-9)
    assert summary["sum_of_contributions"] == pytest.approx(table["contribution"].sum(), abs=1e-9)
    assert summary["p_spam"] == pytest.approx(np.exp(log_p[1]), rel=1e-12)
    return table, summary


MODELS = {
    "ours_multinomial": MultinomialNaiveBayes,
    "ours_bernoulli": BernoulliNaiveBayes,
    "sklearn_multinomial": functools.partial(sk_nb.MultinomialNB, force_alpha=True),
    "sklearn_bernoulli": functools.partial(sk_nb.BernoulliNB, force_alpha=True),
}


@grades(token_contributions)
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("alpha", [0.01, 1.0])
@pytest.mark.parametrize("message", MESSAGES)
def test_posterior_log_odds_is_prior_plus_contributions(message, alpha, model):
    _, summary = check_identity(toy_filter(alpha, MODELS[model]), message)
    if "multinomial" in model:
        assert summary["absent_log_odds"] == 0


@grades(token_contributions)
@pytest.mark.parametrize("kind", ["multinomial", "bernoulli"])
def test_identity_on_real_messages_against_sklearn(sms, kind):
    texts, labels = sms
    for vectorizer in [CountVectorizer(), CountVectorizer(analyzer="char_wb", ngram_range=(2, 4))]:
        ours = make_pipeline(vectorizer, MODELS[f"ours_{kind}"](alpha=0.1)).fit(texts, labels)
        theirs = make_pipeline(clone(vectorizer), MODELS[f"sklearn_{kind}"](alpha=0.1))
        theirs.fit(texts, labels)
        for message in [*texts[::500], "URGENT! claim your FREE prize 🍕"]:
            _, summary = check_identity(ours, message)
            _, reference = check_identity(theirs, message)
            assert summary.to_numpy() == pytest.approx(reference.to_numpy(), abs=1e-9)


@grades(token_contributions)
def test_bernoulli_counts_a_token_once_and_absent_tokens_too():
    spam_filter = toy_filter(model=BernoulliNaiveBayes)
    table, summary = check_identity(spam_filter, "win win win lunch")
    model = spam_filter[-1]
    log_theta = model.feature_log_prob_  # [ham, spam]
    log_not_theta = np.log1p(-np.exp(log_theta))
    vocabulary = spam_filter[0].vocabulary_
    present = [vocabulary["win"], vocabulary["lunch"]]
    absent = np.setdiff1d(np.arange(len(vocabulary)), present)
    assert summary["absent_log_odds"] == pytest.approx(
        (log_not_theta[1, absent] - log_not_theta[0, absent]).sum(), rel=1e-12
    )
    win = table.set_index("token").loc["win"]
    assert win["count"] == 3
    assert win["contribution"] == pytest.approx(log_theta[1, present[0]] - log_theta[0, present[0]])


@grades(token_contributions)
def test_table_lists_each_known_token_with_its_count_and_log_ratio():
    spam_filter = toy_filter()
    table, _ = explain("win WIN win lunch zzz 🍕", spam_filter)  # a pipeline alone works too
    assert list(table.columns) == [
        "token",
        "count",
        "log_p_token_given_spam",
        "log_p_token_given_ham",
        "contribution",
    ]
    assert dict(zip(table["token"], table["count"], strict=True)) == {"win": 3, "lunch": 1}
    model, vocabulary = spam_filter[-1], spam_filter[0].vocabulary_
    for row in table.itertuples():
        log_theta = model.feature_log_prob_[:, vocabulary[row.token]]  # [ham, spam]
        assert row.log_p_token_given_spam == log_theta[1]
        assert row.contribution == pytest.approx(row.count * (log_theta[1] - log_theta[0]))
    assert table["contribution"].is_monotonic_decreasing  # most spam-like first


def test_an_empty_message_has_the_prior_as_posterior():
    table, summary = explain("", toy_filter())
    assert table.empty
    assert summary["posterior_log_odds"] == pytest.approx(np.log(3 / 4))
    assert summary["sum_of_contributions"] == 0


@grades(token_contributions)
def test_alpha_zero_unseen_token_makes_the_posterior_certain():
    table, summary = explain("urgent call", toy_filter(alpha=0.0))
    assert np.isposinf(table.set_index("token").loc["urgent", "contribution"])
    assert summary["p_spam"] == 1.0
    _, both = explain("urgent love", toy_filter(alpha=0.0))  # spam-only and ham-only tokens
    assert np.isnan(both["sum_of_contributions"])
    assert both["p_spam"] == pytest.approx(3 / 7)  # P(x) = 0: the prior


def test_indicative_tokens_rank_by_log_likelihood_ratio():
    spam_filter = toy_filter()
    tokens = indicative_tokens(spam_filter, n=3)
    model, names = spam_filter[-1], spam_filter[0].get_feature_names_out()
    ratio = model.feature_log_prob_[1] - model.feature_log_prob_[0]  # spam - ham
    spam, ham = tokens[tokens["indicates"] == "spam"], tokens[tokens["indicates"] == "ham"]
    assert len(spam) == len(ham) == 3
    np.testing.assert_allclose(spam["log_ratio"], np.sort(ratio)[::-1][:3])
    np.testing.assert_allclose(ham["log_ratio"], np.sort(ratio)[:3])
    for row in tokens.itertuples():
        j = list(names).index(row.token)
        assert row.log_ratio == ratio[j]
        assert (row.count_spam, row.count_ham) == tuple(model.feature_count_[[1, 0], j])


def test_indicative_tokens_with_alpha_zero_break_ties_by_count():
    tokens = indicative_tokens(toy_filter(alpha=0.0), n=2)
    spam = tokens[tokens["indicates"] == "spam"]
    assert np.isposinf(spam["log_ratio"]).all()
    # win: 3 spam occurrences; cash, claim, prize, your: 2 each, then alphabetical
    assert list(spam["token"]) == ["win", "cash"]
    assert not tokens["log_ratio"].isna().any()


def test_smoothing_effect_against_the_formula():
    spam_filter = toy_filter()
    table = smoothing_effect(spam_filter, alphas=(0.0, 0.5, 1.0))
    model = spam_filter[-1]
    assert set(table["token"]) == {"win"}  # the most frequent spam token never seen in ham
    j = spam_filter[0].vocabulary_["win"]
    N_yi, n = model.feature_count_, model.feature_count_.shape[1]
    for row in table.itertuples():
        theta = (N_yi[:, j] + row.alpha) / (N_yi.sum(axis=1) + row.alpha * n)  # [ham, spam]
        assert row.theta_ham == pytest.approx(theta[0], rel=1e-12, abs=0)
        assert row.theta_spam == pytest.approx(theta[1], rel=1e-12)
    zero, smoothed = table.iloc[0], table.iloc[1:]
    assert zero.theta_ham == 0
    assert np.isposinf(zero.log_ratio)
    assert zero.p_spam_given_message == 1.0
    assert np.isfinite(smoothed["log_ratio"]).all()
    assert (smoothed["p_spam_given_message"] < 1).all()


def test_smoothing_effect_of_a_chosen_token_in_a_message():
    table = smoothing_effect(toy_filter(), token="lunch", message="lunch now win")
    assert isinstance(table, pd.DataFrame)
    assert set(table["token"]) == {"lunch"}
    assert table["p_spam_given_message"].between(0, 1).all()
    with pytest.raises(ValueError, match="token must be in the vocabulary, got 'pizza'"):
        smoothing_effect(toy_filter(), token="pizza")


def test_parts_and_pipeline_give_the_same_explanation():
    spam_filter = toy_filter(ngram_range=(1, 2))
    table_a, summary_a = explain(MESSAGES[0], spam_filter)
    table_b, summary_b = explain(MESSAGES[0], spam_filter[0], spam_filter[-1])
    pd.testing.assert_frame_equal(table_a, table_b)
    pd.testing.assert_series_equal(summary_a, summary_b)


def test_a_model_without_the_spam_class_is_rejected():
    spam_filter = make_pipeline(CountVectorizer(), MultinomialNaiveBayes())
    spam_filter.fit(TRAIN, ["a", "b", "c", "a", "b", "c", "a"])
    with pytest.raises(ValueError, match="binary model with the class 'spam'"):
        explain("win", spam_filter)
    with pytest.raises(ValueError, match="pass a fitted vectorizer and model"):
        explain("win", spam_filter[0])
    complement = make_pipeline(CountVectorizer(), ComplementNaiveBayes()).fit(TRAIN, LABELS)
    with pytest.raises(ValueError, match=r"explain supports .* got ComplementNaiveBayes"):
        explain("win", complement)
