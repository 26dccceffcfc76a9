"""Bag-of-n-grams term counts from scratch, with the scikit-learn contract.

Model. An analyzer turns a document d into a sequence of terms; the document becomes
the vector of term counts

    x_dj = #{occurrences of term j in d}        (binary=True: x_dj = 1[term j occurs in d])

over a vocabulary of every term whose document frequency df_j = #{d : x_dj > 0} reaches
``min_df``; columns are the terms in sorted (code point) order. Word order is thrown
away beyond the n-gram: this is the bag-of-words event model naive Bayes builds on.
The three analyzers are scikit-learn's, term for term:

- ``word``: tokens t_1..t_m = findall(token_pattern, d); the n-grams are
  t_i + " " + ... + " " + t_{i+n-1} for min_n <= n <= max_n.
- ``char``: d' = d with each run of 2+ whitespace characters replaced by one space; the
  n-grams are the substrings d'[i:i+n].
- ``char_wb``: the n-grams of each padded word " " + w + " " (w from d.split()); a padded
  word shorter than min_n is one term of its own length, counted once.

``lowercase`` applies str.lower to d first.

Implementation. No n-gram string is built per occurrence. The corpus becomes one long
array of symbols, word ids (a dict lookup per token) or characters (code points), cut into
segments (documents, or padded words for char_wb). An n-gram occurrence is a start
position p, and its type is a dense integer id computed for all positions at once from
the (n-1)-gram's id (``pandas.factorize``: a hash table over integers):

    id_n(p) = factorize(id_{n-1}(p) * n_symbols + symbol(p + n - 1)),

an n-gram starting at p only if n symbols of p's segment remain. One string per distinct
n-gram is spelled out, to look it up in (or build) the vocabulary; the count matrix is
one ``csr_matrix((data, indices, indptr))`` whose duplicate entries (a term twice in a
document) are summed.

Sources:
- C. D. Manning, P. Raghavan, H. Schütze, "Introduction to Information Retrieval" (2008),
  sections 2.2 (tokenization), 6.2 (term frequency) and 13.2 (the bag of words of
  multinomial naive Bayes). https://nlp.stanford.edu/IR-book/
- scikit-learn's ``sklearn.feature_extraction.text.CountVectorizer`` for the analyzer
  definitions, the parameter names and the column order.
"""

import re
from collections import defaultdict
from itertools import chain, repeat
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from common.validation import is_int, is_number

WHITE_SPACES = re.compile(r"\s\s+")  # runs that the char analyzer collapses to one space
INDEX = np.int32  # positions, ids and columns: half the memory of int64 (corpus < 2^31)


def factorize(keys):
    """Dense ids: (ids, n_types) with keys[a] == keys[b] iff ids[a] == ids[b], ids < n_types."""
    ids, uniques = pd.factorize(keys)  # hash table, O(len(keys)); ids in first-seen order
    return ids.astype(INDEX), len(uniques)


def first_positions(ids, positions, n_types):
    """first[t] = the smallest position p with ids[p] == t (positions increasing)."""
    first = np.empty(n_types, dtype=INDEX)
    first[ids[::-1]] = positions[::-1]  # later writes win: the earliest position stays
    return first


def remaining_in_segment(lengths):
    """remaining[p] = items left in p's segment from p on, for consecutive segments."""
    ends = np.cumsum(lengths, dtype=INDEX)
    return np.repeat(ends, lengths) - np.arange(ends[-1] if len(ends) else 0, dtype=INDEX)


def ngram_ids(symbols, lengths, max_n):
    """Yield (n, positions, ids, n_types) for n = 1..max_n: the n-grams of a symbol array.

    symbols : int array (N,), dense ids (every id in [0, n_symbols) occurs) of the words
        or characters in order; they are the 1-gram ids.
    lengths : int array, the symbols are consecutive segments of these lengths; an n-gram
        starts at p iff at least n symbols of p's segment remain, so it never crosses one.
    positions are the n-grams' start positions (increasing) and ids their dense type ids
    in [0, n_types): id_n(p) = factorize(id_{n-1}(p) * n_symbols + symbols[p + n - 1]).
    """
    n_symbols = int(symbols.max()) + 1 if len(symbols) else 0
    positions = np.arange(len(symbols), dtype=INDEX)
    yield 1, positions, symbols, n_symbols
    if max_n == 1:
        return
    remaining = remaining_in_segment(lengths)
    gram = symbols  # gram[p] = id of the (n-1)-gram at p, valid where remaining[p] >= n - 1
    for n in range(2, max_n + 1):
        positions = positions[remaining[positions] >= n]
        # int64: id < 2^31 and n_symbols < 2^31, so the key cannot overflow
        keys = gram[positions].astype(np.int64) * n_symbols + symbols[positions + n - 1]
        ids, n_types = factorize(keys)
        gram = np.empty(len(symbols), dtype=INDEX)
        gram[positions] = ids
        yield n, positions, ids, n_types


