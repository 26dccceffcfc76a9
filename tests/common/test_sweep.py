"""Sweeps as one MLflow parent run with a child run per job (common.sweep), through the real CLI.

The pure parts (swept keys, job counts, the summary table, the status rule, the figure)
are checked in-process on hand-made runs. The CLI tests run cheap week-3 sweeps in
subprocesses, as a user does: a basic-launcher sweep, the same sweep resumed with a
failing value added, an 8-job joblib sweep on a brand-new store, SIGTERM mid-sweep.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from common import runs, sweep
from common.liveness import process_tags, start_ticks
from common.paths import CONFIG_DIR, REPO_ROOT, config_dir
from common.tracking import (
    CONFIG_HASH_TAG,
    EXIT_FAILED,
    EXIT_TERMINATED,
    HEADLINE,
    JOB_TAG,
    PARENT_RUN_ENV,
    REUSED_TAG,
    config_hash,
    ensure_experiment,
)
from projects.week3_regression import config as week3_config  # noqa: F401  (the schema)
from tests.common.toy_week import STARTED, WEEK, toy_command, toy_env, write_toy_week
from tests.weeks import compose_config

WEEKS = {"week1": "week1_pca", "week2": "week2_spam", "week3": "week3_regression"}
if (config_dir("week4") / "week4.yaml").is_file():
    WEEKS["week4"] = "week4_tree_search"
QUICK = ["tasks=[logistic]", "compare_steps=10", "progress=false"]  # one week-3 job: ~10 s
NO_FIGURES = "figures=false"  # for the sweeps whose figures no test reads
EXPERIMENTS = sorted(CONFIG_DIR.glob("week*/experiment/*.yaml"))
README = REPO_ROOT / "README.md"


# --- the pure parts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "keys", "jobs"),
    [
        (["low_rank.rank=2,8", "seed=1"], ["low_rank.rank"], 2),
        (["a=1,2,3", "+b=x,y", "c=[1,2]"], ["a", "b"], 6),  # a list value is one value
        (["a=range(0,10,2)", "model=x,y"], ["a", "model"], 10),  # a config group sweeps too
        (["a=1,2", "a=3,4,5"], ["a"], 3),  # given twice: the last one counts
        (["seed=3"], [], 1),
    ],
)
def test_swept_keys_and_planned_jobs(overrides, keys, jobs):
    assert sweep.swept_keys(overrides) == keys
    assert sweep.planned_jobs(overrides) == jobs


def test_planned_jobs_match_what_hydras_basic_sweeper_launches():
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    overrides = ["a=1,2,3", "b=x,y", "c=range(4)", "seed=0"]
    [batch] = BasicSweeper.split_arguments(sweep.parse_overrides(overrides), None)
    assert sweep.planned_jobs(overrides) == len(batch) == 24


def test_sweeper_params_come_first_and_job_values_are_read_back():
    overrides = sweep.sweep_overrides(["+experiment=rate", "seed=1,2"], {"p.bpp": "0.5,1"})
    assert overrides == ["p.bpp=0.5,1", "+experiment=rate", "seed=1,2"]
    tag = "p.bpp=0.5 +experiment=rate seed=2 tracking.uri=sqlite\\:////x.db"
    assert sweep.job_values(tag, ["p.bpp", "seed", "absent"]) == {
        "p.bpp": "0.5",
        "seed": "2",
        "absent": "",
    }


@pytest.mark.parametrize(
    ("statuses", "jobs", "completed", "stopped", "expected"),
    [
        (["FINISHED", "FINISHED"], 2, True, False, "FINISHED"),
        (["FINISHED", "FINISHED"], None, True, False, "FINISHED"),  # a sweeper we cannot count
        (["FINISHED", "FAILED"], 2, False, False, "FAILED"),
        (["FINISHED", "FINISHED"], 2, False, False, "FAILED"),  # aborted after the jobs
        (["FINISHED"], 2, True, False, "FAILED"),  # a job never opened its run
        ([], None, True, False, "FAILED"),
        (["FINISHED", "KILLED"], 2, False, False, "KILLED"),
        (["FINISHED"], 2, False, True, "KILLED"),  # SIGTERM between two jobs
    ],
)
def test_sweep_status(statuses, jobs, completed, stopped, expected):
    assert sweep.sweep_status(statuses, jobs, completed, stopped) == expected


def test_ray_init_args_forward_the_sweeps_environment_and_connect_without_a_store_size():
    environ = {PARENT_RUN_ENV: "parent0id", "MLFLOW_TRACKING_URI": "http://h:5005", "HOME": "/x"}
    given = {
        "address": "10.0.0.1:6379",
        "runtime_env": {"env_vars": {"A": "1", PARENT_RUN_ENV: "old"}},
    }
    forwarded = {"A": "1", PARENT_RUN_ENV: "parent0id", "MLFLOW_TRACKING_URI": "http://h:5005"}
    assert sweep.ray_init_args(given, environ) == {
        "address": "10.0.0.1:6379",
        "runtime_env": {"env_vars": forwarded},
        "object_store_memory": None,  # ray.init refuses a size when it connects
    }
    assert given["runtime_env"]["env_vars"][PARENT_RUN_ENV] == "old"  # the input is untouched
    local = sweep.ray_init_args({"address": None, "num_cpus": 2}, {PARENT_RUN_ENV: "p"})
    env_vars = {PARENT_RUN_ENV: "p"}
    assert local == {"address": None, "num_cpus": 2, "runtime_env": {"env_vars": env_vars}}


def test_config_hash_ignores_tracking_and_nothing_else():
    base = config_hash(compose_config("week3", *QUICK))
    same = config_hash(
        compose_config("week3", *QUICK, "tracking.uri=sqlite:////x.db", "tracking.resume=true")
    )
    assert base == same
    assert len(base) == 16
    for change in ("seed=1", "optimizer.lr=0.1", "tasks=[linear]"):
        assert config_hash(compose_config("week3", *QUICK, change)) != base, change


def make_children(client, experiment_id, parent, rows):
    """Child runs of ``parent``: (job, overrides, status, headline or None, reused_from)."""
    ids = []
    for job, overrides, status, headline, reused in rows:
        tags = {sweep.PARENT_TAG: parent, JOB_TAG: str(job), "overrides": overrides}
        if reused:
            tags[REUSED_TAG] = reused
        run = client.create_run(experiment_id, run_name=overrides, tags=tags)
        if headline is not None:
            client.log_metric(run.info.run_id, HEADLINE, headline)
        if status == "FAILED":
            client.set_tag(run.info.run_id, "error", "ValueError: bad lr")
        if status != "RUNNING":
            client.set_terminated(run.info.run_id, status)
        ids.append(run.info.run_id)
    return ids


CHILDREN = [  # created out of job order on purpose
    (2, "optimizer.lr=1.0 seed=0", "FINISHED", 3e-7, ""),
    (0, "optimizer.lr=0.01 seed=0", "FINISHED", 2e-11, ""),
    (1, "optimizer.lr=0.1 seed=0", "FAILED", None, ""),
    (3, "optimizer.lr=0.5 seed=0", "FINISHED", 5e-9, "earlier0run0id"),
]


def test_summary_table_has_a_row_per_child_in_job_order_and_ranks_by_the_week(
    tracking_uri, runs_of
):
    client = runs_of.client
    experiment_id = ensure_experiment("week3", tracking_uri)  # artifacts in tmp
    parent = client.create_run(experiment_id).info.run_id
    ids = make_children(client, experiment_id, parent, CHILDREN)
    children = client.search_runs([experiment_id], f"tags.`{sweep.PARENT_TAG}` = '{parent}'")
    table = sweep.summary_table(children, ["optimizer.lr"])
    assert list(table["job"]) == [0, 1, 2, 3]
    assert list(table["run_id"]) == [ids[1], ids[2], ids[0], ids[3]]
    assert list(table["optimizer.lr"]) == [0.01, 0.1, 1.0, 0.5]  # numbers, not text
    assert list(table["status"]) == ["FINISHED", "FAILED", "FINISHED", "FINISHED"]
    assert math.isnan(table["headline"][1])
    assert table["headline"][0] == 2e-11  # metrics are float64 in the store: exact
    assert list(table["reused_run_id"]) == ["", "", "", "earlier0run0id"]
    assert table["error"][1] == "ValueError: bad lr"
    # Ranked against an independent pick over the finished rows.
    finished = {ids[i]: CHILDREN[i][3] for i in (0, 1, 3)}
    assert sweep.best_child(table, higher_is_better=False)["run_id"] == min(
        finished, key=finished.get
    )
    assert sweep.best_child(table, higher_is_better=True)["run_id"] == max(
        finished, key=finished.get
    )
    assert sweep.best_child(table[table["status"] == "FAILED"], True) is None
    message = sweep.failure_message(table, jobs=5)
    assert message.startswith("2 of 5 jobs did not finish: optimizer.lr=0.1 seed=0 FAILED")
    assert "(ValueError: bad lr)" in message
    assert message.endswith("1 never started")


def test_closing_an_aborted_sweep_kills_children_left_running_and_never_stays_running(
    tracking_uri, runs_of, tmp_path
):
    client = runs_of.client
    experiment_id = ensure_experiment("week3", tracking_uri)  # artifacts in tmp
    spec = sweep.Sweep(
        week="week3",
        tracking_uri=tracking_uri,
        experiment_id=experiment_id,
        overrides=["optimizer.lr=0.01,0.1,1.0"],
        keys=["optimizer.lr"],
        jobs=3,
        launcher="joblib (n_jobs=2)",
        sweep_dir=tmp_path,
    )
    parent = sweep.open_parent(spec, resume=False)
    rows = [
        (0, "optimizer.lr=0.01", "FINISHED", 1e-9, ""),
        (1, "optimizer.lr=0.1", "RUNNING", None, ""),  # its worker died
    ]
    finished, running = make_children(client, experiment_id, parent, rows)
    assert sweep.close_parent(spec, parent, completed=False, stopped=False) == "KILLED"
    assert client.get_run(running).info.status == "KILLED"
    assert "ended before" in client.get_run(running).data.tags["error"]
    run = client.get_run(parent)
    assert run.info.status == "KILLED"
    assert run.info.end_time is not None
    assert run.data.tags["failed_children"] == "optimizer.lr=0.1"
    assert "2 of 3 jobs did not finish" in run.data.tags["error"]
    assert run.data.tags["best_run_id"] == finished
    assert run.data.metrics["best_headline"] == 1e-9
    assert run.data.tags["sweep.launcher"] == "joblib (n_jobs=2)"
    assert run.data.tags["sweep.jobs"] == "3"
    assert run.info.run_name == "sweep: optimizer.lr=0.01,0.1,1.0"


def test_the_summary_figure_plots_every_finished_child_and_stars_the_best(subplots):
    table = pd.DataFrame(
        {
            "run_id": ["a", "b", "c", "d", "e"],
            "status": ["FINISHED", "FINISHED", "FINISHED", "FAILED", "FINISHED"],
            "lr": [0.001, 0.1, 0.1, 1.0, 1.0],
            "model": ["x", "y", "x", "y", "y"],
            "headline": [0.5, 0.9, 0.7, np.nan, 0.6],
        }
    )
    axes = subplots(1, 2)
    sweep.plot_headline_vs_swept(axes, table, ["lr", "model"], "b", higher_is_better=True)
    finished = table[table["status"] == "FINISHED"]
    lr_ax, model_ax = axes
    points, star = lr_ax.collections
    np.testing.assert_array_equal(points.get_offsets(), finished[["lr", "headline"]].to_numpy())
    np.testing.assert_array_equal(star.get_offsets(), [[0.1, 0.9]])
    [envelope] = lr_ax.lines  # the best headline at each lr
    np.testing.assert_array_equal(envelope.get_xydata(), [[0.001, 0.5], [0.1, 0.9], [1.0, 0.6]])
    assert lr_ax.get_xscale() == "log"  # 0.001 .. 1: a span of 1000
    assert model_ax.get_xscale() == "linear"
    assert len(model_ax.lines) == 0  # no line between categories
    assert [t.get_text() for t in model_ax.get_xticklabels()] == ["x", "y"]
    assert "higher is better" in lr_ax.get_ylabel()
    assert lr_ax.get_yscale() == "linear"  # 0.5 .. 0.9
    gaps = table.assign(headline=[1e-11, 1e-6, 1e-9, np.nan, 1e-3])  # week 3: loss gaps
    [ax] = subplots(1, 1, squeeze=False)[0]
    sweep.plot_headline_vs_swept([ax], gaps, ["model"], "a", higher_is_better=False)
    assert ax.get_yscale() == "log"
    assert "lower is better" in ax.get_ylabel()


# --- configuration --------------------------------------------------------------------


@pytest.mark.parametrize("week", sorted(WEEKS))
def test_every_week_registers_the_sweep_callback(week):
    import importlib

    importlib.import_module(f"projects.{WEEKS[week]}.config")
    with initialize_config_dir(config_dir=str(config_dir(week)), version_base="1.3"):
        cfg = compose(week, return_hydra_config=True)
    targets = [cb["_target_"] for cb in cfg.hydra.callbacks.values()]
    assert targets == ["common.sweep.MlflowSweep"]
    assert cfg.tracking.resume is False


def test_there_are_experiments_for_every_week():
    weeks = {path.parent.parent.name for path in EXPERIMENTS}
    assert weeks == set(WEEKS)


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_each_experiment_composes_for_every_job_and_is_documented(path):
    """Every job of the experiment's sweep passes the week's schema (a typo would fail)."""
    import importlib

    week, name = path.parent.parent.name, path.stem
    importlib.import_module(f"projects.{WEEKS[week]}.config")
    experiment = f"+experiment={name}"
    with initialize_config_dir(config_dir=str(config_dir(week)), version_base="1.3"):
        cfg = compose(week, overrides=[experiment], return_hydra_config=True)
        params = OmegaConf.to_container(cfg.hydra.sweeper.params)
        assert params, f"{name} sweeps nothing: set hydra.sweeper.params"
        values = [  # each key's values, expanded by Hydra's own override parser
            [f"{key}={value}" for value in override.sweep_string_iterator()]
            for key, override in zip(
                params, sweep.parse_overrides(sweep.sweep_overrides([], params)), strict=True
            )
        ]
        for job in itertools.product(*values):
            compose(week, overrides=[experiment, *job])
    assert sweep.planned_jobs(sweep.sweep_overrides([], params)) >= 2
    assert f'make {week} ARGS="-m {experiment}' in path.read_text(), "its run command"
    assert experiment in README.read_text(), f"README does not mention {experiment}"


# --- the CLI ----------------------------------------------------------------------------


def run_week3(*overrides: str, store: Path, sweep_dir: Path, env=None, multirun=True):
    """``python -m projects.week3_regression [-m] ...`` in a subprocess, on ``store``."""
    return subprocess.run(
        [sys.executable, "-m", "projects.week3_regression", *(["-m"] if multirun else []),
         *QUICK, *overrides, f"tracking.uri=sqlite:///{store}",
         f"hydra.sweep.dir={sweep_dir}", f"hydra.run.dir={sweep_dir}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def client_of(store: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(f"sqlite:///{store}")


def week3_runs(store: Path):
    client = client_of(store)
    experiment = client.get_experiment_by_name("week3")
    return client.search_runs([experiment.experiment_id], max_results=1000)


def split_parent(runs):
    """(the one parent run, its children) of one sweep's runs."""
    [parent] = [r for r in runs if sweep.PARENT_TAG not in r.data.tags]
    children = [r for r in runs if r.data.tags.get(sweep.PARENT_TAG) == parent.info.run_id]
    assert len(children) == len(runs) - 1
    return parent, children


