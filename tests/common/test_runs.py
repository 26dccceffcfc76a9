"""common.runs on real runs in a temporary store: ordering, differing params, sweeps, messages."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from common import runs
from common.config import TrackingConfig
from common.liveness import process_tags
from common.paths import REPO_ROOT
from common.tracking import Headline, run_tracked

DECLARED = {  # as a week's entry point declares its headline
    "week1": Headline("psnr_db", higher_is_better=True),
    "week3": Headline("loss_gap_rel", higher_is_better=False),
}


def log_run(uri: str, week: str, headline: float | None, optimizer: str, lr: float = 0.1) -> str:
    """A real run through ``run_tracked``; ``headline=None`` fails it. Returns its id."""
    import mlflow

    tracking = OmegaConf.structured(TrackingConfig(uri=uri, run_name=f"{optimizer} lr={lr}"))
    cfg = OmegaConf.create(
        {"seed": 0, "optimizer": {"name": optimizer, "lr": lr, "tol": 1e-6}, "tracking": tracking}
    )

    def pipeline(cfg):
        if headline is None:
            raise ValueError("diverged at step 3; lower the learning rate")
        mlflow.log_metric("test_accuracy", 0.5)
        return headline

    declared = DECLARED[week]
    if headline is None:
        with pytest.raises(SystemExit):
            run_tracked(cfg, week, pipeline, headline=declared)
    else:
        run_tracked(cfg, week, pipeline, headline=declared)
    return mlflow.last_active_run().info.run_id


@pytest.mark.parametrize("week", ["week1", "week3"])
def test_best_first_in_the_direction_the_week_declares_failed_last(week, tracking_uri, runs_of):
    ids = {
        0.2: log_run(tracking_uri, week, 0.2, "gd"),
        None: log_run(tracking_uri, week, None, "gd", lr=5.0),
        0.1: log_run(tracking_uri, week, 0.1, "adam"),
        0.3: log_run(tracking_uri, week, 0.3, "sgd"),
    }
    table = runs.runs_table(runs.fetch_runs(runs_of.client, week), week)
    best_first = [0.3, 0.2, 0.1] if DECLARED[week].higher_is_better else [0.1, 0.2, 0.3]
    assert list(table["run"]) == [ids[h][: runs.SHORT_ID] for h in [*best_first, None]]
    assert list(table["status"]) == ["FINISHED"] * 3 + ["FAILED"]
    assert table["headline"].iloc[:3].tolist() == best_first
    assert table["headline"].isna().iloc[3]
    # The params that differ (name, lr), not those every run shares (tol, seed) nor tracking.*.
    assert [c for c in table.columns if "." in c or c == "seed"] == [
        "optimizer.lr",
        "optimizer.name",
    ]
    names = {0.2: "gd", None: "gd", 0.1: "adam", 0.3: "sgd"}
    assert list(table["optimizer.name"]) == [names[h] for h in [*best_first, None]]
    assert table.loc[table["status"] == "FAILED", "optimizer.lr"].item() == "5.0"
    assert "parent" not in table.columns  # no sweep: no empty column


def test_cli_prints_the_heading_and_the_rows_in_order(tracking_uri, runs_of, capsys):
    worse = log_run(tracking_uri, "week3", 0.5, "gd")
    better = log_run(tracking_uri, "week3", 1e-9, "lbfgs")
    capsys.readouterr()  # the runs' own summaries
    runs.main(["--week", "3", "--tracking-uri", tracking_uri, "--metrics", "test_accuracy"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        f"week3: 2 runs in {tracking_uri}, best first by headline (loss_gap_rel, lower is better)"
    )
    assert lines[1].split()[:2] == ["run", "name"]
    assert lines[1].split()[-3:] == ["optimizer.name", "headline", "test_accuracy"]
    assert lines[2].startswith(better[:8])
    assert lines[2].split()[-3:] == ["lbfgs", "1e-09", "0.5"]
    assert lines[3].startswith(worse[:8])
    assert lines[3].split()[-3:] == ["gd", "0.5", "0.5"]
    runs.main(["--week", "3", "--tracking-uri", tracking_uri, "--limit", "1"])
    out = capsys.readouterr().out
    assert "top 1 shown" in out
    assert better[:8] in out
    assert worse[:8] not in out


def test_sweep_children_name_their_parent_and_the_parent_is_listed(tracking_uri, runs_of):
    children = [log_run(tracking_uri, "week3", h, name) for h, name in [(0.1, "gd"), (0.2, "sgd")]]
    experiment = runs_of.client.get_experiment_by_name("week3").experiment_id
    parent = runs_of.client.create_run(experiment, run_name="sweep").info.run_id  # no week tag
    for child in children:
        runs_of.client.set_tag(child, runs.PARENT_TAG, parent)
    table = runs.runs_table(runs.fetch_runs(runs_of.client, "week3"), "week3")
    by_run = table.set_index("run")["parent"]
    assert by_run[parent[:8]] == "sweep of 2"
    assert all(by_run[child[:8]] == parent[:8] for child in children)
    assert list(table["run"])[-1] == parent[:8]  # no headline: last
    # the parent has no params: only what differs between the children is a column
    params = [c for c in table.columns if c.startswith(("seed", "optimizer."))]
    assert params == ["optimizer.name"]


def test_status_filter_and_the_weeks_listed_are_those_the_store_holds(tracking_uri, capsys):
    log_run(tracking_uri, "week3", None, "gd", lr=5.0)
    runs.main(["--week", "week3", "--status", "FINISHED", "--tracking-uri", tracking_uri])
    assert capsys.readouterr().out.strip() == f"no FINISHED week3 runs in {tracking_uri}"
    log_run(tracking_uri, "week1", 30.0, "gd")
    runs.main(["--tracking-uri", tracking_uri])  # every week: one section each, in order
    headings = [line for line in capsys.readouterr().out.splitlines() if " runs in " in line]
    assert [line.split(":")[0] for line in headings] == ["week1", "week3"]


def test_unknown_week_empty_store_and_missing_store_are_one_line_errors(tmp_path, tracking_uri):
    log_run(tracking_uri, "week3", 0.5, "gd")
    with pytest.raises(
        SystemExit, match=r"^runs: no week '9' in .*: the weeks with runs are week3$"
    ):
        runs.main(["--week", "9", "--tracking-uri", tracking_uri])
    with pytest.raises(SystemExit, match=r"no run store at .*mlflow.db: start a run first"):
        runs.main(["--week", "2", "--tracking-uri", f"sqlite:///{tmp_path}/none/mlflow.db"])
    assert not (tmp_path / "none").exists()  # listing never creates a store


def test_an_empty_store_says_so(tmp_path, empty_store, capsys):
    import shutil

    shutil.copyfile(empty_store, tmp_path / "empty.db")
    uri = f"sqlite:///{tmp_path / 'empty.db'}"
    runs.main(["--tracking-uri", uri])
    assert (
        capsys.readouterr().out
        == f"no runs in {uri} yet: run a week first (`make help` lists them)\n"
    )


def test_weeks_are_the_ones_runs_logged_in_natural_order_and_named_by_number():
    weeks = ["week10", "week2", "toy", "week1"]
    assert sorted(weeks, key=runs.natural_key) == ["toy", "week1", "week2", "week10"]
    ordered = ["week1", "week2", "week10", "toy"]
    assert runs.resolve_week("2", ordered, "s") == runs.resolve_week("week2", ordered, "s")
    assert runs.resolve_week("2", ordered, "s") == "week2"  # not week10's trailing digits
    assert runs.resolve_week("10", ordered, "s") == "week10"
    assert runs.resolve_week("toy", ordered, "s") == "toy"
    with pytest.raises(ValueError, match=r"^no week '3' in s: the weeks with runs are week1, "):
        runs.resolve_week("3", ordered, "s")
    with pytest.raises(ValueError, match=r"^no week '1' in s: it holds no runs$"):
        runs.resolve_week("1", [], "s")


def test_help_answers_without_importing_mlflow_or_pandas():
    code = (
        "import sys, common.runs, common.reproduce; "
        "print(sorted({'mlflow', 'pandas'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


RUN_THAT_WAITS = """
import sys, time
from omegaconf import OmegaConf
from common.config import BaseConfig, TrackingConfig
from common.tracking import run_tracked