class Occurrences(NamedTuple):
    """The terms of a corpus: which term type occurs at which position of which document.

    types : list of str, the spelling of each term type (a string may repeat: the same
        term reached by two n-gram orders).
    table : int array (n_positions, n_slots), a type id per occurrence or -1 for an empty
        slot; its row-major order is document order.
    doc : int array (n_positions,), the document of each row.
    """

    types: list
    table: np.ndarray
    doc: np.ndarray


def ngram_occurrences(symbols, lengths, doc, ngram_range, spell, short_segments=False):
    """Occurrences of the n-grams, min_n <= n <= max_n, of symbols cut into segments.

    spell(n, first) -> the strings of the n-grams that start at positions ``first``.
    short_segments=True (char_wb) also counts each segment shorter than min_n, once, as a
    term of its own length, in the table's last slot.
    """
    min_n, max_n = ngram_range
    table = np.full((len(symbols), max_n - min_n + 1 + short_segments), -1, dtype=INDEX)
    types = []

    def add(slot, positions, ids, n_types, n):
        table[positions, slot] = ids + len(types)
        types.extend(spell(n, first_positions(ids, positions, n_types)))

    starts = np.cumsum(lengths) - lengths
    for n, positions, ids, n_types in ngram_ids(symbols, lengths, max_n):
        if n >= min_n:
            add(n - min_n, positions, ids, n_types, n)
        elif short_segments and np.any(lengths == n):
            short = starts[lengths == n]
            short_ids, n_short = factorize(ids[np.searchsorted(positions, short)])
            add(-1, short, short_ids, n_short, n)
    return Occurrences(types, table, doc)


def token_ids(token_lists, word_id, lengths):
    """Yield, document after document, the ids of its tokens; append its token count."""
    for tokens in token_lists:
        lengths.append(len(tokens))
        yield map(word_id.__getitem__, tokens)


def analyze_word(docs, ngram_range, token_pattern):
    """Word n-grams: tokens = findall(token_pattern, d), an n-gram joins n tokens by " "."""
    # A new token gets the next id: a defaultdict whose default is its own length (one C
    # call per token). Token strings are dropped document by document, never all held.
    word_id = defaultdict()
    word_id.default_factory = word_id.__len__
    lengths = []
    token_lists = map(re.compile(token_pattern).findall, docs)
    words = np.fromiter(chain.from_iterable(token_ids(token_lists, word_id, lengths)), INDEX)
    lengths = np.array(lengths, dtype=INDEX)
    distinct = list(word_id)  # distinct[words[p]] is the token at position p

    def spell(n, first):
        if n == 1:
            return [distinct[w] for w in words[first].tolist()]
        return [" ".join([distinct[w] for w in words[p : p + n].tolist()]) for p in first.tolist()]

    doc = np.repeat(np.arange(len(docs), dtype=INDEX), lengths)
    return ngram_occurrences(words, lengths, doc, ngram_range, spell)


