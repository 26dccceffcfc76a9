"""common.compare on real runs in a temporary store: which runs, what differs, the UI link.

Runs go through ``run_tracked`` (the tags, params and headline a week's run has); a sweep
parent comes from ``mlflow.start_run`` with the parent tag a real sweep sets. The Compare
URL is opened in a real browser by tests/e2e/test_ui_browser.py.
"""

from __future__ import annotations

import json
import time
import urllib.parse

import mlflow
import pytest
from omegaconf import OmegaConf

from common import compare
from common.config import TrackingConfig
from common.tracking import Headline, run_tracked

GAP = Headline("loss_gap_rel", higher_is_better=False)


def log_run(uri: str, week: str, name: str, lr: float, gap: float, accuracy: float) -> str:
    tracking = OmegaConf.structured(TrackingConfig(uri=uri, run_name=name))
    cfg = OmegaConf.create({"seed": 0, "optimizer": {"lr": lr, "tol": 1e-6}, "tracking": tracking})

    def pipeline(cfg):
        mlflow.log_metrics({"loss_gap_rel": gap, "test_accuracy": accuracy, "steps": 30.0})
        return gap

    run_tracked(cfg, week, pipeline, headline=GAP)
    time.sleep(0.01)  # distinct start times
    return mlflow.last_active_run().info.run_id


@pytest.fixture
def three_runs(tracking_uri):
    """A week-1 run, two week-3 runs (lr 0.1, then 0.5), then a week-3 sweep parent: the ids
    of the two week-3 runs, oldest first."""
    log_run(tracking_uri, "week1", "other week", 0.1, 0.3, 0.5)
    ids = [
        log_run(tracking_uri, "week3", "lr=0.1", 0.1, 1e-9, 0.96),
        log_run(tracking_uri, "week3", "lr=0.5", 0.5, 2e-3, 0.91),
    ]
    week3 = mlflow.tracking.MlflowClient(tracking_uri).get_experiment_by_name("week3")
    tags = {"week": "week3", "sweep.jobs": "2"}
    with mlflow.start_run(experiment_id=week3.experiment_id, run_name="sweep: lr", tags=tags):
        pass  # a newer sweep parent: never picked
    return ids


def test_default_is_the_newest_two_finished_runs_of_one_week_without_sweep_parents(
    tracking_uri, three_runs
):
    client = mlflow.tracking.MlflowClient(tracking_uri)
    runs = compare.newest_finished(client, None)
    assert [run.info.run_id for run in runs] == three_runs[::-1]


def test_report_shows_what_changed_what_came_of_it_and_the_compare_url(tracking_uri, three_runs):
    client = mlflow.tracking.MlflowClient(tracking_uri)
    runs = [client.get_run(run_id) for run_id in three_runs]
    lines = compare.report(runs, tracking_uri).splitlines()
    changed = [line.split() for line in lines[: lines.index("")]]
    assert changed[1] == ["optimizer.lr", "0.1", "0.5"]  # the only param that differs
    assert len(changed) == 2  # seed, tol, tracking.*: the same, or hidden
    metrics = {line.split()[0]: line.split()[1:] for line in lines[lines.index("") + 2 : -2]}
    assert metrics["headline"] == ["(loss_gap_rel)", "1e-09", "0.002"]
    assert list(metrics)[1] == "loss_gap_rel"  # the largest relative change first
    assert metrics["test_accuracy"] == ["0.96", "0.91"]
    assert "steps" not in metrics  # the same in both
    url = lines[-1].removeprefix("compare them in the UI: make ui, then ")
    fragment = urllib.parse.urlsplit(url).fragment
    route, query = fragment.split("?")
    assert url.startswith("http://127.0.0.1:5000/#/")
    assert route == "/compare-runs"
    fields = urllib.parse.parse_qs(query)
    assert json.loads(fields["runs"][0]) == three_runs
    assert json.loads(fields["experiments"][0]) == [runs[0].info.experiment_id]


def test_runs_by_prefix_and_one_line_errors(tracking_uri, three_runs, capsys):
    compare.main([three_runs[0][:8], three_runs[1][:8], "--tracking-uri", tracking_uri])
    assert "optimizer.lr" in capsys.readouterr().out
    with pytest.raises(SystemExit, match=r"compare: no run 0000abcd in .*; list runs"):
        compare.main(["0000abcd", three_runs[0], "--tracking-uri", tracking_uri])
    with pytest.raises(
        SystemExit, match=r"compare: needs two runs, found 1 FINISHED week1 runs in .*RUNS=<id>"
    ):
        compare.main(["--week", "1", "--tracking-uri", tracking_uri])
