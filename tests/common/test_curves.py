"""common.curves: a long curve as at most 320 chart steps in the store, every step in a CSV.

Checked on a real SQLite store: the metric history holds exactly the values at
``chart_steps``, and ``curves/<key>.csv`` read back with pandas gives every value, bit for bit.
"""

from __future__ import annotations

import math

import mlflow
import numpy as np
import pandas as pd
import pytest

from common.curves import CHART_POINTS, chart_steps, log_curve


@pytest.mark.parametrize("n", [1, 2, 319, 320])
def test_a_curve_of_at_most_320_points_keeps_every_step(n):
    np.testing.assert_array_equal(chart_steps(n), np.arange(n))


@pytest.mark.parametrize("n", [321, 3001, 20_001, 10**7])
def test_a_longer_curve_keeps_at_most_320_distinct_steps_with_its_first_and_last(n):
    steps = chart_steps(n)
    assert len(steps) <= CHART_POINTS
    assert steps[0] == 0
    assert steps[-1] == n - 1
    assert np.all(np.diff(steps) > 0)
    assert len(steps) == CHART_POINTS  # not thinned below what the chart draws
    assert steps[1] == 1  # log-spaced: dense at the start, where a loss falls fastest


def test_the_store_holds_the_chart_steps_and_the_csv_every_value(tracking_uri, tmp_path):
    values = np.exp(-np.linspace(0, 30, 5000)) + np.pi  # full-precision floats
    values[7] = math.nan  # a diverged point stays a point
    mlflow.set_tracking_uri(tracking_uri)
    experiment = mlflow.create_experiment("curves", artifact_location=str(tmp_path / "artifacts"))
    with mlflow.start_run(experiment_id=experiment) as run:
        log_curve("task.loss", values)
    client = mlflow.tracking.MlflowClient(tracking_uri)
    history = sorted(
        (m.step, m.value) for m in client.get_metric_history(run.info.run_id, "task.loss")
    )
    steps = chart_steps(len(values))
    assert [step for step, _ in history] == steps.tolist()
    np.testing.assert_array_equal([value for _, value in history], values[steps])
    path = client.download_artifacts(run.info.run_id, "curves/task.loss.csv", str(tmp_path))
    curve = pd.read_csv(path)
    assert list(curve.columns) == ["step", "value"]
    np.testing.assert_array_equal(curve["step"], np.arange(len(values)))
    np.testing.assert_array_equal(curve["value"], values)  # NaN equals NaN here