def code_points(text):
    """The characters of ``text`` as a uint32 array of code points (lone surrogates too)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def char_occurrences(text, lengths, segment_doc, ngram_range, short_segments):
    """Character n-grams of ``text``, cut into segments (documents, or padded words)."""
    symbols, _ = factorize(code_points(text))  # dense character ids, shape (N,)

    def spell(n, first):
        return [text[p : p + n] for p in first.tolist()]

    doc = np.repeat(segment_doc, lengths)
    return ngram_occurrences(symbols, lengths, doc, ngram_range, spell, short_segments)


def analyze_char(docs, ngram_range, token_pattern):
    """Character n-grams of d with each whitespace run of length >= 2 made one space."""
    segments = [WHITE_SPACES.sub(" ", d) for d in docs]
    lengths = np.fromiter(map(len, segments), dtype=INDEX, count=len(segments))
    doc = np.arange(len(docs), dtype=INDEX)
    return char_occurrences("".join(segments), lengths, doc, ngram_range, short_segments=False)


def analyze_char_wb(docs, ngram_range, token_pattern):
    """Character n-grams inside word boundaries: of " " + w + " " for w in d.split()."""
    word_lists = list(map(str.split, docs))
    n_words = np.fromiter(map(len, word_lists), dtype=INDEX, count=len(word_lists))
    lengths = np.fromiter(map(len, chain.from_iterable(word_lists)), INDEX, n_words.sum()) + 2
    # " w1 " + " w2 " + ... = " " + "  ".join(words) + " ", document by document
    text = "".join([f" {'  '.join(words)} " for words in word_lists if words])
    doc = np.repeat(np.arange(len(docs), dtype=INDEX), n_words)
    return char_occurrences(text, lengths, doc, ngram_range, short_segments=True)


ANALYZERS = {"word": analyze_word, "char": analyze_char, "char_wb": analyze_char_wb}


def check_ngram_range(ngram_range):
    """Raise ValueError unless ngram_range is (min_n, max_n), 1 <= min_n <= max_n ints."""
    valid = (
        isinstance(ngram_range, tuple | list)
        and len(ngram_range) == 2
        and all(map(is_int, ngram_range))
        and 1 <= ngram_range[0] <= ngram_range[1]
    )
    if not valid:
        raise ValueError(
            f"ngram_range must be (min_n, max_n) with 1 <= min_n <= max_n, got {ngram_range!r}"
        )


def min_doc_count(min_df, n_docs):
    """The document frequency a term needs: min_df (int), or min_df * n_docs (float)."""
    if is_int(min_df) and min_df >= 1:
        return min_df
    if is_number(min_df) and not is_int(min_df) and 0.0 <= min_df <= 1.0:
        return min_df * n_docs
    raise ValueError(f"min_df must be an int >= 1 or a float in [0.0, 1.0], got {min_df!r}")


def check_documents(raw_documents):
    """A list of str from an iterable of documents; a lone string is an error (sklearn)."""
    if isinstance(raw_documents, str | bytes):
        raise ValueError(
            "raw_documents must be an iterable of str documents, got a single "
            f"{type(raw_documents).__name__}"
        )
    docs = list(raw_documents)
    for i, d in enumerate(docs):
        if not isinstance(d, str):
            raise ValueError(f"every document must be a str, got {type(d).__name__} at index {i}")
    return docs


def count_matrix(occurrences, column_of_type, n_docs, n_columns):
    """X[d, j] = #{occurrences in document d of a type with column j}; CSR, int64.

    column_of_type maps type ids to columns, -1 for a type that has none (unknown at
    transform time): those occurrences are dropped.
    """
    lookup = np.append(column_of_type, -1).astype(INDEX)  # type id -1 (empty slot) -> -1
    columns = lookup[occurrences.table]  # shape (n_positions, n_slots)
    kept = columns >= 0
    per_doc = np.bincount(occurrences.doc, weights=kept.sum(axis=1), minlength=n_docs)
    indptr = np.concatenate([[0], np.cumsum(per_doc, dtype=np.int64)])
    indices = columns[kept]  # row-major: grouped by document
    data = np.ones(len(indices), dtype=INDEX)  # a count per row fits: 2^31 > any message
    X = sp.csr_matrix((data, indices, indptr), shape=(n_docs, n_columns))
    X.sum_duplicates()  # sorts each row's indices and adds repeated terms: the counts
    X.data = X.data.astype(np.int64)
    return X


def keep_columns(X, keep):
    """X[:, keep] for a boolean mask over columns, without a dense intermediate."""
    new_column = np.cumsum(keep) - 1
    entry_kept = keep[X.indices]
    cumulative = np.concatenate([[0], np.cumsum(entry_kept)])
    return sp.csr_matrix(
        (X.data[entry_kept], new_column[X.indices[entry_kept]], cumulative[X.indptr]),
        shape=(X.shape[0], int(keep.sum())),
    )


class CountVectorizer(TransformerMixin, BaseEstimator):
    """Term counts x_dj = #{occurrences of term j in document d}, as a sparse matrix.

    Parameters
    ----------
    lowercase : bool, default=True
        Apply str.lower to each document before analysis.
    token_pattern : str, default=r"(?u)\\b\\w\\w+\\b"
        Regular expression of a token (``analyzer="word"`` only); with one capturing group
        the group is the token.
    ngram_range : (int, int), default=(1, 1)
        (min_n, max_n): every n-gram with min_n <= n <= max_n is a term.
    analyzer : {"word", "char", "char_wb"}, default="word"
        Word n-grams, character n-grams, or character n-grams inside padded words.
    min_df : int or float, default=1
        Keep terms with document frequency df_j >= min_df (int), or >= min_df * n_documents
        (float in [0, 1]).
    binary : bool, default=False
        x_dj = 1[term j occurs in d] instead of the count.

    Attributes
    ----------
    vocabulary_ : dict of str -> int
        Term -> column; columns follow the sorted order of the terms.
    """

    def __init__(
        self,
        lowercase=True,
        token_pattern=r"(?u)\b\w\w+\b",
        ngram_range=(1, 1),
        analyzer="word",
        min_df=1,
        binary=False,
    ):
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self.ngram_range = ngram_range
        self.analyzer = analyzer
        self.min_df = min_df
        self.binary = binary

    def check_params(self):
        """Raise ValueError on an option that is not one of the documented values; return self."""
        if self.analyzer not in ANALYZERS:
            raise ValueError(f"analyzer must be one of {sorted(ANALYZERS)}, got {self.analyzer!r}")
        check_ngram_range(self.ngram_range)
        if not isinstance(self.token_pattern, str):
            raise ValueError(f"token_pattern must be a str, got {self.token_pattern!r}")
        groups = re.compile(self.token_pattern).groups
        if groups > 1:
            raise ValueError(
                f"token_pattern must have at most one capturing group, got {groups}: "
                f"{self.token_pattern!r}"
            )
        min_doc_count(self.min_df, 1)
        return self

    def _analyze(self, raw_documents):
        """Occurrences of the terms of each (lowercased) document."""
        docs = check_documents(raw_documents)
        if self.lowercase:
            docs = list(map(str.lower, docs))
        analyze = ANALYZERS[self.analyzer]
        return len(docs), analyze(docs, tuple(self.ngram_range), self.token_pattern)

    def fit(self, raw_documents, y=None):
        """Learn the vocabulary of ``raw_documents`` (an iterable of str); return self."""
        self.fit_transform(raw_documents)
        return self

    def fit_transform(self, raw_documents, y=None):
        """Learn the vocabulary and return the count matrix X, shape (n_documents, n_terms)."""
        self.check_params()
        n_docs, occurrences = self._analyze(raw_documents)
        terms = sorted(dict.fromkeys(occurrences.types))  # distinct, in code point order
        if not terms:
            raise ValueError("empty vocabulary: the documents contain no terms")
        column = dict(zip(terms, range(len(terms)), strict=True))
        column_of_type = np.fromiter(
            map(column.__getitem__, occurrences.types), np.intp, len(occurrences.types)
        )
        X = count_matrix(occurrences, column_of_type, n_docs, len(terms))
        df = np.bincount(X.indices, minlength=len(terms))  # df_j = #{d : x_dj > 0}
        keep = df >= min_doc_count(self.min_df, n_docs)
        if not keep.all():
            if not keep.any():
                raise ValueError(
                    f"no term is in at least min_df={self.min_df!r} documents; lower min_df"
                )
            X = keep_columns(X, keep)
            terms = [t for t, k in zip(terms, keep.tolist(), strict=True) if k]
        self.vocabulary_ = dict(zip(terms, range(len(terms)), strict=True))
        return self._finish(X)

    def transform(self, raw_documents):
        """Count the vocabulary's terms in ``raw_documents``; unknown terms are ignored."""
        check_is_fitted(self)
        self.check_params()
        n_docs, occurrences = self._analyze(raw_documents)
        column_of_type = np.fromiter(
            map(self.vocabulary_.get, occurrences.types, repeat(-1)),
            np.intp,
            len(occurrences.types),
        )
        X = count_matrix(occurrences, column_of_type, n_docs, len(self.vocabulary_))
        return self._finish(X)

    def _finish(self, X):
        """Apply ``binary``: x_dj = 1[x_dj > 0]."""
        if self.binary:
            X.data.fill(1)  # x_dj = 1[x_dj > 0]
        return X

    def get_feature_names_out(self, input_features=None):
        """The terms, in column order, as an object array."""
        check_is_fitted(self)
        terms = np.empty(len(self.vocabulary_), dtype=object)
        terms[list(self.vocabulary_.values())] = list(self.vocabulary_)
        return terms

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags
