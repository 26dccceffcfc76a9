"""The spam filter: raw text in, P(spam | text) out.

A scikit-learn ``Pipeline``: the union of the configured count vectorizers (word
n-grams, character n-grams), then a naive Bayes model. ``build_filter`` makes it
from the from-scratch parts, ``build_reference`` from scikit-learn's, with the
same settings, so the two can be compared number for number.

``save_filter`` / ``load_filter`` store a fitted filter as JSON and ``.npy``
arrays (no pickle, ``common.estimator_files``): constructor parameters plus fitted
attributes, and the calibration map of its log-odds when there is one
(``load_calibration``). Only the classes in ``LOADABLE`` load.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig
from sklearn import naive_bayes as sk_nb
from sklearn.feature_extraction.text import CountVectorizer as SklearnCountVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from common.estimator_files import object_state, read_state, restore_object, write_state
from projects.week2_spam.calibration import Isotonic, Temperature
from projects.week2_spam.data import POSITIVE
from projects.week2_spam.naive_bayes import (
    BernoulliNaiveBayes,
    ComplementNaiveBayes,
    MultinomialNaiveBayes,
)
from projects.week2_spam.vectorizer import CountVectorizer

MODELS = {
    "multinomial": MultinomialNaiveBayes,
    "bernoulli": BernoulliNaiveBayes,
    "complement": ComplementNaiveBayes,
}
REFERENCE_MODELS = {
    "multinomial": sk_nb.MultinomialNB,
    "bernoulli": sk_nb.BernoulliNB,
    "complement": sk_nb.ComplementNB,
}
# the classes a saved filter may hold, by name: loading refuses any other
LOADABLE = {cls.__name__: cls for cls in (CountVectorizer, *MODELS.values(), Temperature, Isotonic)}
STATE_FILE = "filter.json"
MODEL_NAME = "spam_filter"  # the logged MLflow model's name in a week-2 run


def vectorizer_settings(features: DictConfig) -> dict[str, dict]:
    """Name -> CountVectorizer keyword arguments, one per configured n-gram kind."""
    common = {"lowercase": features.lowercase, "min_df": features.min_df, "binary": features.binary}
    settings = {}
    if features.word_ngrams:
        settings["word"] = {
            **common,
            "analyzer": "word",
            "ngram_range": tuple(features.word_ngrams),
        }
    if features.char_ngrams:
        settings["char"] = {
            **common,
            "analyzer": "char_wb",
            "ngram_range": tuple(features.char_ngrams),
        }
    if not settings:
        raise ValueError("features: set word_ngrams or char_ngrams (or both), got neither")
    return settings


def build_filter(features: DictConfig, model: DictConfig) -> Pipeline:
    """The from-scratch filter: union of our vectorizers, then our naive Bayes (``model.name``
    is one of ``MODELS``: the schema's Enum checked it at composition)."""
    settings = vectorizer_settings(features)
    union = FeatureUnion(
        [(name, CountVectorizer(**kw)) for name, kw in settings.items()],
        verbose_feature_names_out=len(settings) > 1,  # "word__free" only where names could clash
    )
    return Pipeline([("features", union), ("model", MODELS[model.name](alpha=model.alpha))])


def build_reference(features: DictConfig, model: DictConfig) -> Pipeline:
    """scikit-learn's filter with the same settings (``force_alpha``: alpha = 0 stays 0)."""
    settings = vectorizer_settings(features)
    union = FeatureUnion(
        [(name, SklearnCountVectorizer(**kw)) for name, kw in settings.items()],
        verbose_feature_names_out=len(settings) > 1,
    )
    reference = REFERENCE_MODELS[model.name](alpha=model.alpha, force_alpha=True)
    return Pipeline([("features", union), ("model", reference)])


def filter_parts(spam_filter: Pipeline) -> tuple[FeatureUnion, object]:
    """The fitted vectorizer (a union of n-gram counters) and the naive Bayes model."""
    return spam_filter.named_steps["features"], spam_filter.named_steps["model"]


def spam_probability(spam_filter: Pipeline, texts, calibrator=None) -> np.ndarray:
    """P(spam | text) for each text; no texts, no probabilities (an empty batch is no error).

    ``calibrator`` (a ``calibration`` map, optional): its P(spam) of the filter's log-odds.
    """
    texts = list(texts)
    if not texts:  # scikit-learn's input checks refuse zero samples
        return np.empty(0)
    if calibrator is not None:
        return calibrator.predict(spam_log_odds(spam_filter, texts))
    column = list(spam_filter.classes_).index(POSITIVE)
    return spam_filter.predict_proba(texts)[:, column]


def spam_log_odds(spam_filter, texts) -> np.ndarray:
    """z = log P(spam | x) - log P(ham | x) for each text, from ``predict_log_proba``.

    Exact where P(spam) rounds to 1.0 (z = 40 and z = 400 both give p = 1.0 in float64);
    +-inf only where a posterior is exactly 0 (alpha = 0).
    """
    log_p = spam_filter.predict_log_proba(texts)
    spam = list(spam_filter.classes_).index(POSITIVE)
    return log_p[:, spam] - log_p[:, 1 - spam]


# -- storage without pickle (common.estimator_files) ----------------------------------------


def save_filter(spam_filter: Pipeline, folder: str | Path, calibrator=None) -> Path:
    """Write a fitted from-scratch filter (and its calibration map) to ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    union, model = filter_parts(spam_filter)
    state = {
        "verbose_feature_names_out": union.verbose_feature_names_out,
        "vectorizers": {name: object_state(v, folder, name) for name, v in union.transformer_list},
        "model": object_state(model, folder, "model"),
    }
    if calibrator is not None:
        state["calibration"] = object_state(calibrator, folder, "calibration")
    write_state(state, folder / STATE_FILE)
    return folder


def load_filter(folder: str | Path) -> Pipeline:
    """The filter ``save_filter`` wrote, ready to predict."""
    folder = Path(folder)
    state = read_state(folder / STATE_FILE)
    union = FeatureUnion(
        [(name, restore_object(s, folder, LOADABLE)) for name, s in state["vectorizers"].items()],
        verbose_feature_names_out=state["verbose_feature_names_out"],
    )
    model = restore_object(state["model"], folder, LOADABLE)
    return Pipeline([("features", union), ("model", model)])


def load_calibration(folder: str | Path):
    """The calibration map ``save_filter`` stored beside the filter, or None."""
    folder = Path(folder)
    state = read_state(folder / STATE_FILE).get("calibration")
    return None if state is None else restore_object(state, folder, LOADABLE)
