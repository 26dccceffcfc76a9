"""``python -m benchmarks`` (``make bench``): every benchmark, one after another.

Each module times the from-scratch code against the library side by side in one
process and prints ratios; nothing here asserts a time.
"""

import platform
import time

import numpy as np

from benchmarks import (
    bench_codec,
    bench_pca,
    bench_pipelines,
    bench_search,
    bench_sweep,
    bench_tracking,
    bench_tree,
    bench_week2,
    bench_week3,
)

BENCHMARKS = {
    "every week's default run, and a sweep's cost per job": bench_pipelines.main,
    "week 1: PCA fit": bench_pca.main,
    "week 1: patch-PCA codec": bench_codec.main,
    "week 2: spam filter fit + predict": bench_week2.main,
    "week 3: optimizers to the logistic optimum": bench_week3.main,
    "week 4: decision tree fit": bench_tree.main,
    "week 4: exact cosine top-10 search": bench_search.main,
    "tracking: per-run overhead, SQLite and server": bench_tracking.main,
    "sweeps: basic launcher and joblib": bench_sweep.main,
}


def main() -> None:
    print(f"{platform.processor() or platform.machine()}, numpy {np.__version__}")
    for title, bench in BENCHMARKS.items():
        print(f"\n=== {title} ===")
        start = time.perf_counter()
        bench()
        print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