def output(result) -> str:
    return result.stdout[-4000:] + result.stderr[-4000:]


@pytest.fixture(scope="module")
def store(tmp_path_factory, empty_store):
    """One store for the first sweep and its resumption."""
    path = tmp_path_factory.mktemp("sweeps") / "mlflow.db"
    shutil.copyfile(empty_store, path)
    return path


@pytest.fixture(scope="module")
def first_sweep(store):
    result = run_week3("optimizer.name=lbfgs,newton", store=store, sweep_dir=store.parent / "s1")
    assert result.returncode == 0, output(result)
    return split_parent(week3_runs(store))


@pytest.mark.slow  # a CLI sweep (the module's first sweep)
def test_a_sweep_is_one_parent_with_a_finished_child_per_job(first_sweep, store, tmp_path):
    parent, children = first_sweep
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name == (
        "sweep: tasks=[logistic] compare_steps=10 progress=false optimizer.name=lbfgs,newton"
    )
    tags = parent.data.tags
    assert tags["sweep.jobs"] == "2"
    assert tags["sweep.launcher"] == "basic"
    assert tags["sweep.swept_keys"] == "optimizer.name"
    assert "optimizer.name=lbfgs,newton" in tags["sweep.overrides"]
    assert {c.info.status for c in children} == {"FINISHED"}
    by_job = {c.data.tags[JOB_TAG]: c for c in children}
    assert sorted(by_job) == ["0", "1"]
    assert by_job["0"].data.params["optimizer.name"] == "lbfgs"
    assert by_job["0"].info.run_name.endswith("optimizer.name=lbfgs")  # named from overrides
    assert by_job["1"].info.run_name.endswith("optimizer.name=newton")
    assert all(CONFIG_HASH_TAG in c.data.tags for c in children)


