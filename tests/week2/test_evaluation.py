"""The evaluation scores each filter once; its numbers are those of the straightforward path.

``fit_and_score`` takes P(spam | x) and the parity with scikit-learn from one
``predict_log_proba`` per filter. Reference: ``spam_filter.spam_probability`` (``predict_proba``)
and ``evaluation.parity_error`` (``predict_log_proba`` of both filters again), on the first
1,000 messages of the SMS Spam Collection. Tolerance: none, every number must be equal.
"""

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from projects.week2_spam import config  # noqa: F401  (registers the schema)
from projects.week2_spam.evaluation import fit_and_score, parity_error
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
