"""Time the from-scratch spam filter against scikit-learn's on the same work.

Run: ``.venv/bin/python -m benchmarks.bench_week2`` (the SMS Spam Collection comes from
``common.data.fetch``: the cache, ``MATH4ML_DATA_MIRROR`` or the network). The work is
the whole filter on all 5,574 messages: vectorize and fit (``fit``), then vectorize again
and predict (``predict``), as a pipeline used for training and then for serving does.

- ``default``: ``CountVectorizer()`` + ``MultinomialNB()`` against our ``CountVectorizer``
  + ``MultinomialNaiveBayes`` with the same (default) parameters.
- ``rich``: the union of word 1-2-grams and char_wb 2-5-grams, then the same models.

A second table times the calibration maps (``projects/week2_spam/calibration.py``) on
4,459 log-odds, the size of a default training part, drawn overconfident (z = 40 (2y - 1)
+ N(0, 30^2), ties rounded to 0.1): our bisection for the temperature against
``scipy.optimize.minimize_scalar`` on the same log loss (what scikit-learn's temperature
scaling runs), and our pool-adjacent-violators loop against ``IsotonicRegression``;
``max_abs_diff`` is the largest gap between the calibrated P(spam) of the two.

Times are the best of ``repeats`` rounds (``time.perf_counter``), ours and sklearn's
alternating so drift hits both; ``ratio`` = ours / sklearn. Peak memory is the tracemalloc
peak of one more run of each, in a pass of its own (tracing slows Python down, so it is
never on while timing). ``max_abs_diff`` is max |log P(y|x) ours - sklearn's|, and
``same_vocabulary`` / ``same_labels`` check that both computed the same thing.
"""

import gc
import tracemalloc

import numpy as np
from sklearn import naive_bayes as sk_nb
from sklearn.feature_extraction import text as sk_text
from sklearn.pipeline import FeatureUnion, make_pipeline
from threadpoolctl import threadpool_limits

from benchmarks.timing import best_times, print_table
from projects.week2_spam import calibration
from projects.week2_spam.data import load_messages
from projects.week2_spam.naive_bayes import MultinomialNaiveBayes
from projects.week2_spam.vectorizer import CountVectorizer

SETTINGS = {  # name -> list of vectorizer parameter sets, unioned
    "default": [{}],
    "rich": [
        {"ngram_range": (1, 2)},
        {"analyzer": "char_wb", "ngram_range": (2, 5)},
    ],
}


def load_sms():
    """(texts, labels) of the SMS Spam Collection, as the pipeline reads it."""
    messages = load_messages()
    return messages["text"].tolist(), messages["label"].to_numpy(dtype=object)


def build(vectorizer_cls, model, settings):
    """vectorizer(s) -> model; several vectorizers are joined by a FeatureUnion."""
    vectorizers = [vectorizer_cls(**params) for params in settings]
    if len(vectorizers) == 1:
        return make_pipeline(vectorizers[0], model)
    union = FeatureUnion([(f"v{i}", v) for i, v in enumerate(vectorizers)])
    return make_pipeline(union, model)


def filter_run(spam_filter, texts, labels):
    """The timed work: fit on every message, then predict every message."""
    return spam_filter.fit(texts, labels).predict(texts)


def peak_bytes(run):
    """tracemalloc's peak of the bytes allocated during one call."""
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def vocabularies(spam_filter):
    """The vocabulary of each vectorizer of a fitted filter, in order."""
    features = spam_filter[0]
    parts = (
        [v for _, v in features.transformer_list]
        if hasattr(features, "transformer_list")
        else [features]
    )
    return [v.vocabulary_ for v in parts]