@pytest.mark.slow  # reads the module's first CLI sweep
def test_the_parent_summarizes_its_children(first_sweep, store, tmp_path):
    parent, children = first_sweep
    client = client_of(store)
    folder = Path(client.download_artifacts(parent.info.run_id, "", str(tmp_path)))
    table = json.loads((folder / sweep.SUMMARY_TABLE).read_text())
    rows = [dict(zip(table["columns"], row, strict=True)) for row in table["data"]]
    assert [row["optimizer.name"] for row in rows] == ["lbfgs", "newton"]
    assert {row["run_id"] for row in rows} == {c.info.run_id for c in children}
    csv = pd.read_csv(folder / sweep.SUMMARY_CSV)  # full precision: week 3 gaps are ~1e-11
    headlines = {c.info.run_id: c.data.metrics[HEADLINE] for c in children}
    for run_id, headline in zip(csv["run_id"], csv["headline"], strict=True):
        assert headline == pytest.approx(headlines[run_id], rel=1e-12)
    best = min(headlines, key=headlines.get)  # week 3: the smaller loss gap is better
    assert parent.data.tags["best_run_id"] == best
    assert parent.data.metrics["best_headline"] == headlines[best]
    assert parent.data.metrics["jobs_finished"] == 2
    assert (folder / "figures" / f"{sweep.SUMMARY_FIGURE}.png").stat().st_size > 10_000
    assert (folder / "hydra" / "multirun.yaml").is_file()
    assert "Best child" in parent.data.tags[sweep.NOTE_TAG]


