"""Curves with a value per step: logged as step metrics for the UI's charts, kept whole as a file.

MLflow's charts never draw every point of a long curve: the UI asks the store for 320
sampled points per curve (``get-history-bulk-interval``). Logging each of 20,000 steps costs
20,000 rows (about 140 us of CPU each on SQLite, most of a tiny pipeline's logging) for a
chart of 320. ``log_curve`` logs at most ``CHART_POINTS`` steps of a curve: all of a short
one; of a long one, every early step, then log-spaced steps to the last (dense early, where
a loss falls fastest). The whole curve goes to the artifact ``curves/<key>.csv`` (step,value):
``pandas.read_csv`` gives every point back.
"""

from __future__ import annotations

import time

import mlflow
import numpy as np
from mlflow.entities import Metric

CHART_POINTS = 320  # the points the UI's charts ask for
METRIC_BATCH = 1000  # step metrics per log_batch call: MLflow's limit


def chart_steps(n_points: int, limit: int = CHART_POINTS) -> np.ndarray:
    """At most ``limit`` of the steps 0..n_points-1, ascending, always the first and the
    last: all of them when there are no more than ``limit``; else every step below some
    ``dense``, then log-spaced steps from ``dense`` on, ``dense`` the first at which the
    log-spaced ones lie at least one step apart."""
    if n_points <= limit:
        return np.arange(n_points)
    for dense in range(1, limit - 1):
        ratio = ((n_points - 1) / dense) ** (1 / (limit - dense - 1))
        if dense * (ratio - 1) >= 1:
            break
    spaced = np.round(np.geomspace(dense, n_points - 1, limit - dense)).astype(int)
    return np.unique(np.concatenate([np.arange(dense), spaced]))


def log_curve(key: str, values) -> None:
    """``values[k]`` as metric ``key`` at step k for the steps of ``chart_steps``, and every
    value in ``curves/<key>.csv``, on the active run."""
    values = np.asarray(values, dtype=float)
    client, run_id = mlflow.tracking.MlflowClient(), mlflow.active_run().info.run_id
    stamp = int(time.time() * 1000)
    metrics = [Metric(key, float(values[k]), stamp, int(k)) for k in chart_steps(len(values))]
    for start in range(0, len(metrics), METRIC_BATCH):
        client.log_batch(run_id, metrics=metrics[start : start + METRIC_BATCH])
    rows = "".join(f"{k},{v!r}\n" for k, v in enumerate(values.tolist()))
    mlflow.log_text("step,value\n" + rows, f"curves/{key}.csv")
