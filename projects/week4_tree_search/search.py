"""Exact k-nearest-neighbour search, blocked so that memory stays bounded (W4.1, W4.P1, W4.X2).

Problem. Given database vectors x_1, ..., x_n and queries q_1, ..., q_m in R^d, return for
each query the ids of its k nearest database vectors, nearest first, under

    cosine      s(q, x) = q.x / (||q||_2 ||x||_2)    (largest similarity first)
    euclidean   D(q, x) = ||q - x||_2                (smallest distance first)
    manhattan   D(q, x) = ||q - x||_1                (smallest distance first)

Brute force fills the m x n matrix and sorts its rows: O(m n d) work and m n memory
(400 MB for 1,000 queries against 100,000 vectors). Here the work is the same and exact,
but three facts make it fast and the memory independent of n:

1. One matrix product ranks a block. Cosine: with x^ = x / ||x|| computed once at ``fit``
   and q^ = q / ||q||, s(q, x) = q^.x^. Euclidean: ||q - x||^2 = ||q||^2 - 2 (q.x - ||x||^2/2),
   so for a fixed q the order of q.x - ||x||^2 / 2 (largest first) is the order of the
   distance (smallest first). A block of scores is then one BLAS call, Q X_b^T (minus a
   row vector), which runs at a large share of the machine's peak FLOP rate (about 3/4
   of a large float32 matmul's in ``benchmarks/bench_search.py``). For the distances the
   database and the queries are centred first (x - mean of the database: distances do not
   change under translation), so that the expansion cancels less in float32. Manhattan has
   no such product; its blocks use ``torch.cdist``.
2. Blocks. Queries go in blocks of ``query_block_size`` rows and the database in blocks of
   ``block_size`` rows: one score block of query_block_size x block_size floats at a time.
3. Chunk maxima. Cut the database into chunks of c = ``chunk_size`` consecutive rows. The k
   best rows lie in the k chunks with the largest maxima: a top-k row r outside those
   chunks scores at most its own chunk's maximum, which is below each of the k maxima, so
   each of the k chunks holds a row better than r and r is at best (k+1)-th (ties aside).
   So only the chunk maxima of a block (a streaming max, c times fewer numbers) enter the
   top-k selection, merged with the running k best chunks of each query. At the end the
   k c rows of those chunks are scored again, directly (q - x for the distances: no
   cancellation), and their top k is the answer.

Memory. Besides the database (n d floats) and the answer (2 m k numbers), one search holds
a score block and a pool of chunk maxima, each about query_block_size x block_size floats,
and the candidates being re-scored, at most max(query_block_size x block_size, k c d)
floats: about 12 MB with the defaults and k c d << 10^6, whatever n is.

Precision. Vectors are centred (distances) or normalized (cosine) in float64, block by
block, and only then cast to float32: the search runs in float32 (as faiss does), but what
float32 keeps is the part that matters. Casting first would round x = 1e6 + noise to
multiples of 1/16 and make near-duplicates 1e-9 apart identical before the mean is taken
away; it would also overflow ||x||^2 for a cosine query of entries 1e20, whose direction is
all that counts. Dense or scipy.sparse input, any real dtype; NaN, infinity and complex
values are refused. The search runs on the torch threads of the caller
(``torch.set_num_threads``). Ids are positions in the order the vectors were added.

Sources:
- J. Johnson, M. Douze, H. Jégou, "Billion-scale similarity search with GPUs", IEEE Trans.
  Big Data (2019): exact search as a matrix product followed by top-k selection.
- C. D. Manning, P. Raghavan, H. Schütze, "Introduction to Information Retrieval" (2008),
  6.3 (cosine similarity in the vector space model).
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from common.exercises import exercise
from common.validation import check_int
from projects.week4_tree_search.geometry import unit_rows


def cosine_rank(Q, X_block, half_sq_norms, out):
    """q^.x^ for unit rows: the cosine similarity itself, shape (n_queries, n_block)."""
    return torch.mm(Q, X_block.T, out=out)


def euclidean_rank(Q, X_block, half_sq_norms, out):
    """q.x - ||x||^2 / 2 = (||q||^2 - ||q - x||^2) / 2: largest for the nearest x."""
    return torch.addmm(-half_sq_norms, Q, X_block.T, out=out)


def manhattan_rank(Q, X_block, half_sq_norms, out):
    """-||q - x||_1: largest for the nearest x (``out`` unused: cdist has none)."""
    return torch.cdist(Q, X_block, p=1).neg_()


def cosine_exact(Q, C):
    """s_qr = q^.c^_qr for queries Q (m, d) and their candidates C (m, r, d), shape (m, r)."""
    # a batch of matrix-vector products: (C * q).sum(-1) would write (and read) an (m, r, d)
    # temporary, a quarter of the whole search's time on the 100,000-vector benchmark
    return torch.bmm(C, Q.unsqueeze(2)).squeeze(2)


def euclidean_exact(Q, C):
    """D_qr = ||q - c_qr||_2, computed from the difference (no cancellation)."""
    return torch.linalg.vector_norm(C - Q.unsqueeze(1), dim=-1)


def manhattan_exact(Q, C):
    """D_qr = ||q - c_qr||_1."""
    return (C - Q.unsqueeze(1)).abs().sum(dim=-1)


@dataclass(frozen=True)
class Metric:
    """How a metric ranks a block (larger = nearer) and scores the final candidates."""

    rank: object  # (Q, X_block, half_sq_norms_block, out) -> (m, n_block), written to out
    exact: object  # (Q (m, d), C (m, r, d)) -> (m, r), the value reported
    larger_is_nearer: bool  # similarity (cosine) or distance
    normalize: bool  # unit rows (cosine)
    center: bool  # subtract the database mean (distances: what float32 keeps is the spread)


METRICS = {
    "cosine": Metric(cosine_rank, cosine_exact, True, normalize=True, center=False),
    "euclidean": Metric(euclidean_rank, euclidean_exact, False, normalize=False, center=True),
    "manhattan": Metric(manhattan_rank, manhattan_exact, False, normalize=False, center=True),
}
PREPARE_ROWS = 8192  # rows converted to float64 at a time (8192 x d doubles of temporaries)


def check_vectors(X, name):
    """X as a 2-D NumPy array or CSR matrix of float32 or float64 (other real dtypes become
    float64), not yet cast, or a one-line ValueError saying what is wrong.

    Rejects: complex values, not 2-D, no rows or no columns, NaN or infinity.
    """
    X = sp.csr_array(X) if sp.issparse(X) else np.asarray(X)
    if np.iscomplexobj(X):
        raise ValueError(
            f"Complex data not supported: {name} has dtype {X.dtype}; pass real vectors "
            "(e.g. its real and imaginary parts side by side)"
        )
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_vectors, n_features), got {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one vector, got shape {X.shape}")
    if X.shape[1] == 0:
        raise ValueError(
            f"{name} has 0 feature(s) (shape={X.shape}) while a minimum of 1 is required: "
            "each vector needs at least one coordinate"
        )
    if sp.issparse(X):  # the rows of the stored values that are not finite
        not_finite = np.searchsorted(X.indptr, np.flatnonzero(~np.isfinite(X.data)), "right") - 1
    else:
        not_finite = np.flatnonzero(~np.isfinite(X).all(axis=1))
    if len(not_finite):
        raise ValueError(
            f"row {not_finite[0]} of {name} contains NaN or infinity: remove or impute it"
        )
    return X


def column_mean(X):
    """mean_i x_i, shape (d,), accumulated in float64 (dense or sparse X)."""
    return np.asarray(X.sum(axis=0, dtype=np.float64)).ravel() / X.shape[0]


def float64_rows(rows):
    """Rows of a dense or sparse X as a dense float64 array."""
    return (rows.toarray() if sp.issparse(rows) else rows).astype(np.float64)


def prepared_rows(X, name, offset, normalize):
    """The float32 (n, d) rows the index stores: x - offset, then x / ||x||_2 if normalize,
    computed in float64 ``PREPARE_ROWS`` rows at a time and only then cast to float32.

    A row whose squared norm overflows float32 after that (a distance search of entries
    near 1e19 or more) raises a one-line ValueError naming, of the rows that overflow, the
    one farthest from the offset (a huge row drags the mean, and so every row, with it).
    """
    n, d = X.shape
    out = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, PREPARE_ROWS):
        rows = float64_rows(X[start : start + PREPARE_ROWS]) - offset
        if normalize:
            rows = unit_rows(rows, name, start)
        with np.errstate(over="ignore"):  # 1e39 becomes inf in float32: rejected below
            out[start : start + len(rows)] = rows
    with np.errstate(over="ignore", invalid="ignore"):
        overflow = np.flatnonzero(~np.isfinite(np.einsum("ij,ij->i", out, out)))
    if len(overflow):
        farthest = np.abs(float64_rows(X[overflow]) - offset).max(axis=1).argmax()
        raise ValueError(
            f"row {overflow[farthest]} of {name} overflows float32 (||x - m||^2 > 3e38, "
            "m the database mean): rescale it"
        )
    return out


def chunk_maxima(S, chunk_size, out=None):
    """max of each run of chunk_size columns of S, shape (m, ceil(n_block / chunk_size)).

    A last, shorter chunk is padded with -inf, which never is a maximum.
    """
    tail = S.shape[1] % chunk_size
    if tail:
        S = torch.nn.functional.pad(S, (0, chunk_size - tail), value=-torch.inf)
    return torch.amax(S.view(S.shape[0], -1, chunk_size), dim=2, out=out)


def merge(pool, n_filled, top_ids, first_chunk, n_best):
    """Top n_best of a pool row: pool[:, :n_best] holds the running best (ids top_ids) and
    pool[:, n_best:n_filled] the maxima of the chunks first_chunk, first_chunk + 1, ...

    Writes the new best into pool[:, :n_best] and returns their chunk ids.
    """
    best, where = torch.topk(pool[:, :n_filled], n_best, dim=1, sorted=False)
    running = top_ids.gather(1, where.clamp(max=n_best - 1))
    pool[:, :n_best] = best
    return torch.where(where < n_best, running, where - n_best + first_chunk)


def best_chunks(Q, X, half_sq_norms, rank, n_best, block_size, chunk_size):
    """Ids of the n_best chunks with the largest maxima of rank(q, x), for each query.

    The database goes by in blocks; the chunk maxima of consecutive blocks collect in a
    pool of block_size columns after the running best, which a top-n_best merges into
    the running best whenever the next block would not fit (a few wide top-k calls
    rather than one narrow call per block).
    """
    m = len(Q)
    device = Q.device
    scores = torch.empty(m, block_size, device=device)  # reused: a fresh 4 MB block costs ~7%
    pool = torch.full((m, n_best + block_size), -torch.inf, device=device)  # outranked by all
    top_ids = torch.zeros((m, n_best), dtype=torch.int64, device=device)
    n_filled, first_chunk = n_best, 0
    for start in range(0, len(X), block_size):
        stop = start + block_size
        X_block = X[start:stop]
        block_scores = rank(Q, X_block, half_sq_norms[start:stop], out=scores[:, : len(X_block)])
        n_chunks = -(-len(X_block) // chunk_size)
        if n_filled + n_chunks > pool.shape[1]:
            top_ids = merge(pool, n_filled, top_ids, first_chunk, n_best)
            n_filled, first_chunk = n_best, start // chunk_size
        chunk_maxima(block_scores, chunk_size, out=pool[:, n_filled : n_filled + n_chunks])
        n_filled += n_chunks
    return merge(pool, n_filled, top_ids, first_chunk, n_best)


def rescore(Q, X, chunk_ids, metric, k, chunk_size, max_floats):
    """(values, ids) of the k best rows among the candidate chunks, best first.

    Queries are re-scored in groups whose candidate tensor holds about max_floats floats.
    """
    n, d = X.shape
    offsets = torch.arange(chunk_size, device=chunk_ids.device)
    rows = (chunk_ids.unsqueeze(-1) * chunk_size + offsets).flatten(1)
    padding = rows >= n  # rows past the end of the last, shorter chunk
    rows = rows.clamp(max=n - 1)
    worst = -torch.inf if metric.larger_is_nearer else torch.inf
    group = max(1, max_floats // (rows.shape[1] * d))
    values, ids = [], []
    for start in range(0, len(Q), group):
        group_rows = rows[start : start + group]  # (g, r)
        candidates = X.index_select(0, group_rows.flatten()).view(*group_rows.shape, d)
        exact = metric.exact(Q[start : start + group], candidates)
        exact.masked_fill_(padding[start : start + group], worst)
        best, where = torch.topk(exact, k, dim=1, largest=metric.larger_is_nearer)
        values.append(best)
        ids.append(group_rows.gather(1, where))
    return torch.cat(values), torch.cat(ids)


class SimilarityIndex(BaseEstimator):
    """Exact k-nearest-neighbour index (a flat index: every query meets every vector).

    ``fit(X)`` stores the database (unit rows for cosine, centred rows for the distances,
    computed once in float64 and stored in float32; X dense or scipy.sparse, stored dense:
    n d float32, 20 GB for a sparse 100,000 x 50,000), ``add(X)`` appends,
    ``search(queries, k)`` returns (values, ids), each (n_queries, k), best first: cosine
    similarities (largest first) or distances (smallest first).

    Parameters (see the module docstring for the memory bound they set):
    - metric: "cosine", "euclidean" or "manhattan".
    - block_size: database rows per score block, a multiple of chunk_size.
    - query_block_size: queries per score block.
    - chunk_size: rows per chunk whose maximum stands for them in the top-k selection
      (1: plain top-k of every score).
    - device: where the database and the score blocks live, "cpu" or "cuda" (a
      ``torch.device`` too); ``search`` still returns NumPy arrays.
    """

    def __init__(
        self, metric="cosine", block_size=1024, query_block_size=1024, chunk_size=32, device="cpu"
    ):
        self.metric = metric
        self.block_size = block_size
        self.query_block_size = query_block_size
        self.chunk_size = chunk_size
        self.device = device

    def check_params(self):
        """Raise ValueError on a parameter outside its documented values; return self."""
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {sorted(METRICS)}, got {self.metric!r}")
        for name in ("block_size", "query_block_size", "chunk_size"):
            check_int(getattr(self, name), name, 1)
        if self.block_size % self.chunk_size:
            raise ValueError(
                f"block_size must be a multiple of chunk_size ({self.chunk_size}), "
                f"got {self.block_size}"
            )
        try:
            torch.device(self.device)
        except (RuntimeError, TypeError):
            raise ValueError(
                f"device must be a torch device such as 'cpu' or 'cuda', got {self.device!r}"
            ) from None
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # densified PREPARE_ROWS rows at a time, then stored
        return tags

    def _prepare(self, X, name):
        """Float32 tensor of the checked X as the metric stores it (unit or centred rows)."""
        metric = METRICS[self.metric]
        rows = prepared_rows(X, name, self.offset_, metric.normalize)
        return torch.from_numpy(rows).to(self.device_)

    def fit(self, X, y=None):
        """Store X (n, d), dense or sparse, as the database, ids 0..n-1; returns self."""
        self.check_params()
        metric = METRICS[self.metric]
        X = check_vectors(X, "X")
        self.n_features_in_ = X.shape[1]
        self.device_ = torch.device(self.device)
        self.offset_ = column_mean(X) if metric.center else np.zeros(X.shape[1])  # float64
        self.vectors_ = self._prepare(X, "X")
        self.half_sq_norms_ = 0.5 * torch.linalg.vector_norm(self.vectors_, dim=1) ** 2
        return self

    def add(self, X):
        """Append X (n_new, d) to the database, ids continuing from the current size."""
        try:
            check_is_fitted(self)
        except ValueError:  # NotFittedError: the first add is a fit
            return self.fit(X)
        X = self._check_dimension(check_vectors(X, "X"), "X")
        new = self._prepare(X, "X")
        self.vectors_ = torch.cat([self.vectors_, new])
        self.half_sq_norms_ = torch.cat(
            [self.half_sq_norms_, 0.5 * torch.linalg.vector_norm(new, dim=1) ** 2]
        )
        return self

    def _check_dimension(self, X, name):
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{name} has {X.shape[1]} features but the database has {self.n_features_in_}"
            )
        return X

    def search(self, queries, k):
        """(values, ids) of the k nearest database vectors of each query, best first.

        values: float32 (n_queries, k), cosine similarities or distances; ids: int64
        (n_queries, k), positions in the database.
        """
        check_is_fitted(self)
        self.check_params()
        metric = METRICS[self.metric]
        n = len(self.vectors_)
        check_int(k, "k", 1)
        if k > n:
            raise ValueError(f"k must be <= {n} (the database size), got {k}")
        Q = self._prepare(
            self._check_dimension(check_vectors(queries, "queries"), "queries"), "queries"
        )
        n_best = min(k, -(-n // self.chunk_size))  # k chunks, or all of them
        values, ids = [], []
        for start in range(0, len(Q), self.query_block_size):
            Q_block = Q[start : start + self.query_block_size]
            chunk_ids = best_chunks(
                Q_block,
                self.vectors_,
                self.half_sq_norms_,
                metric.rank,
                n_best,
                self.block_size,
                self.chunk_size,
            )
            max_floats = self.query_block_size * self.block_size
            block_values, block_ids = rescore(
                Q_block, self.vectors_, chunk_ids, metric, k, self.chunk_size, max_floats
            )
            values.append(block_values)
            ids.append(block_ids)
        return torch.cat(values).cpu().numpy(), torch.cat(ids).cpu().numpy()


def knn_graph(X, k, metric="euclidean", mode="connectivity", **index_params):
    """The k-nearest-neighbour graph of the rows of X: sparse (n, n), A_ij != 0 iff j is
    one of the k nearest neighbours of i (itself excluded). A directed graph: j near i
    does not make i near j.

    mode "connectivity": A_ij = 1; "distance": A_ij = D(x_i, x_j), with 1 - s(x_i, x_j)
    for cosine (what ``sklearn.neighbors.kneighbors_graph`` stores). index_params go to
    ``SimilarityIndex``.
    """
    if mode not in ("connectivity", "distance"):
        raise ValueError(f"mode must be 'connectivity' or 'distance', got {mode!r}")
    index = SimilarityIndex(metric=metric, **index_params).fit(X)
    n = len(index.vectors_)
    check_int(k, "k", 1)
    if k > n - 1:
        raise ValueError(f"k must be <= {n - 1} (the other points of X), got {k}")
    values, ids = index.search(X, k + 1)  # each point finds itself, usually first
    keep = ids != np.arange(n)[:, None]
    keep[keep.all(axis=1), -1] = False  # itself tied out of the k + 1: drop the (k+1)-th
    neighbours, values = ids[keep].reshape(n, k), values[keep].reshape(n, k)
    if mode == "connectivity":
        weights = np.ones((n, k))
    else:
        weights = 1 - values if metric == "cosine" else values
    return neighbour_adjacency(neighbours, weights)


@exercise("W4.X2", hint="row i has the k entries weights[i] in the columns neighbours[i]")
def neighbour_adjacency(neighbours, weights):
    """The adjacency matrix of the graph with an edge i -> j for each neighbour j of i:
    A_ij = weights[i, r] where j = neighbours[i, r], 0 elsewhere, as a scipy.sparse matrix of
    shape (n, n) for ids neighbours (n, k) (in 0..n - 1, distinct within a row) and weights
    (n, k). Row i holds k nonzeros; A need not be symmetric.
    """
    n, k = neighbours.shape
    indptr = np.arange(0, n * k + 1, k)  # row i: entries i k .. (i + 1) k - 1 of the data
    return sp.csr_matrix((weights.ravel(), neighbours.ravel(), indptr), shape=(n, n))