@pytest.fixture(scope="module")
def resumed_sweep(first_sweep, store):
    """The first sweep again with resume on and a value its jobs refuse first (a negative L2
    penalty: it composes, then each job's settings check fails): (result, runs)."""
    before = {r.info.run_id for r in week3_runs(store)}
    result = run_week3(
        "logistic.l2=-1,0.01",  # 0.01: the default, so the same config as the first sweep
        "optimizer.name=lbfgs,newton",
        "tracking.resume=true",
        store=store,
        sweep_dir=store.parent / "s2",
    )
    return result, [r for r in week3_runs(store) if r.info.run_id not in before]


@pytest.mark.slow  # a second CLI sweep
def test_resume_skips_jobs_that_finished_with_the_same_config(first_sweep, resumed_sweep):
    _, first_children = first_sweep
    result, runs = resumed_sweep
    parent, children = split_parent(runs)
    by_name = {
        c.data.params["optimizer.name"]: c
        for c in children
        if c.data.params["logistic.l2"] == "0.01"
    }
    earlier = {c.data.params["optimizer.name"]: c for c in first_children}
    for name in ("lbfgs", "newton"):
        child = by_name[name]
        assert child.info.status == "FINISHED"
        assert child.data.tags[REUSED_TAG] == earlier[name].info.run_id
        assert child.data.tags[CONFIG_HASH_TAG] == earlier[name].data.tags[CONFIG_HASH_TAG]
        assert child.data.metrics[HEADLINE] == earlier[name].data.metrics[HEADLINE]
        assert "logistic.steps" not in child.data.metrics  # the pipeline did not run
        assert child.info.run_name.endswith("(reused)")
    assert "resume: same config as run" in result.stdout
    assert parent.data.metrics["jobs_reused"] == 2
    assert parent.data.tags["sweep.resume"] == "true"
    assert parent.data.tags["best_run_id"] in {c.info.run_id for c in first_children}


