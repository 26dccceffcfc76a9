"""From-scratch CountVectorizer against sklearn.feature_extraction.text.CountVectorizer.

Reference: scikit-learn's CountVectorizer with the same parameters. Tolerance: none, the
vocabularies (term -> column) and the integer count matrices must be identical, on the
SMS Spam Collection (when MATH4ML_DATA_MIRROR points at it), on hand-made corpora of
awkward text, and on arbitrary Unicode lists drawn by hypothesis.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.feature_extraction import text as sk_text

from projects.week2_spam.vectorizer import CountVectorizer


def sms_messages():
    """(texts, labels) of the SMS Spam Collection in $MATH4ML_DATA_MIRROR, else skip."""
    mirror = os.environ.get("MATH4ML_DATA_MIRROR")
    if not mirror:
        pytest.skip("MATH4ML_DATA_MIRROR is not set: no SMS Spam Collection to compare on")
    path = Path(mirror) / "sms_spam" / "SMSSpamCollection"
    if not path.is_file():
        pytest.skip(f"{path} does not exist")
    lines = path.read_text(encoding="utf-8").split("\n")
    labels, texts = zip(*(line.split("\t", 1) for line in lines if line), strict=True)
    return list(texts), np.array(labels, dtype=object)


@pytest.fixture(scope="module")
def sms():
    return sms_messages()


# Corpora with the cases that break tokenizers: empty and blank messages, runs of mixed
# whitespace (the char analyzers collapse some), emoji, control characters (NUL, C1),
# combining marks, characters whose lowercase is longer ("İ" -> "i̇"), non-Latin scripts.
AWKWARD = [
    "",
    "   ",
    "Free entry!! Txt WIN to 87121 \t\t now",
    "ok lar... joking wif u oni",
    "I ❤️ 🍕 and 🍕🍕 — £100 cash 😀😀😀",
    "ctrl\x00chars\x01 here\x1f\x7f\x85 and\u2028line sep",
    "İstanbul ΣΊΣΥΦΟΣ straße ǅemal",
    "e\u0301 vs é, ﬁ ligature, 中文 文本 テキスト",
    "a",
    " a b  c   d\n\ne\r\nf ",
    "x" * 300,
    "\t\n\x0b\x0c\r",
    "repeat repeat repeat repeat",
]

CONFIGS = {
    "word_1": {},
    "word_1_2": {"ngram_range": (1, 2)},
    "word_2_3": {"ngram_range": (2, 3)},
    "char_wb_2_4": {"analyzer": "char_wb", "ngram_range": (2, 4)},
    "char_wb_4_6": {"analyzer": "char_wb", "ngram_range": (4, 6)},  # short words: one term
    "char_1_3": {"analyzer": "char", "ngram_range": (1, 3)},
    "min_df_2": {"min_df": 2},
    "min_df_float": {"min_df": 0.002, "ngram_range": (1, 2)},
    "cased_binary": {"lowercase": False, "binary": True},
    "one_group": {"token_pattern": r"(?u)\b(\w)\w*\b"},  # the group is the token
}


def assert_same(ours, theirs, X_ours, X_theirs):
    assert ours.vocabulary_ == theirs.vocabulary_
    np.testing.assert_array_equal(ours.get_feature_names_out(), theirs.get_feature_names_out())
    assert sp.isspmatrix_csr(X_ours)
    assert X_ours.dtype == np.int64
    assert X_ours.has_sorted_indices
    assert X_ours.has_canonical_format
    assert X_ours.shape == X_theirs.shape
    assert (X_ours != X_theirs).nnz == 0


@pytest.mark.parametrize(
    "config", ["word_1", "word_1_2", "char_wb_2_4", "char_1_3", "min_df_2", "cased_binary"]
)
def test_matches_sklearn_on_the_sms_corpus(sms, config):
    texts, _ = sms
    ours, theirs = CountVectorizer(**CONFIGS[config]), sk_text.CountVectorizer(**CONFIGS[config])
    assert_same(ours, theirs, ours.fit_transform(texts), theirs.fit_transform(texts))
    # transform on documents it was not fitted on: unknown terms are dropped
    ours.fit(texts[:3000])
    theirs.fit(texts[:3000])
    assert_same(ours, theirs, ours.transform(texts[3000:]), theirs.transform(texts[3000:]))


@pytest.mark.parametrize("config", CONFIGS)
def test_matches_sklearn_on_awkward_text(config):
    ours, theirs = CountVectorizer(**CONFIGS[config]), sk_text.CountVectorizer(**CONFIGS[config])
    assert_same(ours, theirs, ours.fit_transform(AWKWARD), theirs.fit_transform(AWKWARD))
    reversed_docs = [d[::-1] for d in AWKWARD]
    assert_same(ours, theirs, ours.transform(reversed_docs), theirs.transform(reversed_docs))


@pytest.mark.parametrize("config", ["word_1", "word_1_2", "char_wb_2_4", "char_1_3"])
def test_a_100000_character_message(config):
    rng = np.random.default_rng(0)
    alphabet = np.array(list("abcdefghij  \t\n!é😀\x00"))
    long_message = "".join(rng.choice(alphabet, 100_000))
    docs = [long_message, "free " * 20_000, "short one"]
    ours, theirs = CountVectorizer(**CONFIGS[config]), sk_text.CountVectorizer(**CONFIGS[config])
    assert_same(ours, theirs, ours.fit_transform(docs), theirs.fit_transform(docs))


def test_counts_by_hand():
    vectorizer = CountVectorizer(ngram_range=(1, 2))
    X = vectorizer.fit_transform(["Spam spam eggs", "eggs"])
    assert vectorizer.vocabulary_ == {"eggs": 0, "spam": 1, "spam eggs": 2, "spam spam": 3}
    np.testing.assert_array_equal(X.toarray(), [[1, 2, 1, 1], [1, 0, 0, 0]])


def test_unknown_terms_are_ignored_and_empty_text_gives_a_zero_row():
    vectorizer = CountVectorizer().fit(["spam ham"])
    X = vectorizer.transform(["eggs spam spam", "", "🍕 ∑", "ham"])
    np.testing.assert_array_equal(X.toarray(), [[0, 2], [0, 0], [0, 0], [1, 0]])
    assert vectorizer.transform([]).shape == (0, 2)


def test_binary_counts_presence():
    X = CountVectorizer(binary=True).fit_transform(["win win win", "win now"])
    np.testing.assert_array_equal(X.toarray(), [[0, 1], [1, 1]])
    assert X.dtype == np.int64


def test_clone_and_params_follow_the_contract():
    vectorizer = CountVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=3)
    copy = clone(vectorizer)
    assert copy.get_params() == vectorizer.get_params()
    assert not hasattr(copy, "vocabulary_")


NGRAM_RANGE = r"^ngram_range must be \(min_n, max_n\) with 1 <= min_n <= max_n, "
MIN_DF = r"^min_df must be an int >= 1 or a float in \[0.0, 1.0\], "


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"ngram_range": (2, 1)},
            r"ngram_range must be \(min_n, max_n\) with 1 <= min_n <= max_n, got \(2, 1\)",
        ),
        ({"ngram_range": (0, 1)}, NGRAM_RANGE + r"got \(0, 1\)$"),
        ({"ngram_range": 2}, NGRAM_RANGE + "got 2$"),
        (
            {"analyzer": "chars"},
            r"^analyzer must be one of \['char', 'char_wb', 'word'\], got 'chars'$",
        ),
        ({"min_df": 0}, MIN_DF + "got 0$"),
        ({"min_df": 1.5}, MIN_DF + "got 1.5$"),
        ({"min_df": "2"}, MIN_DF + "got '2'$"),
        (
            {"token_pattern": r"(\w)(\w)"},
            r"^token_pattern must have at most one capturing group, got 2: '\(\\\\w\)\(\\\\w\)'$",
        ),
        ({"token_pattern": None}, "^token_pattern must be a str, got None$"),
    ],
)
def test_invalid_parameters_are_rejected_with_their_value(params, message):
    with pytest.raises(ValueError, match=message):
        CountVectorizer(**params).fit(["some text here"])


def test_invalid_documents_are_rejected():
    with pytest.raises(ValueError, match="iterable of str documents, got a single str"):
        CountVectorizer().fit("one string")
    with pytest.raises(ValueError, match="must be a str, got int at index 1"):
        CountVectorizer().fit(["text", 3])
    with pytest.raises(ValueError, match="empty vocabulary"):
        CountVectorizer().fit(["a", "", "!"])
    with pytest.raises(ValueError, match="min_df=3"):
        CountVectorizer(min_df=3).fit(["ab cd", "ab"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs=st.lists(st.text(max_size=40), min_size=1, max_size=6),
    config=st.sampled_from(sorted(CONFIGS)),
)
def test_matches_sklearn_on_arbitrary_unicode(docs, config):
    ours, theirs = CountVectorizer(**CONFIGS[config]), sk_text.CountVectorizer(**CONFIGS[config])
    try:
        X_theirs = theirs.fit_transform(docs)
    except ValueError:  # no term at all (or none left by min_df): we must refuse too
        refusal = (
            r"^empty vocabulary: the documents contain no terms$|^no term is in at least min_df="
        )
        with pytest.raises(ValueError, match=refusal):
            ours.fit_transform(docs)
        return
    assert_same(ours, theirs, ours.fit_transform(docs), X_theirs)
    assert_same(ours, theirs, ours.transform(docs[::-1]), theirs.transform(docs[::-1]))
