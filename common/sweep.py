"""A sweep (``-m``) as one MLflow parent run with a child run per job, and its summary.

``configs/shared/common/hydra.yaml`` registers :class:`MlflowSweep` as a Hydra callback for every
week. Hydra calls its multirun hooks in the parent process, before the launcher starts any
job and after the last one returns:

- ``on_multirun_start`` creates the store and the experiment once (several processes
  opening a fresh SQLite database race on its schema migration), opens the parent run and
  exports its id as ``$MATH4ML_PARENT_RUN_ID``. Jobs inherit the environment, in this
  process (basic launcher) or in worker processes (joblib), and
  :func:`common.tracking.run_tracked` tags each job's run ``mlflow.parentRunId``. Ray
  workers start from their cluster's environment, not this one: with the Ray launcher the
  variables of :data:`FORWARDED_ENV` travel in ``hydra.launcher.ray.init.runtime_env``.
- ``on_multirun_end`` summarizes the children in the parent and closes it. A failed job
  aborts the sweep before ``on_multirun_end`` (Hydra's basic sweeper re-raises its error
  once every job of the batch has run), and so do Ctrl-C and SIGTERM: then the parent is
  summarized and closed when the process exits.

The parent ends FINISHED only if every planned job left a FINISHED child; KILLED if a job
or the sweep was interrupted; FAILED otherwise, with the failed children named in the tag
``failed_children``. MLflow, pandas and matplotlib are imported only when a sweep runs.

A sweep killed with SIGKILL (the OOM killer, a dropped shell) can close nothing. Its parent
run records its process (:mod:`common.liveness`), so ``make runs`` shows it ``RUNNING
(stale)``; and its jobs die with it: ``on_job_start`` starts, in each worker process that is
a child of the sweep's (joblib's loky workers), a thread that checks every
:data:`ORPHAN_POLL_S` that the worker's parent is still the sweep's process. Once it is not,
the thread marks the worker's RUNNING child runs KILLED (tag ``error``) and ends the process:
the jobs queued for it never start. (Not ``PR_SET_PDEATHSIG``: Linux sends that signal when
the *thread* that started the worker ends, and loky starts replacement workers from its
manager thread.)
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, flag_override

from common import tracking
from common.data import MIRROR_ENV
from common.liveness import PID_TAG, owner_alive, process_tags
from common.store import exit_if_unusable

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.entities import Run

log = logging.getLogger(__name__)

PARENT_TAG = tracking.PARENT_TAG  # the child's tag naming its parent run
NOTE_TAG = "mlflow.note.content"  # the run's description in the MLflow UI
SUMMARY_TABLE = "tables/sweep_summary.json"  # MLflow's table viewer; numbers kept to 1e-10
SUMMARY_CSV = "tables/sweep_summary.csv"  # the same rows at full precision
SUMMARY_FIGURE = "headline_vs_swept"
MAX_CHILDREN = 50_000  # one search_runs page: more jobs than any sweep here
LOG_SCALE_SPAN = 100  # positive values spanning this factor are drawn on a log axis
JOBS_TAG = "sweep.jobs"  # set on a sweep's parent run only: how a parent is told apart
SEED_KEY = "seed"  # swept beside other keys: the parent reports each setting over the seeds
SEEDS_TABLE = "tables/sweep_seeds.json"  # per setting: n, mean, std, 95% interval
RAY_LAUNCHER = "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"
FORWARDED_ENV = (tracking.PARENT_RUN_ENV, "MLFLOW_TRACKING_URI", MIRROR_ENV)  # to Ray workers
ORPHAN_POLL_S = 0.5  # how often a sweep's worker checks that the sweep's process is its parent


@dataclass(frozen=True)
class Sweep:
    """What the parent knows of a sweep before its first job starts."""

    week: str  # the primary config: week1, week2, ...
    tracking_uri: str
    experiment_id: str
    overrides: list[str]  # the sweep's overrides: hydra.sweeper.params, then the command line
    keys: list[str]  # the swept keys, e.g. ["low_rank.rank"]
    jobs: int | None  # jobs planned; None: a sweeper other than Hydra's basic one
    launcher: str  # basic | joblib | ...
    sweep_dir: Path


def sweep_overrides(task_overrides: list[str], sweeper_params: dict[str, Any]) -> list[str]:
    """``hydra.sweeper.params`` (an experiment file's sweep) as overrides, then the command
    line's, in the order Hydra's basic sweeper reads them."""
    return [f"{key}={value}" for key, value in sweeper_params.items()] + list(task_overrides)


def parse_overrides(overrides: list[str]) -> list:
    """Hydra's own parse of command-line overrides (sweeps, lists, quoting)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_overrides(overrides)


def swept_keys(overrides: list[str]) -> list[str]:
    """The keys that take several values: ``["a=1,2", "b=3", "c=range(2)"]`` -> ``["a", "c"]``."""
    keys = [o.key_or_group for o in parse_overrides(overrides) if o.is_sweep_override()]
    return list(dict.fromkeys(keys))


def planned_jobs(overrides: list[str]) -> int:
    """Jobs of a grid sweep: the product of the number of values of each swept key."""
    values = {
        o.key_or_group: len(list(o.sweep_string_iterator())) if o.is_sweep_override() else 1
        for o in parse_overrides(overrides)
    }  # a key given twice: the last one counts, as in Hydra's basic sweeper
    return math.prod(values.values())


def job_values(overrides: str, keys: list[str]) -> dict[str, str]:
    """The value each swept key took in one job, from its run's ``overrides`` tag.

    ``job_values("+experiment=rate patch_codec.target_bpp=0.5", ["patch_codec.target_bpp"])``
    is ``{"patch_codec.target_bpp": "0.5"}``.
    """
    given = dict(item.lstrip("+~").partition("=")[::2] for item in overrides.split())
    return {key: given.get(key, "") for key in keys}


def as_numbers(values: pd.Series) -> pd.Series:
    """The values as floats if every one is a number, else unchanged (categories)."""
    import pandas as pd

    numbers = pd.to_numeric(values, errors="coerce")
    return values if numbers.isna().any() else numbers


def summary_table(children: list[Run], keys: list[str]) -> pd.DataFrame:
    """One row per child, in job order: its id, name, status, swept values and headline.

    ``reused_run_id`` names the earlier run a resumed job took its result from.
    """
    import pandas as pd

    rows = [
        {
            "job": int(run.data.tags.get(tracking.JOB_TAG, -1)),
            "run_id": run.info.run_id,
            "run_name": run.info.run_name,
            "status": run.info.status,
            **job_values(run.data.tags.get("overrides", ""), keys),
            "headline": run.data.metrics.get(tracking.HEADLINE, math.nan),
            "reused_run_id": run.data.tags.get(tracking.REUSED_TAG, ""),
            "error": run.data.tags.get("error", ""),
        }
        for run in children
    ]
    columns = ["job", "run_id", "run_name", "status", *keys, "headline", "reused_run_id", "error"]
    table = pd.DataFrame(rows, columns=columns).sort_values("job", ignore_index=True)
    for key in keys:
        table[key] = as_numbers(table[key])
    return table


def best_child(table: pd.DataFrame, higher_is_better: bool) -> pd.Series | None:
    """The FINISHED child with the best headline; None if no child finished with one."""
    finished = table[(table["status"] == "FINISHED") & table["headline"].notna()]
    if finished.empty:
        return None
    best = finished["headline"].idxmax() if higher_is_better else finished["headline"].idxmin()
    return finished.loc[best]


def sweep_status(statuses: list[str], jobs: int | None, completed: bool, stopped: bool) -> str:
    """KILLED if the sweep or a job was interrupted; FINISHED if the sweep completed and every
    planned job FINISHED; else FAILED."""
    if stopped or "KILLED" in statuses:
        return "KILLED"
    all_finished = all(status == "FINISHED" for status in statuses)
    all_there = len(statuses) == jobs if jobs is not None else len(statuses) > 0
    return "FINISHED" if completed and all_finished and all_there else "FAILED"


def seed_groups(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame | None:
    """Per setting of the swept keys other than ``seed``: the finished children's count n,
    the headline's mean and standard deviation s over the seeds, and its 95% interval

        mean +- t_{0.975, n-1} s / sqrt(n)   (Student's t; NaN for a single seed).

    None unless the seed is swept beside another key: "is this difference real?"
    """
    import numpy as np
    from scipy import stats

    others = [key for key in keys if key != SEED_KEY]
    if SEED_KEY not in keys or not others:
        return None
    finished = table[(table["status"] == "FINISHED") & table["headline"].notna()]
    groups = finished.groupby(others, sort=True)["headline"].agg(["count", "mean", "std"])
    groups = groups.rename(columns={"count": "n"}).reset_index()
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.975, groups["n"] - 1) * groups["std"] / np.sqrt(groups["n"])
    return groups.assign(ci95_low=groups["mean"] - half, ci95_high=groups["mean"] + half)


def plot_headline_vs_swept(
    axes,
    table: pd.DataFrame,
    keys: list[str],
    best_run_id: str,
    higher_is_better: bool,
    metric: str | None = None,
    seeds: pd.DataFrame | None = None,
) -> None:
    """One panel per swept key: each finished child's headline (``metric``) against the key.

    On a numeric key a line joins the best headline at each value: what the key is worth
    with the other swept keys at their best. The best child is the star. With ``seeds``
    (``seed_groups``), each setting's mean over the seeds is drawn with its 95% interval.
    """
    finished = table[(table["status"] == "FINISHED") & table["headline"].notna()]
    best = finished[finished["run_id"] == best_run_id]
    name = metric or "headline"
    direction = "higher" if higher_is_better else "lower"
    headlines = finished["headline"]
    log_headline = headlines.min() > 0 and headlines.max() >= LOG_SCALE_SPAN * headlines.min()
    for ax, key in zip(axes, keys, strict=True):
        numeric = headline_panel(ax, finished, best, key, higher_is_better)
        if seeds is not None and key in seeds:
            x = seeds[key] if numeric else seeds[key].astype(str)
            spread = (seeds["mean"] - seeds["ci95_low"], seeds["ci95_high"] - seeds["mean"])
            ax.errorbar(x, seeds["mean"], yerr=spread, fmt="D", color="black", capsize=5,
                        label="mean over seeds, 95% CI")  # fmt: skip
        ax.set(xlabel=key, ylabel=f"{name} ({direction} is better)", title=f"{name} vs {key}")
        if log_headline:  # e.g. week 3's loss gaps, 1e-12 to 1e-3
            ax.set_yscale("log")
        ax.margins(x=0.1, y=0.15)  # the best child's star stays inside the axes
        ax.legend(loc="best", fontsize="small")


def headline_panel(ax, finished: pd.DataFrame, best: pd.DataFrame, key: str, higher_is_better):
    """The jobs, the best-at-each-value line (numeric keys) and the best child's star on
    ``ax``; returns whether ``key`` is numeric."""
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(finished[key])
    x = finished[key] if numeric else finished[key].astype(str)
    ax.scatter(x, finished["headline"], alpha=0.7, label="job")
    if numeric:
        by_value = finished.groupby(key)["headline"]
        envelope = by_value.max() if higher_is_better else by_value.min()
        ax.plot(envelope.index, envelope.to_numpy(), alpha=0.6, label=f"best at each {key}")
        positive = finished[key][finished[key] > 0]
        if len(positive) == len(finished) and positive.max() >= LOG_SCALE_SPAN * positive.min():
            ax.set_xscale("log")
    else:
        ax.tick_params(axis="x", labelrotation=30)  # names such as momentum, rmsprop
    best_x = best[key] if numeric else best[key].astype(str)
    ax.scatter(best_x, best["headline"], marker="*", s=250, color="C3", label="best child",
               clip_on=False, zorder=3)  # fmt: skip
    return numeric


def ray_init_args(init: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The Ray launcher's ``ray.init`` arguments, with the :data:`FORWARDED_ENV` variables set
    in ``environ`` added to ``runtime_env.env_vars`` (they win over the same names there).

    With an ``address`` (an existing cluster) ``object_store_memory`` is None unless given:
    the plugin's default size makes ``ray.init`` refuse to connect.
    """
    args = dict(init)
    runtime_env = dict(args.get("runtime_env") or {})
    forwarded = {name: environ[name] for name in FORWARDED_ENV if name in environ}
    runtime_env["env_vars"] = {**(runtime_env.get("env_vars") or {}), **forwarded}
    args["runtime_env"] = runtime_env
    if args.get("address") not in (None, "local"):
        args.setdefault("object_store_memory", None)
    return args


def forward_env_to_ray(config: DictConfig) -> None:
    """Rewrite ``hydra.launcher.ray.init`` with :func:`ray_init_args` if the launcher is
    Ray's; called before Hydra instantiates the launcher from ``config``."""
    launcher = config.hydra.launcher
    if launcher.get("_target_") != RAY_LAUNCHER:
        return
    init = OmegaConf.to_container(launcher.ray.init, resolve=True)
    with flag_override(config, ["readonly", "struct"], [False, False]):
        launcher.ray.init = ray_init_args(init, os.environ)


def value_probes(overrides: list[str]) -> dict[str, list[str]]:
    """One job's overrides per value of each swept key, the other keys at their first value:
    ``["a=1,2", "b=3"]`` -> ``{"a=1": ["a=1", "b=3"], "a=2": ["a=2", "b=3"]}``. Each value of
    the grid is composed once, in far fewer jobs than the grid has."""
    parsed = parse_overrides(overrides)
    prefixes = [o.get_key_element() + "=" for o in parsed]
    values = [
        list(o.sweep_string_iterator()) if o.is_sweep_override() else [o.get_value_element_as_str()]
        for o in parsed
    ]
    first = [prefix + options[0] for prefix, options in zip(prefixes, values, strict=True)]
    probes = {first[0]: first} if first else {}
    for i, options in enumerate(values):
        for value in options[1:]:
            probes[prefixes[i] + value] = [*first[:i], prefixes[i] + value, *first[i + 1 :]]
    return probes


def composition_reason(error: Exception) -> str:
    """Hydra's reason in one line: ``Invalid value 'bogus', expected one of [gd, ...]``."""
    cause = error.__cause__ or error
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    if lines and lines[0].startswith("In '") and len(lines) > 2:  # a missing group option
        options = [line for line in lines[2:] if " " not in line]
        return f"{lines[0]}; {lines[1].lower()[:-1]}: {', '.join(options)}"
    return lines[0] if lines else type(error).__name__


def check_every_value(config: DictConfig, overrides: list[str]) -> None:
    """Compose a job for each swept value before any run exists: a value outside its schema or
    config group (``optimizer.name=bogus``) stops the sweep at once, not after the jobs
    before it ran. Raises ``ValueError`` naming the value and Hydra's reason."""
    from hydra.core.global_hydra import GlobalHydra

    loader = GlobalHydra.instance().config_loader()
    for value, probe in value_probes(overrides).items():
        try:
            loader.load_sweep_config(config, probe)
        except Exception as error:
            raise ValueError(f"{value}: {composition_reason(error)}") from None


def describe_sweep(config: DictConfig) -> Sweep:
    """The sweep that ``config`` (the parent's, with its ``hydra`` node) is about to run."""
    hydra_cfg = config.hydra
    week = hydra_cfg.job.config_name
    tracking_uri = tracking.resolve_tracking_uri(config.tracking.uri)
    exit_if_unusable(tracking_uri)  # a store that is down or broken: one line, no parent
    params = hydra_cfg.sweeper.get("params")  # an experiment file's sweep
    params = OmegaConf.to_container(params, resolve=True) if params else {}
    overrides = sweep_overrides(list(hydra_cfg.overrides.task), params)
    choices = hydra_cfg.runtime.choices
    if choices.get("hydra/sweeper") == "basic":
        check_every_value(config, overrides)
    launcher = choices.get("hydra/launcher", "unknown")
    if "n_jobs" in hydra_cfg.launcher:
        launcher = f"{launcher} (n_jobs={hydra_cfg.launcher.n_jobs})"
    try:
        jobs = planned_jobs(overrides) if choices.get("hydra/sweeper") == "basic" else None
    except Exception:  # a sweep only its sweeper can expand (glob, an interval)
        jobs = None
    return Sweep(
        week=week,
        tracking_uri=tracking_uri,
        experiment_id=tracking.ensure_experiment(config.tracking.experiment or week, tracking_uri),
        overrides=overrides,
        keys=swept_keys(overrides),
        jobs=jobs,
        launcher=str(launcher),
        sweep_dir=Path(hydra_cfg.sweep.dir).resolve(),
    )


def open_parent(sweep: Sweep, resume: bool) -> str:
    """Create the parent run of ``sweep`` (RUNNING until :func:`close_parent`): its id."""
    from mlflow.tracking import MlflowClient

    tags = {
        "week": sweep.week,
        "sweep.overrides": " ".join(sweep.overrides) or "(none)",
        "sweep.swept_keys": ", ".join(sweep.keys) or "(none)",
        JOBS_TAG: str(sweep.jobs if sweep.jobs is not None else "unknown"),
        "sweep.launcher": sweep.launcher,
        "sweep.resume": str(resume).lower(),
        "hydra.sweep_dir": str(sweep.sweep_dir),
        **tracking.git_state(),
        **tracking.library_versions(),
        **process_tags(),  # a SIGKILL'd sweep: `make runs` tells its parent is stale
    }
    tags = {key: value[: tracking.MAX_PARAM_LENGTH] for key, value in tags.items()}
    name = tracking.default_run_name(sweep.overrides)
    run = MlflowClient(sweep.tracking_uri).create_run(
        sweep.experiment_id, run_name=f"sweep: {name or '(defaults)'}", tags=tags
    )
    log.info("MLflow parent run %s for a sweep of %s jobs", run.info.run_id, sweep.jobs or "?")
    return run.info.run_id


def close_children_left_running(client, children: list[Run]) -> None:
    """A job whose process died (a killed worker) leaves its run RUNNING: mark it KILLED."""
    for run in children:
        if run.info.status == "RUNNING":
            client.set_tag(run.info.run_id, "error", "its job ended before it closed the run")
            client.set_terminated(run.info.run_id, status="KILLED")


def find_children(client, sweep: Sweep, parent_run_id: str) -> list[Run]:
    """The runs whose parent tag names ``parent_run_id``, in any experiment: a job logs to
    its week's experiment, which is the parent's only if the primary config is named as the
    week (``config_name="week2"`` for ``run_tracked(cfg, week="week2", ...)``)."""
    experiments = {sweep.experiment_id, *(e.experiment_id for e in client.search_experiments())}
    return client.search_runs(
        sorted(experiments),
        filter_string=f"tags.`{PARENT_TAG}` = '{parent_run_id}'",
        max_results=MAX_CHILDREN,
    )


def children_week(sweep: Sweep, children: list[Run]) -> Sweep:
    """``sweep`` as of the week its children logged, if they agree (the parent only knew the
    name of the primary config)."""
    weeks = {run.data.tags.get("week") for run in children} - {None}
    return replace(sweep, week=weeks.pop()) if len(weeks) == 1 else sweep


def failure_message(table: pd.DataFrame, jobs: int | None) -> str:
    """``2 of 3 jobs did not finish: optimizer.name=bogus FAILED (ValueError: ...); ...``."""
    failed = table[table["status"] != "FINISHED"]
    parts = [
        f"{row.run_name} {row.status}" + (f" ({row.error})" if row.error else "")
        for row in failed.itertuples()
    ]
    missing = max(jobs - len(table), 0) if jobs is not None else 0
    if missing:
        parts.append(f"{missing} never started")
    planned = jobs if jobs is not None else len(table)
    return f"{len(failed) + missing} of {planned} jobs did not finish: " + "; ".join(parts)


def log_job_table(table: pd.DataFrame) -> None:
    """The children's table (JSON for the UI, CSV at full precision) and the job counts."""
    import mlflow

    counts = table["status"].value_counts()
    mlflow.log_table(table, SUMMARY_TABLE)
    mlflow.log_text(table.to_csv(index=False), SUMMARY_CSV)
    mlflow.log_metrics(
        {
            "jobs": len(table),
            "jobs_finished": int(counts.get("FINISHED", 0)),
            "jobs_failed": int(counts.get("FAILED", 0)),
            "jobs_reused": int((table["reused_run_id"] != "").sum()),
        }
    )


def log_summary(
    sweep: Sweep, table: pd.DataFrame, status: str, higher_is_better: bool, metric=None
) -> None:
    """The children's table, counts, best child, seed groups and figure, into the active
    (parent) run; ``metric``: what the children's headline is."""
    import mlflow

    log_job_table(table)
    note = [f"Sweep of {sweep.week}: `{' '.join(sweep.overrides)}`, {len(table)} jobs, {status}."]
    failed = table.loc[table["status"] != "FINISHED", "run_name"]
    if not failed.empty:
        mlflow.set_tag("failed_children", ", ".join(failed.astype(str)))
    if status != "FINISHED":
        message = failure_message(table, sweep.jobs)
        mlflow.set_tag("error", message[: tracking.MAX_PARAM_LENGTH])
        note.append(message)
    best = best_child(table, higher_is_better)
    if best is not None:
        mlflow.log_metric("best_headline", float(best["headline"]))
        mlflow.set_tags(
            {
                "best_run_id": best["reused_run_id"] or best["run_id"],  # the run with the files
                "best_run_name": str(best["run_name"]),
            }
        )
        note.append(f"Best child: `{best['run_name']}`, headline {best['headline']:.6g}.")
    note += log_seeds_and_figure(sweep.keys, table, best, higher_is_better, metric)
    mlflow.set_tag(NOTE_TAG, "\n\n".join(note))
    multirun_yaml = sweep.sweep_dir / "multirun.yaml"
    if multirun_yaml.is_file():
        mlflow.log_artifact(str(multirun_yaml), artifact_path="hydra")


def log_seeds_and_figure(keys, table, best, higher_is_better: bool, metric) -> list[str]:
    """The seed groups (``seed_groups``) as a table, and the summary figure, into the active
    run; returns the lines they add to the sweep's description."""
    import mlflow

    from common.plotting import figure

    seeds, note = seed_groups(table, keys), []
    if seeds is not None:
        mlflow.log_table(seeds, SEEDS_TABLE)
        note.append(seed_note(seeds, [key for key in keys if key != SEED_KEY]))
    if best is not None and keys:
        shown = [key for key in keys if seeds is None or key != SEED_KEY]
        ncols = len(shown)
        with figure(SUMMARY_FIGURE, ncols=ncols, figsize=(5 * ncols, 4), squeeze=False) as (_, ax):
            plot_headline_vs_swept(
                ax[0], table, shown, best["run_id"], higher_is_better, metric, seeds
            )
    return note


def seed_note(seeds: pd.DataFrame, others: list[str]) -> str:
    """One line per setting for the parent's note: mean and 95% interval over the seeds."""
    lines = ["Over the seeds (mean, 95% interval):"]
    for row in seeds.to_dict("records"):
        setting = ", ".join(f"{key}={row[key]}" for key in others)
        interval = f"[{row['ci95_low']:.6g}, {row['ci95_high']:.6g}]"
        lines.append(f"- {setting}: {row['mean']:.6g} {interval}, n={row['n']}")
    return "\n".join(lines)


def close_parent(sweep: Sweep, parent_run_id: str, completed: bool, stopped: bool) -> str:
    """Summarize the children in the parent, then end it with the sweep's status (returned).

    The parent is ended whatever the summary does: no sweep stays RUNNING.
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    client = MlflowClient(sweep.tracking_uri)
    status = "FAILED"
    mlflow.set_tracking_uri(sweep.tracking_uri)
    mlflow.start_run(run_id=parent_run_id)
    try:
        close_children_left_running(client, find_children(client, sweep, parent_run_id))
        children = find_children(client, sweep, parent_run_id)
        sweep = children_week(sweep, children)
        mlflow.set_tag("week", sweep.week)  # make runs lists the parent with its children
        table = summary_table(children, sweep.keys)
        higher_is_better = tracking.ranks_higher(run.data.tags for run in children)
        metric = next(
            (r.data.tags[tracking.HEADLINE_METRIC_TAG] for r in children
             if tracking.HEADLINE_METRIC_TAG in r.data.tags), None,
        )  # fmt: skip
        status = sweep_status(table["status"].tolist(), sweep.jobs, completed, stopped)
        log_summary(sweep, table, status, higher_is_better, metric)
    except Exception as error:  # the summary is a report: it never keeps the parent open
        log.exception("summary of sweep %s failed", parent_run_id)
        mlflow.set_tag("summary_error", f"{type(error).__name__}: {error}"[:500])
        status = "FAILED"
    finally:
        mlflow.end_run(status=status)
    log.info("sweep %s: parent run %s %s", " ".join(sweep.overrides), parent_run_id, status)
    return status


WATCHDOG = threading.Event()  # set once this worker process watches its sweep's process
WATCHED: dict[str, Any] = {}  # the sweep and parent run id of the job this worker runs


def stop_orphaned_job(sweep: Sweep, parent_run_id: str, owner_pid: int) -> None:
    """The sweep's process ``owner_pid`` is gone: mark this process's RUNNING child runs of
    ``parent_run_id`` KILLED, with the reason as their ``error`` tag, and end this process.

    A store that does not answer leaves them RUNNING; ``make runs`` shows them stale then.
    """
    from mlflow.tracking import MlflowClient

    why = f"its sweep's process {owner_pid} is gone (killed?): the job was stopped"
    log.error("%s; worker process %d exits", why, os.getpid())
    with suppress(Exception):
        client = MlflowClient(sweep.tracking_uri)
        for run in find_children(client, sweep, parent_run_id):
            if run.info.status == "RUNNING" and run.data.tags.get(PID_TAG) == str(os.getpid()):
                client.set_tag(run.info.run_id, "error", why)
                client.set_terminated(run.info.run_id, status="KILLED")
    logging.shutdown()
    os._exit(tracking.EXIT_TERMINATED)


def watch_sweep_process(owner_pid: int) -> None:
    """Wait while this worker's parent is the sweep's process, then stop the job."""
    while os.getppid() == owner_pid:
        time.sleep(ORPHAN_POLL_S)
    stop_orphaned_job(WATCHED["sweep"], WATCHED["parent_run_id"], owner_pid)


def die_with_sweep(sweep: Sweep, parent_run_id: str, owner: Mapping[str, str]) -> None:
    """In a job's process: make it end with the sweep's process ``owner`` (its owner tags).

    The sweep's own process (the basic launcher) is left alone, and so is a process that is
    not its child while the sweep lives (a Ray worker). A worker whose parent is the sweep
    is watched by a thread (once per process); one whose sweep is already gone (a job left
    queued when the sweep was killed) stops before the job opens a run.
    """
    owner_pid = int(owner[PID_TAG])
    if os.getpid() == owner_pid:
        return
    WATCHED.update(sweep=sweep, parent_run_id=parent_run_id)
    if owner_alive(owner) is False:  # gone before this job started
        stop_orphaned_job(sweep, parent_run_id, owner_pid)
    if os.getppid() == owner_pid and not WATCHDOG.is_set():
        WATCHDOG.set()
        watchdog = threading.Thread(
            target=watch_sweep_process, args=(owner_pid,), name="die-with-sweep", daemon=True
        )
        watchdog.start()


class MlflowSweep(Callback):
    """Hydra callback: a multirun's jobs become child runs of one parent run (see module)."""

    def __init__(self) -> None:
        self.sweep: Sweep | None = None
        self.parent_run_id: str | None = None
        self.owner: dict[str, str] = {}  # the sweep's process (common.liveness tags)
        self.stopped = False  # SIGINT or SIGTERM reached the parent process

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Open the sweep's parent run before the first job starts."""
        try:
            self.sweep = describe_sweep(config)
            self.parent_run_id = open_parent(self.sweep, resume=bool(config.tracking.resume))
        except Exception as error:  # Hydra would only warn, and the jobs would run unparented
            log.error("cannot start the sweep's parent run: %s: %s", type(error).__name__, error)
            raise SystemExit(tracking.EXIT_FAILED) from error
        os.environ[tracking.PARENT_RUN_ENV] = self.parent_run_id  # before any worker starts
        self.owner = process_tags()  # copied to the jobs with this callback
        forward_env_to_ray(config)
        atexit.register(self.close, completed=False)  # the sweep aborted: still close
        self.catch_stop_signals()

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        """In the job's process, before its run opens: end it if the sweep's process dies."""
        if self.sweep is not None and self.parent_run_id and self.owner:
            die_with_sweep(self.sweep, self.parent_run_id, self.owner)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Every job has run: summarize them in the parent and close it."""
        self.close(completed=True)

    def close(self, completed: bool) -> None:
        """End the parent run once, from whichever of on_multirun_end and exit comes first."""
        if self.sweep is None or self.parent_run_id is None:
            return
        parent_run_id, self.parent_run_id = self.parent_run_id, None
        os.environ.pop(tracking.PARENT_RUN_ENV, None)
        close_parent(self.sweep, parent_run_id, completed, self.stopped)

    def catch_stop_signals(self) -> None:
        """Remember Ctrl-C and SIGTERM (the default SIGTERM handler would skip the exit hooks
        and leave the parent RUNNING), then stop as they would: exit status 130 or 143."""

        def stop(signum: int, frame: object) -> None:
            self.stopped = True
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise SystemExit(tracking.EXIT_TERMINATED)

        try:
            signal.signal(signal.SIGINT, stop)
            signal.signal(signal.SIGTERM, stop)
        except ValueError:  # not the main thread: leave signals alone
            pass