@pytest.mark.slow  # a second CLI sweep
def test_a_failing_job_fails_its_child_and_the_parent_and_the_command(resumed_sweep):
    result, runs = resumed_sweep
    assert result.returncode == EXIT_FAILED, output(result)
    assert "Traceback" not in result.stdout + result.stderr
    refused = "ValueError: logistic.l2 must be a finite number >= 0, got -1.0"
    assert f"week3 job 0 failed: {refused}" in result.stderr
    parent, children = split_parent(runs)
    failed = sorted(
        (c for c in children if c.data.params["logistic.l2"] == "-1.0"),
        key=lambda c: int(c.data.tags[JOB_TAG]),
    )
    assert [c.info.status for c in failed] == ["FAILED", "FAILED"]
    assert all(c.data.tags["error"] == refused for c in failed)
    assert len(children) == 4  # the jobs after the failing ones still ran
    assert parent.info.status == "FAILED"
    assert parent.data.tags["failed_children"] == ", ".join(c.info.run_name for c in failed)
    assert parent.data.tags["error"].startswith("2 of 4 jobs did not finish")
    assert "RUNNING" not in {r.info.status for r in runs}


def test_one_probe_per_swept_value_with_the_other_keys_at_their_first_value():
    probes = sweep.value_probes(["a=1,2,3", "b=x", "+c=4,5"])
    assert probes == {
        "a=1": ["a=1", "b=x", "+c=4"],
        "a=2": ["a=2", "b=x", "+c=4"],
        "a=3": ["a=3", "b=x", "+c=4"],
        "+c=5": ["a=1", "b=x", "+c=5"],
    }