def pipeline(cfg):
    print("pipeline started", flush=True)
    time.sleep(120)

cfg = OmegaConf.structured(BaseConfig(tracking=TrackingConfig(uri=sys.argv[1])))
run_tracked(cfg, "week3", pipeline)
"""


@pytest.mark.slow  # a real process that imports MLflow; the fast set's twin is below
def test_a_run_whose_process_was_sigkilled_is_listed_stale_and_closed_as_killed(
    tracking_uri, runs_of, capsys
):
    process = subprocess.Popen([sys.executable, "-c", RUN_THAT_WAITS, tracking_uri],
                               cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert process.stdout.readline().strip() == "pipeline started"
    finally:
        process.kill()  # SIGKILL: the run cannot mark itself
        process.wait()
    [run] = runs_of("week3")
    assert_listed_stale_then_closed(run, process.pid, tracking_uri, runs_of, capsys)


def test_a_running_run_whose_owner_is_gone_is_listed_stale_and_closed_as_killed(
    tracking_uri, runs_of, capsys
):
    """The run a SIGKILL leaves: RUNNING, owned by a process that no longer exists."""
    from mlflow.tracking import MlflowClient

    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        tags = {"week": "week3", **process_tags(owner.pid)}  # while it lives
    finally:
        owner.kill()
        owner.wait()
    client = MlflowClient(tracking_uri)
    experiment = client.create_experiment("week3")
    client.create_run(experiment, tags=tags, run_name="killed")
    [run] = runs_of("week3")
    assert_listed_stale_then_closed(run, owner.pid, tracking_uri, runs_of, capsys)


def assert_listed_stale_then_closed(run, pid: int, tracking_uri, runs_of, capsys) -> None:
    """``make runs`` lists the RUNNING run as stale; ``--close-stale`` closes it, once."""
    assert run.info.status == "RUNNING"
    log_run(tracking_uri, "week3", 0.5, "gd")  # a live, finished run beside it
    capsys.readouterr()
    runs.main(["--week", "3", "--tracking-uri", tracking_uri])
    listed = capsys.readouterr().out
    assert [line.split()[0] for line in listed.splitlines() if "RUNNING (stale)" in line] == [
        run.info.run_id[:8]
    ]
    runs.main(["--week", "3", "--close-stale", "--tracking-uri", tracking_uri])
    why = f"stale: its process {pid} on {run.data.tags['process.host']} is gone"
    assert capsys.readouterr().out.splitlines() == [
        f"week3 run {run.info.run_id} ({run.info.run_name}): KILLED, {why}"
    ]
    closed = runs_of.client.get_run(run.info.run_id)
    assert closed.info.status == "KILLED"
    assert closed.data.tags["error"] == why
    runs.main(["--week", "3", "--close-stale", "--tracking-uri", tracking_uri])
    assert capsys.readouterr().out.strip() == "no stale runs: every RUNNING run has its process"


def test_an_infinite_headline_is_logged_as_nan_tagged_and_ranked_last(tracking_uri, runs_of):
    """A flat image's PSNR is inf: MLflow would store 1.8e308 and rank it best."""
    finite = log_run(tracking_uri, "week1", 30.0, "gd")
    infinite = log_run(tracking_uri, "week1", float("inf"), "adam")
    run = runs_of.client.get_run(infinite)
    assert math.isnan(run.data.metrics["headline"])
    assert run.data.tags["headline.not_finite"] == (
        "the pipeline's headline was inf, not a finite number: logged as NaN"
    )
    table = runs.runs_table(runs_of("week1"), "week1")
    assert list(table["run"]) == [finite[:8], infinite[:8]]
