"""Time the from-scratch PCA against scikit-learn's, solver by solver, on the same work.

Run: ``.venv/bin/python -m benchmarks.bench_pca``. Each row fits both estimators with the
same n_components (and, for ``randomized``, the same sketch: n_oversamples=10, 4 power
iterations, random_state=0) and reports the best of ``repeats`` wall-clock times per
``fit`` call (``time.perf_counter``), the two alternating so drift hits both. ``ev_rel_diff`` is
max_i |lambda_i - lambda'_i| / lambda'_1, ours vs sklearn's explained variances: near
machine precision means both did the same computation.

BLAS is pinned to one thread by default: on a shared 2-core machine OpenBLAS threads
contend with other processes and the timings swing by 10x from run to run.
"""

import numpy as np
from sklearn import decomposition
from sklearn.datasets import load_digits, load_sample_image
from threadpoolctl import threadpool_limits

from benchmarks.timing import best_times, print_table
from projects.week1_pca.pca import PCA, SKLEARN_SOLVER


def low_rank_matrix(n_samples=20_000, n_features=256, rank=20, noise=0.01, seed=0):
    """X = G H + offset + noise: a rank-20 signal with a non-zero mean and small noise."""
    rng = np.random.default_rng(seed)
    signal = rng.standard_normal((n_samples, rank)) @ rng.standard_normal((rank, n_features))
    offset = rng.uniform(-5, 5, n_features)
    return signal + offset + noise * rng.standard_normal((n_samples, n_features))


def datasets():
    """Name -> float64 data matrix (n_samples, n_features)."""
    gray = load_sample_image("china.jpg") @ np.array([0.299, 0.587, 0.114])  # 427 x 640
    patches = gray[:424, :632].reshape(53, 8, 79, 8).swapaxes(1, 2).reshape(-1, 64)
    return {
        "digits": load_digits().data,  # 1797 x 64
        "low_rank": low_rank_matrix(),  # 20000 x 256
        "china_rows": gray,  # 427 x 640: more features than samples
        "china_patches": patches,  # 4187 x 64: 8 x 8 pixel blocks
    }


def compare(name, X, solver, n_components, repeats):
    """One table row: both fits timed, and how far apart their explained variances are."""
    ours = PCA(n_components, solver=solver, random_state=0)
    theirs = decomposition.PCA(
        n_components,
        svd_solver=SKLEARN_SOLVER[solver],
        n_oversamples=10,
        iterated_power=4,
        random_state=0,
    )
    ours_s, sklearn_s = best_times(lambda: ours.fit(X), lambda: theirs.fit(X), repeats)
    lambda_ours, lambda_theirs = ours.explained_variance_, theirs.explained_variance_
    return {
        "dataset": name,
        "shape": "x".join(map(str, X.shape)),
        "solver": solver,
        "n_components": ours.n_components_,
        "ours_s": ours_s,
        "sklearn_s": sklearn_s,
        "ratio": ours_s / sklearn_s,
        "ev_rel_diff": np.max(np.abs(lambda_ours - lambda_theirs)) / lambda_theirs[0],
    }


def main(repeats=5, blas_threads=1):
    """Print the timing table and return its rows as a list of dicts."""
    rows = []
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        for name, X in datasets().items():
            for solver in SKLEARN_SOLVER:
                counts = [20, None] if name == "digits" and solver != "randomized" else [20]
                rows.extend(compare(name, X, solver, k, repeats) for k in counts)
    print_table(
        f"PCA fit, best of {repeats}, BLAS threads: {blas_threads}",
        rows,
        {"ours_s": "{:.5f}", "sklearn_s": "{:.5f}", "ratio": "{:.2f}", "ev_rel_diff": "{:.1e}"},
    )
    return rows


if __name__ == "__main__":
    main()