@pytest.mark.slow  # a CLI sweep per case; composition of each value: test_choices.py
@pytest.mark.parametrize(
    ("override", "reason"),
    [
        (
            "optimizer.name=lbfgs,bogus",
            "optimizer.name=bogus: Invalid value 'bogus', expected one of [gd, sgd, momentum,",
        ),
        (
            "optimizer=lbfgs,bogus",
            "optimizer=bogus: In 'week3': Could not find 'optimizer/bogus'; available options in"
            " 'optimizer': adam, gd, lbfgs, momentum, newton, rmsprop, sgd",
        ),
    ],
)
def test_a_value_outside_its_choices_stops_the_sweep_before_any_run(
    override, reason, tmp_path, empty_store
):
    store = tmp_path / "mlflow.db"
    shutil.copyfile(empty_store, store)
    result = run_week3(override, store=store, sweep_dir=tmp_path / "sweep")
    assert result.returncode == EXIT_FAILED, output(result)
    [line] = [line for line in output(result).splitlines() if "cannot start" in line]
    assert f"cannot start the sweep's parent run: ValueError: {reason}" in line
    assert "Traceback" not in result.stdout + result.stderr
    experiment = client_of(store).get_experiment_by_name("week3")
    assert experiment is None or week3_runs(store) == []  # no parent, no job ran


@pytest.mark.slow  # a CLI run
def test_a_single_run_has_no_parent_even_with_a_stale_parent_id_around(tmp_path, empty_store):
    store = tmp_path / "mlflow.db"
    shutil.copyfile(empty_store, store)
    result = run_week3(
        "optimizer.lr=-1",  # fails at once: the run, not the pipeline, is under test
        store=store,
        sweep_dir=tmp_path / "run",
        env={PARENT_RUN_ENV: "0123456789abcdef"},
        multirun=False,
    )
    assert result.returncode == EXIT_FAILED
    [run] = week3_runs(store)
    assert run.info.status == "FAILED"
    assert sweep.PARENT_TAG not in run.data.tags
    assert JOB_TAG not in run.data.tags
    assert CONFIG_HASH_TAG in run.data.tags


@pytest.mark.slow  # four joblib jobs
def test_joblib_sweep_on_a_fresh_store_loses_no_job(tmp_path):
    store = tmp_path / "brand_new" / "mlflow.db"  # no schema yet: the parent creates it
    store.parent.mkdir()
    result = run_week3(
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=4",  # 4 processes at once on the new database: every job
        "optimizer.name=lbfgs,newton",
        "seed=0,1",
        NO_FIGURES,
        store=store,
        sweep_dir=tmp_path / "sweep",
    )
    assert result.returncode == 0, output(result)
    assert "database is locked" not in result.stdout + result.stderr
    parent, children = split_parent(week3_runs(store))
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["sweep.launcher"] == "joblib (n_jobs=4)"
    assert len(children) == 4
    assert {c.info.status for c in children} == {"FINISHED"}
    assert sorted(int(c.data.tags[JOB_TAG]) for c in children) == list(range(4))
    settings = {(c.data.params["optimizer.name"], c.data.params["seed"]) for c in children}
    assert settings == set(itertools.product(["lbfgs", "newton"], ["0", "1"]))
    assert parent.data.metrics["jobs_finished"] == 4
    # the seed is swept beside optimizer.name: each optimizer over its 2 seeds
    seeds_json = client_of(store).download_artifacts(parent.info.run_id, sweep.SEEDS_TABLE)
    seeds = json.loads(Path(seeds_json).read_text())
    rows = [dict(zip(seeds["columns"], row, strict=True)) for row in seeds["data"]]
    assert [(row["optimizer.name"], row["n"]) for row in rows] == [("lbfgs", 2), ("newton", 2)]
    assert "Over the seeds (mean, 95% interval):" in parent.data.tags[sweep.NOTE_TAG]


