"""Side-by-side timing shared by every benchmark: ours and the library's, in one process."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import numpy as np
import pandas as pd


def best_times(
    run_ours: Callable, run_theirs: Callable, repeats: int, min_round_s: float = 0.05
) -> tuple[float, float]:
    """Best seconds per call of each of two callables, timed in alternating rounds.

    A round runs ``number`` calls back to back, with number chosen so a round lasts
    about ``min_round_s`` (millisecond calls are too short to time one by one);
    alternating the two spreads any drift of the machine over both.
    """
    calls = (run_ours, run_theirs)
    number = calls_per_round(calls, min_round_s)  # after a warm-up call of each
    best = [np.inf, np.inf]
    for _ in range(repeats):
        for i, run in enumerate(calls):
            gc.collect()  # garbage of the previous round is not charged to this one
            start = time.perf_counter()
            for _ in range(number):
                run()
            best[i] = min(best[i], (time.perf_counter() - start) / number)
    return best[0], best[1]


def calls_per_round(calls, min_round_s, clock=time.perf_counter) -> int:
    """Calls of each in a round of about ``min_round_s``: one warm-up call of each, timed
    by ``clock``, the slowest setting the count (at least 1)."""
    slowest = 0.0
    for run in calls:
        start = clock()
        run()
        slowest = max(slowest, clock() - start)
    return max(1, round(min_round_s / max(slowest, 1e-9)))


def print_table(title: str, rows: list[dict], formats: dict[str, str]) -> None:
    """``formats``: column -> format spec, e.g. {"ratio": "{:.2f}"}."""
    print(title)
    formatters = {column: spec.format for column, spec in formats.items()}
    print(pd.DataFrame(rows).to_string(index=False, formatters=formatters))


def median_times(
    run_ours: Callable, run_theirs: Callable, repeats: int, min_round_s: float = 0.05
) -> tuple[float, float]:
    """Median seconds per call of each of two callables over ``repeats`` alternating rounds.

    Rounds as in ``best_times`` (a warm-up call each, then rounds of about ``min_round_s``);
    the median of the rounds is robust to a round slowed by another process, either way.
    """
    calls = (run_ours, run_theirs)
    number = calls_per_round(calls, min_round_s)
    rounds: list[list[float]] = [[], []]
    for _ in range(repeats):
        for i, run in enumerate(calls):
            gc.collect()
            start = time.perf_counter()
            for _ in range(number):
                run()
            rounds[i].append((time.perf_counter() - start) / number)
    return float(np.median(rounds[0])), float(np.median(rounds[1]))
