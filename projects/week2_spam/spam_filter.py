"""The spam filter: raw text in, P(spam | text) out.

A scikit-learn ``Pipeline``: the union of the configured count vectorizers (word
n-grams, character n-grams), then a naive Bayes model. ``build_filter`` makes it
from the from-scratch parts, ``build_reference`` from scikit-learn's, with the
same settings, so the two can be compared number for number.

``save_filter`` / ``load_filter`` store a fitted filter as JSON and ``.npy``
arrays (no pickle): constructor parameters plus fitted attributes, and the
calibration map of its log-odds when there is one (``load_calibration``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
from omegaconf import DictConfig
from sklearn import naive_bayes as sk_nb
from sklearn.feature_extraction.text import CountVectorizer as SklearnCountVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

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
ESTIMATORS = {cls.__name__: cls for cls in (CountVectorizer, *MODELS.values())}  # loadable
CALIBRATION_MAPS = {cls.__name__: cls for cls in (Temperature, Isotonic)}  # loadable
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


def check_model(model: DictConfig) -> None:
    """ValueError unless ``model.name`` names one of ``MODELS``."""
    if model.name not in MODELS:
        raise ValueError(f"model.name must be one of {sorted(MODELS)}, got {model.name!r}")


def build_filter(features: DictConfig, model: DictConfig) -> Pipeline:
    """The from-scratch filter: union of our vectorizers, then our naive Bayes."""
    check_model(model)
    settings = vectorizer_settings(features)
    union = FeatureUnion(
        [(name, CountVectorizer(**kw)) for name, kw in settings.items()],
        verbose_feature_names_out=len(settings) > 1,  # "word__free" only where names could clash
    )
    return Pipeline([("features", union), ("model", MODELS[model.name](alpha=model.alpha))])


def build_reference(features: DictConfig, model: DictConfig) -> Pipeline:
    """scikit-learn's filter with the same settings (``force_alpha``: alpha = 0 stays 0)."""
    check_model(model)
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


# -- storage without pickle ------------------------------------------------------------------


def estimator_state(estimator, folder: Path, prefix: str) -> dict:
    """Class, constructor parameters and fitted attributes; arrays go to ``<prefix>.<attr>.npy``."""
    fitted = {}
    for attr, value in vars(estimator).items():
        if not attr.endswith("_") or attr.startswith("_"):
            continue
        if isinstance(value, np.ndarray) and value.dtype != object:
            np.save(folder / f"{prefix}.{attr}.npy", value, allow_pickle=False)
            fitted[attr] = {"npy": f"{prefix}.{attr}.npy"}
        elif isinstance(value, np.ndarray):  # labels: strings
            fitted[attr] = {"list": value.tolist()}
        elif isinstance(value, dict):  # vocabulary: term -> column
            fitted[attr] = {"dict": {str(k): int(v) for k, v in value.items()}}
        else:
            fitted[attr] = {"value": value.item() if isinstance(value, np.generic) else value}
    params = {k: list(v) if isinstance(v, tuple) else v for k, v in estimator.get_params().items()}
    return {"class": type(estimator).__name__, "params": params, "fitted": fitted}


def restore_estimator(state: dict, folder: Path):
    """The estimator ``estimator_state`` described, fitted again without refitting."""
    cls = ESTIMATORS[state["class"]]
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in state["params"].items()}
    estimator = cls(**params)
    for attr, stored in state["fitted"].items():
        if "npy" in stored:
            value = np.load(folder / stored["npy"], allow_pickle=False)
        elif "list" in stored:
            value = np.asarray(stored["list"], dtype=object)
        else:
            value = stored.get("dict", stored.get("value"))
        setattr(estimator, attr, value)
    return estimator


def calibration_state(calibrator, folder: Path) -> dict:
    """Class and fields of a calibration map; array fields go to ``calibration.<f>.npy``."""
    fields = {}
    for name, value in dataclasses.asdict(calibrator).items():
        if isinstance(value, np.ndarray):
            np.save(folder / f"calibration.{name}.npy", value, allow_pickle=False)
            fields[name] = {"npy": f"calibration.{name}.npy"}
        else:
            fields[name] = {"value": float(value)}
    return {"class": type(calibrator).__name__, "fields": fields}


def load_calibration(folder: str | Path):
    """The calibration map ``save_filter`` stored beside the filter, or None."""
    folder = Path(folder)
    state = json.loads((folder / STATE_FILE).read_text()).get("calibration")
    if state is None:
        return None
    fields = {
        name: np.load(folder / f["npy"], allow_pickle=False) if "npy" in f else f["value"]
        for name, f in state["fields"].items()
    }
    return CALIBRATION_MAPS[state["class"]](**fields)


def save_filter(spam_filter: Pipeline, folder: str | Path, calibrator=None) -> Path:
    """Write a fitted from-scratch filter (and its calibration map) to ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    union, model = filter_parts(spam_filter)
    state = {
        "verbose_feature_names_out": union.verbose_feature_names_out,
        "vectorizers": {
            name: estimator_state(vectorizer, folder, name)
            for name, vectorizer in union.transformer_list
        },
        "model": estimator_state(model, folder, "model"),
    }
    if calibrator is not None:
        state["calibration"] = calibration_state(calibrator, folder)
    (folder / STATE_FILE).write_text(json.dumps(state, indent=1, ensure_ascii=False))
    return folder


def load_filter(folder: str | Path) -> Pipeline:
    """The filter ``save_filter`` wrote, ready to predict."""
    folder = Path(folder)
    state = json.loads((folder / STATE_FILE).read_text())
    union = FeatureUnion(
        [(name, restore_estimator(s, folder)) for name, s in state["vectorizers"].items()],
        verbose_feature_names_out=state["verbose_feature_names_out"],
    )
    return Pipeline([("features", union), ("model", restore_estimator(state["model"], folder))])
