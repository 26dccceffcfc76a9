"""Exact cosine top-10 search: our blocked index against faiss, scikit-learn and plain matmul.

Run: ``.venv/bin/python -m benchmarks.bench_search`` (faiss comes with the ``bench`` extra;
without it that row is skipped). The problem: 1,000 queries against a database of
100,000 x 128 float32 vectors, both standard normal (seed 0); for each query the ids of
the 10 database vectors of largest cosine similarity, best first.

Contenders, all in this process, two threads each (torch, faiss's OpenMP, BLAS):
- ours: ``SimilarityIndex(metric="cosine")``, fitted once (it normalizes the database);
  the time is ``search(queries, 10)``, query normalization and input checks included.
- faiss ``IndexFlatIP`` on unit vectors (normalized outside the timing): the reference of
  a flat (exact) index.
- scikit-learn ``NearestNeighbors(metric="cosine", algorithm="brute").kneighbors``.
- NumPy: the full 1000 x 100000 similarity matrix, ``argpartition`` then a sort of the 10.
- torch: the full matrix and ``torch.topk``.

``seconds`` is the best of ``REPEATS`` calls after a warm-up call, the contenders taking
turns round by round so that drift of the (shared) machine hits all of them. ``exact``
is the share of ids equal to a float64 brute force (1.0: identical rankings; ties aside,
the data being continuous). ``gflops`` = 2 n_queries n d / seconds, the multiply-adds of
the similarity matrix, against the machine's matmul peak: the best of several float32
``torch.mm`` of 4096 x 4096 matrices on the same two threads.
"""

import gc
import time

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from benchmarks.timing import print_table
from projects.week4_tree_search.search import SimilarityIndex

N, D, N_QUERIES, K = 100_000, 128, 1_000, 10
THREADS = 2
REPEATS = 7


def problem(seed=0):
    """(database, queries): float32 standard normal, (N, D) and (N_QUERIES, D)."""
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((N, D), dtype=np.float32),
        rng.standard_normal((N_QUERIES, D), dtype=np.float32),
    )


def unit(X):
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def reference_ids(X, queries, block=100):
    """Top-K ids of the float64 cosine similarities, blocked over the queries (memory)."""
    X_hat = unit(X.astype(np.float64))
    ids = []
    for start in range(0, len(queries), block):
        S = unit(queries[start : start + block].astype(np.float64)) @ X_hat.T
        ids.append(np.argsort(-S, axis=1)[:, :K])
    return np.concatenate(ids)


def numpy_top_k(Q_hat, X_hat):
    S = Q_hat @ X_hat.T  # (n_queries, n), 400 MB
    top = np.argpartition(-S, K, axis=1)[:, :K]
    order = np.argsort(-np.take_along_axis(S, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def torch_top_k(Q_hat, X_hat):
    return torch.topk(torch.mm(Q_hat, X_hat.T), K, dim=1).indices.numpy()


def contenders(X, queries):
    """name -> run(): ids (N_QUERIES, K) of each method, everything but the search prepared."""
    ours = SimilarityIndex(metric="cosine").fit(X)
    sklearn = NearestNeighbors(n_neighbors=K, metric="cosine", algorithm="brute").fit(X)
    X_hat, Q_hat = unit(X), unit(queries)
    X_t, Q_t = torch.from_numpy(X_hat), torch.from_numpy(Q_hat)
    runs = {"ours (SimilarityIndex)": lambda: ours.search(queries, K)[1]}
    try:
        import faiss
    except ImportError:
        print("faiss not installed (pip install -e '.[bench]'): its row is skipped")
    else:
        faiss.omp_set_num_threads(THREADS)
        flat = faiss.IndexFlatIP(D)
        flat.add(X_hat)
        runs["faiss IndexFlatIP"] = lambda: flat.search(Q_hat, K)[1]
    runs["sklearn brute"] = lambda: sklearn.kneighbors(queries, return_distance=False)
    runs["numpy matmul + argpartition"] = lambda: numpy_top_k(Q_hat, X_hat)
    runs["torch matmul + topk"] = lambda: torch_top_k(Q_t, X_t)
    return runs


def best_seconds(runs, repeats):
    """name -> (best seconds of ``repeats`` calls, last result), the runs taking turns."""
    results = {name: run() for name, run in runs.items()}  # warm-up
    best = dict.fromkeys(runs, np.inf)
    for _ in range(repeats):
        for name, run in runs.items():
            gc.collect()
            start = time.perf_counter()
            results[name] = run()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: (best[name], results[name]) for name in runs}


def matmul_peak_gflops(size=4096, repeats=5):
    """Best float32 GFLOP/s of torch.mm on two size x size matrices (2 size^3 flops)."""
    A, B = torch.randn(size, size), torch.randn(size, size)
    torch.mm(A, B)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(A, B)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def main() -> None:
    X, queries = problem()
    expected = reference_ids(X, queries)
    torch.set_num_threads(THREADS)  # this process only
    with threadpool_limits(limits=THREADS):
        peak = matmul_peak_gflops()
        timed = best_seconds(contenders(X, queries), REPEATS)
    ours = timed["ours (SimilarityIndex)"][0]
    flops = 2 * N_QUERIES * N * D
    rows = [
        {
            "method": name,
            "seconds": seconds,
            "vs_ours": seconds / ours,
            "gflops": flops / seconds / 1e9,
            "share_of_peak": flops / seconds / 1e9 / peak,
            "exact": np.mean(ids == expected),
        }
        for name, (seconds, ids) in timed.items()
    ]
    print_table(
        f"cosine top-{K}: {N_QUERIES} queries x {N} x {D} float32, {THREADS} threads, "
        f"best of {REPEATS}; matmul peak {peak:.0f} GFLOP/s (torch.mm 4096^2)",
        rows,
        {
            "seconds": "{:.3f}",
            "vs_ours": "{:.2f}",
            "gflops": "{:.0f}",
            "share_of_peak": "{:.0%}",
            "exact": "{:.4f}",
        },
    )
    if "faiss IndexFlatIP" in timed:
        print(f"ours / faiss   = {ours / timed['faiss IndexFlatIP'][0]:.2f} (target <= 1.0)")
    print(f"sklearn / ours = {timed['sklearn brute'][0] / ours:.1f} (target >= 5)")


if __name__ == "__main__":
    main()