@pytest.mark.slow  # a CLI sweep stopped by a signal
def test_sigterm_mid_sweep_leaves_no_run_running(tmp_path, empty_store):
    store = tmp_path / "mlflow.db"
    shutil.copyfile(empty_store, store)
    log_path = tmp_path / "out.txt"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "projects.week3_regression", "-m", *QUICK, NO_FIGURES,
             "optimizer.name=gd", "optimizer.tol=0", "optimizer.max_steps=100000000", "seed=0,1",
             f"tracking.uri=sqlite:///{store}", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
            cwd=REPO_ROOT, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while "MLflow run" not in log_path.read_text():  # the first job is training
            assert process.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.5)
        time.sleep(2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == EXIT_TERMINATED, log_path.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
    parent, children = split_parent(week3_runs(store))
    assert [c.info.status for c in children] == ["KILLED"]  # the second job never started
    assert parent.info.status == "KILLED"
    assert "1 never started" in parent.data.tags["error"]


def test_seed_groups_give_each_settings_mean_and_its_student_t_interval():
    from scipy import stats

    rng = np.random.default_rng(0)
    rows = [
        {"status": "FINISHED", "optimizer.lr": lr, "seed": seed, "headline": base + rng.normal()}
        for lr, base in [(0.01, 0.80), (0.1, 0.90)]
        for seed in range(5)
    ]
    rows.append({"status": "FAILED", "optimizer.lr": 0.1, "seed": 5, "headline": np.nan})
    table = pd.DataFrame(rows)
    groups = sweep.seed_groups(table, ["optimizer.lr", "seed"])
    assert list(groups["optimizer.lr"]) == [0.01, 0.1]
    for row in groups.to_dict("records"):
        values = table[(table["optimizer.lr"] == row["optimizer.lr"]) & table["headline"].notna()]
        values = values["headline"].to_numpy()
        low, high = stats.t.interval(0.95, len(values) - 1, values.mean(), stats.sem(values))
        assert row["n"] == 5  # the failed job is not a sample
        assert row["mean"] == pytest.approx(values.mean(), rel=1e-12)
        assert row["std"] == pytest.approx(values.std(ddof=1), rel=1e-12)
        assert (row["ci95_low"], row["ci95_high"]) == pytest.approx((low, high), rel=1e-12)
    assert sweep.seed_groups(table, ["optimizer.lr"]) is None  # no seed swept
    assert sweep.seed_groups(table, ["seed"]) is None  # nothing to compare across seeds


def test_the_summary_figure_names_the_metric_and_draws_the_seed_intervals(subplots):
    table = pd.DataFrame(
        {
            "run_id": list("abcdef"),
            "status": ["FINISHED"] * 6,
            "model": ["x", "x", "x", "y", "y", "y"],
            "seed": [0, 1, 2, 0, 1, 2],
            "headline": [0.5, 0.6, 0.7, 0.8, 0.85, 0.9],
        }
    )
    seeds = sweep.seed_groups(table, ["model", "seed"])
    [ax] = subplots(1, 1, squeeze=False)[0]
    sweep.plot_headline_vs_swept([ax], table, ["model"], "f", True, "test_mcc", seeds)
    assert ax.get_ylabel() == "test_mcc (higher is better)"
    assert ax.get_title() == "test_mcc vs model"
    [bars] = ax.containers  # the error bars: one per setting
    np.testing.assert_allclose(np.asarray(bars.lines[0].get_ydata(), dtype=float), [0.6, 0.85])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "mean over seeds, 95% CI" in labels
    star = ax.collections[1]
    assert not star.get_clip_on()  # the best child's star is never cut at the frame


QUEUED_JOB = """
import sys
from pathlib import Path
from mlflow.tracking import MlflowClient
from common import sweep
from common.liveness import PID_TAG, STARTED_TAG, process_tags

uri, experiment_id, parent, owner_pid, owner_started = sys.argv[1:]
run = MlflowClient(uri).create_run(experiment_id, tags={sweep.PARENT_TAG: parent, **process_tags()})
print(run.info.run_id, flush=True)
spec = sweep.Sweep("week3", uri, experiment_id, [], [], 1, "joblib", Path("."))
owner = {**process_tags(), PID_TAG: owner_pid, STARTED_TAG: owner_started}
sweep.die_with_sweep(spec, parent, owner)  # a job whose sweep's process is gone
print("the job went on", flush=True)
"""


@pytest.mark.slow  # a real process that imports MLflow
def test_a_job_whose_sweep_is_gone_marks_its_running_child_killed_and_exits(tracking_uri):
    experiment_id = ensure_experiment("week3", tracking_uri)
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    owner_started = start_ticks(owner.pid)  # read while it runs
    owner.wait()
    parent = "f" * 32
    result = subprocess.run(
        [sys.executable, "-c", QUEUED_JOB, tracking_uri, experiment_id, parent,
         str(owner.pid), owner_started],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == EXIT_TERMINATED, output(result)
    [run_id] = result.stdout.split()  # not "the job went on"
    run = client_of(Path(tracking_uri.removeprefix("sqlite:///"))).get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["error"] == (
        f"its sweep's process {owner.pid} is gone (killed?): the job was stopped"
    )


def test_the_sweeps_own_process_and_a_job_not_its_child_are_left_alone(tmp_path):
    """The basic launcher runs jobs in the sweep's process; a Ray worker is no child of it."""
    spec = sweep.Sweep("week3", "sqlite:////nowhere.db", "0", [], [], 1, "basic", tmp_path)
    threads = threading.active_count()
    sweep.die_with_sweep(spec, "p" * 32, process_tags())
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        sweep.die_with_sweep(spec, "p" * 32, process_tags(other.pid))  # alive, not our parent
    finally:
        other.kill()
        other.wait()
    assert not sweep.WATCHDOG.is_set()
    assert threading.active_count() == threads


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid`` (children, theirs, ...), read from /proc: pid -> start
    ticks (which tell a process from a later one that reuses its pid)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # ended meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))  # field 4: ppid
    found, todo = {}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if (started := start_ticks(child)) is not None:
                found[child] = started
                todo.append(child)
    return found


def still_alive(processes: dict[int, str]) -> dict[int, str]:
    """Those of ``processes`` that still run (same pid, same start time, not a zombie)."""
    return {pid: started for pid, started in processes.items() if start_ticks(pid) == started}


@pytest.mark.slow
def test_sigkill_of_a_joblib_sweep_takes_its_workers_down_and_make_runs_says_so(
    tmp_path, empty_store, capsys
):
    """Before: loky's workers outlived a SIGKILL'd sweep, ran the jobs queued for them and
    left the parent RUNNING as if alive. Now each worker sees its parent gone, marks its
    running child KILLED and exits; no queued job starts; the parent is listed stale."""
    root = write_toy_week(tmp_path / "toy")  # a job that waits: RUNNING until it is stopped
    shutil.copyfile(empty_store, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    command = toy_command(
        "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "x=0,1,2,4", "wait_s=600",
        f"tracking.uri={uri}", f"hydra.sweep.dir={tmp_path / 'sweep'}",
    )  # fmt: skip
    log_path = tmp_path / "out.txt"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            command, cwd=root, env=toy_env(root), stdout=log_file, stderr=subprocess.STDOUT
        )
    workers: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 300
        while log_path.read_text().count(STARTED) < 2:  # both workers' jobs are RUNNING
            assert process.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.2)
        workers = descendants(process.pid)  # the 2 loky workers and the resource trackers
        assert len(workers) >= 2
        process.kill()  # SIGKILL: the sweep's process can close nothing
        process.wait()
        deadline = time.monotonic() + 60
        while still_alive(workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert still_alive(workers) == {}, log_path.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in still_alive(workers):
            os.kill(pid, signal.SIGKILL)
    client = client_of(tmp_path / "mlflow.db")
    parent, children = split_parent(runs.search_all(client, ""))
    assert len(children) == 2  # the 2 queued jobs never started
    why = f"its sweep's process {process.pid} is gone (killed?): the job was stopped"
    assert [(c.info.status, c.data.tags["error"]) for c in children] == [("KILLED", why)] * 2
    assert parent.info.status == "RUNNING"
    runs.main(["--week", WEEK, "--tracking-uri", uri])
    listed = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:]}
    assert "RUNNING (stale)" in listed[parent.info.run_id[: runs.SHORT_ID]]
    assert all(" KILLED " in listed[c.info.run_id[: runs.SHORT_ID]] for c in children)
    runs.main(["--week", WEEK, "--close-stale", "--tracking-uri", uri])
    assert capsys.readouterr().out.startswith(f"{WEEK} run {parent.info.run_id} (sweep: ")
    assert client.get_run(parent.info.run_id).info.status == "KILLED"