def compare(name, texts, labels, repeats):
    """One table row: both filters timed, their peak memory, and how far apart they are."""
    settings = SETTINGS[name]
    ours = build(CountVectorizer, MultinomialNaiveBayes(), settings)
    theirs = build(sk_text.CountVectorizer, sk_nb.MultinomialNB(), settings)
    ours_s, sklearn_s = best_times(
        lambda: filter_run(ours, texts, labels),
        lambda: filter_run(theirs, texts, labels),
        repeats,
    )
    ours_peak = peak_bytes(lambda: filter_run(ours, texts, labels))
    sklearn_peak = peak_bytes(lambda: filter_run(theirs, texts, labels))
    return {
        "setting": name,
        "n_features": ours[-1].n_features_in_,
        "ours_s": ours_s,
        "sklearn_s": sklearn_s,
        "ratio": ours_s / sklearn_s,
        "ours_peak_MiB": ours_peak / 2**20,
        "sklearn_peak_MiB": sklearn_peak / 2**20,
        "max_abs_diff": np.max(
            np.abs(ours.predict_log_proba(texts) - theirs.predict_log_proba(texts))
        ),
        "same_vocabulary": vocabularies(ours) == vocabularies(theirs),
        "same_labels": bool(np.all(ours.predict(texts) == theirs.predict(texts))),
    }


def overconfident_log_odds(n=4459, seed=0):
    """Labels (15% spam) and log-odds far too large for them, as naive Bayes gives."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.15
    return np.round(40 * (2 * y - 1) + rng.normal(0, 30, n), 1), y


def scipy_temperature(z, y):
    """beta minimizing the log loss of sigmoid(beta z) by ``minimize_scalar`` on log beta."""
    from scipy.optimize import minimize_scalar
    from scipy.special import log_expit

    def loss(log_beta):
        t = np.exp(log_beta) * z
        return -np.mean(np.where(y, log_expit(t), log_expit(-t)))

    found = minimize_scalar(loss, bounds=calibration.LOG_BETA_BOUNDS, options={"xatol": 1e-13})
    return calibration.Temperature(float(np.exp(found.x)))


def compare_calibration(repeats):
    """Rows of the calibration table: each map fitted by ours and by the library."""
    from sklearn.isotonic import IsotonicRegression

    z, y = overconfident_log_odds()
    pairs = {
        "temperature": (
            lambda: calibration.fit_temperature(z, y),
            lambda: scipy_temperature(z, y),
        ),
        "isotonic": (
            lambda: calibration.fit_isotonic(z, y),
            lambda: IsotonicRegression(out_of_bounds="clip").fit(z, y.astype(float)),
        ),
    }
    rows = []
    for name, (ours, theirs) in pairs.items():
        ours_s, library_s = best_times(ours, theirs, repeats)
        rows.append(
            {
                "map": name,
                "ours_s": ours_s,
                "library_s": library_s,
                "ratio": ours_s / library_s,
                "max_abs_diff": np.max(np.abs(ours().predict(z) - theirs().predict(z))),
            }
        )
    return rows


def main(repeats=7, blas_threads=1):
    """Print the two timing tables (filters, calibration maps); return their rows as dicts."""
    texts, labels = load_sms()
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        rows = [compare(name, texts, labels, repeats) for name in SETTINGS]
    print_table(
        f"Spam filter fit + predict on {len(texts)} messages, best of {repeats}, "
        f"BLAS threads: {blas_threads}",
        rows,
        {
            "ours_s": "{:.4f}",
            "sklearn_s": "{:.4f}",
            "ratio": "{:.2f}",
            "ours_peak_MiB": "{:.1f}",
            "sklearn_peak_MiB": "{:.1f}",
            "max_abs_diff": "{:.1e}",
        },
    )
    calibration_rows = compare_calibration(repeats)
    print_table(
        f"Calibration maps fitted on 4459 log-odds, best of {repeats}",
        calibration_rows,
        {"ours_s": "{:.5f}", "library_s": "{:.5f}", "ratio": "{:.2f}", "max_abs_diff": "{:.1e}"},
    )
    return rows + calibration_rows


if __name__ == "__main__":
    main()
