"""One MLflow run per pipeline execution, closed whatever happens.

Every week's entry point calls :func:`run_tracked`. It resolves one store for the
whole repository, opens a run in the week's experiment, logs the resolved config
as params and the provenance as tags, runs the pipeline, and ends the run:

- FINISHED when the pipeline returns;
- FAILED on an exception (the message as the ``error`` tag, ``traceback.txt`` as
  an artifact, one line on stderr, exit status 1);
- KILLED on Ctrl-C or SIGTERM (exit status 130 or 143).

In a sweep (``-m``) the run is a child of the sweep's parent run (:mod:`common.sweep`),
and a failed job raises :class:`JobFailed` rather than exiting, so the other jobs run.
Every run carries the tags ``config_hash`` and ``threads`` (the limit of its BLAS and
OpenMP thread pools, :mod:`common.threads`); ``tracking.resume=true`` reuses a FINISHED run
with the same hash instead of running the pipeline again.

MLflow is imported inside the functions: ``import mlflow`` costs 1-2 s, and a
config error should answer at once.
"""

from __future__ import annotations

import _thread
import errno
import hashlib
import json
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from hydra.errors import CompactHydraException
from omegaconf import DictConfig, OmegaConf

from common.config import undeclared_key
from common.liveness import process_tags
from common.paths import REPO_ROOT
from common.steps import Step, recording
from common.store import exit_if_unusable, sqlite_path

log = logging.getLogger(__name__)

DEFAULT_DB = REPO_ROOT / "mlflow.db"
ARTIFACTS_DIRNAME = "mlartifacts"
TRACKED_LIBRARIES = ("numpy", "pandas", "scikit-learn", "torch", "mlflow", "hydra-core")
MAX_PARAM_LENGTH = 6000  # MLflow truncates longer values
RUN_NAME_LENGTH = 250
PARAMS_PER_BATCH = 100  # MLflow's limit for one log_batch call
EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TERMINATED = 1, 130, 143
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C and kill: the run ends KILLED
RERAISE_S = 0.5  # a stop swallowed where it landed is raised again after this long
HEADLINE = "headline"  # the metric holding what a week's pipeline returns
NOT_FINITE_TAG = "headline.not_finite"  # set when the headline was inf or NaN (logged NaN)
HEADLINE_METRIC_TAG = "headline.metric"  # which metric the headline repeats
HEADLINE_DIRECTION_TAG = "headline.higher_is_better"  # "true" or "false": how runs rank
PARENT_RUN_ENV = "MATH4ML_PARENT_RUN_ID"  # set by common.sweep: the parent run of a sweep's jobs
PARENT_TAG = "mlflow.parentRunId"  # MLflow's tag of a child run: its sweep's parent run
CONFIG_HASH_TAG = "config_hash"  # equal settings (tracking.* aside), equal tag
REUSED_TAG = "reused_run_id"  # tracking.resume=true: the FINISHED run a job took its result from
JOB_TAG = "sweep.job"  # the job number within a sweep
THREADS_TAG = "threads"  # threads the run's BLAS and OpenMP pools may use (common.threads)


@dataclass(frozen=True)
class Headline:
    """What a week's pipeline returns, declared once in its entry point: which metric it
    is and which way is better. Runs carry it as tags, so ranking (``make runs``, a
    sweep's best child) needs no list of weeks."""

    metric: str
    higher_is_better: bool = True

    def tags(self) -> dict[str, str]:
        """The run tags that say which metric the headline is and which way is better."""
        return {
            HEADLINE_METRIC_TAG: self.metric,
            HEADLINE_DIRECTION_TAG: str(self.higher_is_better).lower(),
        }


def ranks_higher(tag_sets: Iterable[Mapping[str, str]]) -> bool:
    """Whether a higher headline is better, as the first run that says so declares it
    (runs logged before the tag existed, or none: higher)."""
    for tags in tag_sets:
        if HEADLINE_DIRECTION_TAG in tags:
            return tags[HEADLINE_DIRECTION_TAG] == "true"
    return True


class Terminated(BaseException):
    """Raised in the main thread when the process receives SIGTERM."""


class JobFailed(CompactHydraException):
    """A sweep job's pipeline failed and its run is marked FAILED.

    Raised instead of exiting, so that the sweep's other jobs still run; Hydra then reports
    it in one line and exits with status 1.
    """


def resolve_tracking_uri(configured: str | None = None) -> str:
    """The store every run uses: ``tracking.uri``, else ``$MLFLOW_TRACKING_URI``,
    else an absolute ``sqlite:///`` database at the repository root."""
    return configured or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{DEFAULT_DB}"


def artifact_root(tracking_uri: str) -> Path | None:
    """Artifacts of a local SQLite store live beside its database, in ``mlartifacts/``.

    A server (``http://...``) manages its own artifact store: ``None``.
    """
    database = sqlite_path(tracking_uri)
    return None if database is None else database.resolve().parent / ARTIFACTS_DIRNAME


def ensure_experiment(name: str, tracking_uri: str) -> str:
    """Id of the experiment ``name``, created with an absolute artifact location."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    root = artifact_root(tracking_uri)
    location = (root / name).as_uri() if root else None
    return client.create_experiment(name, artifact_location=location)


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"a": {"b": [1, 2]}}`` -> ``{"a.b.0": "1", "a.b.1": "2"}`` (MLflow params)."""
    flat: dict[str, str] = {}
    items = config.items() if isinstance(config, Mapping) else enumerate(config)
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, Mapping | list | tuple) and len(value) > 0:
            flat.update(flatten(value, prefix=f"{name}."))
        else:
            flat[name] = str(value)[:MAX_PARAM_LENGTH]
    return flat


def git_state() -> dict[str, str]:
    """The commit the code ran at and whether the work tree had uncommitted changes."""

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        )
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no")) if commit else False
    return {"git.commit": commit or "unknown", "git.dirty": str(dirty).lower()}


def library_versions() -> dict[str, str]:
    """``version.<package>`` for the libraries a result depends on."""
    versions = {}
    for package in TRACKED_LIBRARIES:
        try:
            versions[f"version.{package}"] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[f"version.{package}"] = "not installed"
    versions["version.python"] = sys.version.split()[0]
    return versions


def hydra_context() -> tuple[list[str], Path | None]:
    """The command-line overrides and the output directory of the running Hydra job."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():  # called outside @hydra.main (a notebook, a test)
        return [], None
    hydra_cfg = HydraConfig.get()
    return list(hydra_cfg.overrides.task), Path(hydra_cfg.runtime.output_dir)


def default_run_name(overrides: list[str]) -> str | None:
    """``low_rank.rank=80 seed=1`` from the overrides that change what runs; None: MLflow picks."""
    settings = [o for o in overrides if not o.lstrip("+~").startswith(("tracking.", "hydra."))]
    return " ".join(settings)[:RUN_NAME_LENGTH] or None


def defaults_name(cfg: DictConfig, keys: Iterable[str]) -> str | None:
    """``defaults: model.name=bernoulli model.alpha=0.01``: a run of the defaults named after
    what it is (the ``keys`` a week names), not MLflow's random words; None without keys."""
    values = {key: OmegaConf.select(cfg, key) for key in keys}
    settings = [  # as one would type it as an override: lists as [a,b]
        f"{key}=[{','.join(map(str, v))}]" if OmegaConf.is_list(v) else f"{key}={v}"
        for key, v in values.items()
    ]
    return f"defaults: {' '.join(settings)}"[:RUN_NAME_LENGTH] if settings else None


def config_hash(cfg: DictConfig) -> str:
    """sha256 (16 hex digits) of the resolved config without ``tracking``: what a run computes."""
    settings = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    settings.pop("tracking", None)
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def sweep_job() -> tuple[str | None, int | None]:
    """(parent run id, job number) of a multirun job; (None, None) outside a sweep."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None, None
    return os.environ.get(PARENT_RUN_ENV), HydraConfig.get().job.num


def finished_run_with(tracking_uri: str, experiment_id: str, digest: str):
    """The newest FINISHED run of the experiment with config hash ``digest`` and a headline."""
    from mlflow.tracking import MlflowClient

    runs = MlflowClient(tracking_uri).search_runs(
        [experiment_id],
        filter_string=f"tags.{CONFIG_HASH_TAG} = '{digest}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
    )
    return next((run for run in runs if HEADLINE in run.data.metrics), None)


class StopSignals:
    """SIGTERM raises :class:`Terminated` and SIGINT ``KeyboardInterrupt``, from
    :meth:`release` on: a stop that arrives before is held and raised there.

    A run is opened before ``release()`` and released inside the ``try`` that marks it
    KILLED, so a stop that arrives while MLflow creates the run is raised where it is
    handled, and no run is left RUNNING. An exception raised by a signal handler can land
    in a place that swallows it (a weakref callback, a ``__del__``), and the run would go on:
    so until :meth:`handled` is called, the stop is raised again every ``RERAISE_S``.
    """

    def __init__(self) -> None:
        self.held: list[int] = []  # signals that came before release()
        self.released = False
        self.stopping: int | None = None  # the signal being raised until handled
        self.done = False

    def handler(self, signum: int, frame: object) -> None:
        """The signal handler: hold a stop until the run exists, else raise it now."""
        if self.done:  # the run is already stopping
            return
        if not self.released:
            self.held.append(signum)
            return
        self.stop(signum)

    def release(self) -> None:
        """The run exists: raise a stop that came while it opened."""
        self.released = True
        if self.held:
            self.stop(self.held.pop())

    def stop(self, signum: int) -> None:
        """Raise the stop for ``signum``, and again every RERAISE_S until handled."""
        if self.stopping is None:
            self.stopping = signum
            threading.Thread(target=self.reraise, daemon=True).start()
        if signum == signal.SIGTERM:
            raise Terminated(f"terminated by signal {signum}")
        raise KeyboardInterrupt

    def reraise(self) -> None:
        """Raise the stop again every ``RERAISE_S`` until the run is marked."""
        while not self.done:
            time.sleep(RERAISE_S)
            if not self.done:
                _thread.interrupt_main(self.stopping)  # the handler runs again in main

    def handled(self) -> None:
        """The stop reached the code that marks the run: raise it no more."""
        self.done = True


@contextmanager
def stop_signals() -> Iterator[StopSignals]:
    """:class:`StopSignals` installed for SIGINT and SIGTERM while the block runs. (Python
    runs signal handlers in the main thread; outside it nothing is changed.)"""
    stops = StopSignals()
    if threading.current_thread() is not threading.main_thread():
        stops.released = True
        yield stops
        return
    previous = {signum: signal.signal(signum, stops.handler) for signum in STOP_SIGNALS}
    try:
        yield stops
    finally:
        stops.handled()
        for signum, old in previous.items():
            signal.signal(signum, old)


def log_run_files(output_dir: Path | None) -> None:
    """Hydra's ``.hydra/`` (config, overrides) and the job log, as run artifacts."""
    import mlflow

    if output_dir is None:
        return
    hydra_dir = output_dir / ".hydra"
    if hydra_dir.is_dir():
        mlflow.log_artifacts(str(hydra_dir), artifact_path="hydra")
    for job_log in output_dir.glob("*.log"):
        mlflow.log_artifact(str(job_log))


DISK_FULL = ("database or disk is full", "No space left on device")  # SQLite's, the OS's


def one_line(error: BaseException) -> str:
    """``ValueError: alpha must be >= 0, got -1.0``: the first line of an error; a full disk
    anywhere in its chain (SQLAlchemy wraps SQLite's error in two more) is said as such."""
    if is_disk_full(error):
        return (
            "OSError: disk full: the run store or an artifact could not be written; free space "
            "on that disk (df -h) or point MLFLOW_TRACKING_URI at a store on another disk"
        )
    return f"{type(error).__name__}: {error}".splitlines()[0]


def is_disk_full(error: BaseException | None) -> bool:
    """Whether ``error`` or one it was raised from or during says the disk is full."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if getattr(error, "errno", None) == errno.ENOSPC or any(s in str(error) for s in DISK_FULL):
            return True
        error = error.__cause__ or error.__context__ or getattr(error, "orig", None)
    return False


def close_run(
    run_id: str,
    status: str,
    output_dir: Path | None,
    failure: tuple[str, str] | None,
    steps: list[Step],
) -> None:
    """Record the outcome (``error`` tag and ``traceback.txt`` on failure), the timed
    steps (``steps.json``), Hydra's files, and end the active run with ``status``.

    A store that stops answering here (a tracking server gone mid-run) is reported in one
    line, not raised: the run then stays RUNNING on that store, and the line says how to
    close it once the store is back.
    """
    import mlflow

    try:
        if failure is not None:
            message, trace = failure
            mlflow.set_tag("error", message[:MAX_PARAM_LENGTH])
            mlflow.log_text(trace, "traceback.txt")
        if steps:
            mlflow.log_dict({"steps": [asdict(s) for s in steps]}, "steps.json")
        log_run_files(output_dir)
        mlflow.end_run(status=status)
    except Exception as lost:
        log.error(
            "could not record run %s as %s: the tracking store failed (%s); it stays RUNNING "
            "there: once the store answers, run "
            "`MlflowClient(uri).set_terminated('%s', '%s')`",
            run_id, status, one_line(lost), run_id, status,
        )  # fmt: skip
        if mlflow.active_run() is not None:
            with suppress(Exception):  # end_run pops the run first, then asks the store
                mlflow.end_run(status=status)


def print_summary(
    tracking_uri: str, run_id: str, seconds: float, described: Mapping[str, str], steps
) -> None:
    """Print the end-of-run summary; a store that stops answering only costs the summary."""
    from mlflow.tracking import MlflowClient

    from common.summary import summary_lines

    try:
        run = MlflowClient(tracking_uri).get_run(run_id)
    except Exception as lost:
        log.warning("no summary: the tracking store did not answer (%s)", one_line(lost))
        return
    print("\n".join(summary_lines(run, tracking_uri, seconds, described, steps)), flush=True)


def implementation(cfg: DictConfig) -> str:
    """``reference`` or ``mine`` (``impl``, an enum in the weeks' schemas; absent: reference)."""
    impl = OmegaConf.select(cfg, "impl", default="reference")
    return getattr(impl, "value", str(impl))


@contextmanager
def chosen_implementation(impl: str, pipeline: Callable) -> Iterator[None]:
    """``impl=mine``: the pipeline calls the learner's written exercises (tagged on the run)."""
    import mlflow

    from common.exercises import learner_choice, using

    if impl != "mine":
        mlflow.set_tag("impl", impl)
        yield
        return
    package = pipeline.__module__.rsplit(".", 1)[0]
    choice = learner_choice(package)
    names = sorted(key.removeprefix(f"{package}.") for key in choice)
    mlflow.set_tags({"impl": "mine", "mine.functions": ", ".join(names)[:MAX_PARAM_LENGTH]})
    log.info("impl=mine: your %s", ", ".join(names))
    with using(choice):
        yield


def open_run(experiment_id: str, run_name: str | None, tags: dict, tracking_uri: str):
    """``mlflow.start_run``; a store that cannot create it (a full disk) exits 1 in one line:
    no run exists then, so none is left RUNNING."""
    import mlflow

    try:
        return mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags)
    except Exception as error:
        print(f"error: could not open a run in {tracking_uri}: {one_line(error)}", file=sys.stderr)
        sys.exit(EXIT_FAILED)


def exit_if_undeclared_key(cfg: DictConfig, week: str) -> None:
    """Exit 1 with one line, before any run exists, if ``cfg`` holds a key the week's schema
    does not declare: a ``+key=value`` typo would otherwise run, logged and ignored."""
    key = undeclared_key(cfg)
    if key is not None:
        print(
            f"error: {key} is not a setting of {week} (added with +?): check its spelling;"
            f" `make {week} ARGS=--help` lists every key",
            file=sys.stderr,
        )
        sys.exit(EXIT_FAILED)


def run_tracked(
    cfg: DictConfig,
    week: str,
    pipeline: Callable[[DictConfig], float],
    headline: Headline = Headline(HEADLINE),
    summary: Mapping[str, str] | None = None,
    name_keys: Iterable[str] = (),
) -> float:
    """Run ``pipeline(cfg)`` inside one MLflow run of the experiment ``week``.

    Returns the pipeline's headline metric (Hydra sweepers read it), also logged as the
    metric ``headline`` and described by ``headline`` (the metric it repeats and which way
    is better, as the run's tags). On failure
    the process exits with a non-zero status after the run is marked; a sweep's job raises
    :class:`JobFailed` instead, so that the other jobs still run. In a sweep the run is a
    child of the sweep's parent run (:mod:`common.sweep`). With ``tracking.resume=true`` a
    config that already has a FINISHED run (same :func:`config_hash`) is not run again: the
    new run only points to it (tag ``reused_run_id``) and repeats its headline.

    The pipeline's named steps (:mod:`common.steps`) are logged as ``steps.json``; a
    FINISHED run ends with a short summary (:mod:`common.summary`): the metrics named in
    ``summary`` (name -> what it is) as logged, the slowest steps, where the files are and
    the URL of the run in the UI. A run of the defaults is named after its ``name_keys``.
    """
    plan = plan_run(cfg, week, headline, name_keys)
    run_id, outcome = run_in_mlflow(plan, cfg, pipeline, week)
    if outcome.status == "FINISHED" and plan.reused is None:
        seconds = time.perf_counter() - outcome.started
        print_summary(plan.tracking_uri, run_id, seconds, summary or {}, outcome.steps)
    return outcome.result_or_exit(week, plan.job, run_id)


@dataclass
class RunPlan:
    """A run before it opens: its store and experiment, name and tags, its Hydra output folder
    and sweep job, and the FINISHED run of the same config it reuses (``tracking.resume``)."""

    tracking_uri: str
    experiment_id: str
    run_name: str | None
    tags: dict[str, str]
    output_dir: Path | None
    job: int | None
    reused: Any = None  # an mlflow Run, or None: the pipeline runs


def plan_run(cfg: DictConfig, week: str, headline: Headline, name_keys: Iterable[str]) -> RunPlan:
    """Check the config and the store (one line and exit 1 before any run exists), then
    name and tag the run; with ``tracking.resume``, find the FINISHED run it repeats."""
    import mlflow

    exit_if_undeclared_key(cfg, week)
    configure_client()
    tracking_uri = resolve_tracking_uri(cfg.tracking.uri)
    exit_if_unusable(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    experiment_id = ensure_experiment(cfg.tracking.experiment or week, tracking_uri)
    overrides, output_dir = hydra_context()
    parent_run_id, job = sweep_job()
    tags = {**run_tags(cfg, week, overrides, output_dir, parent_run_id, job), **headline.tags()}
    run_name = cfg.tracking.run_name or default_run_name(overrides) or defaults_name(cfg, name_keys)
    plan = RunPlan(tracking_uri, experiment_id, run_name, tags, output_dir, job)
    if cfg.tracking.resume:
        plan.reused = finished_run_with(tracking_uri, experiment_id, tags[CONFIG_HASH_TAG])
    if plan.reused is not None:
        tags[REUSED_TAG] = plan.reused.data.tags.get(REUSED_TAG, plan.reused.info.run_id)
        plan.run_name = f"{run_name or week} (reused)"
    return plan


def run_in_mlflow(plan: RunPlan, cfg: DictConfig, pipeline, week: str) -> tuple[str, Outcome]:
    """Open the run, log the params, run the pipeline (or repeat the reused run's headline)
    and close the run with what happened: (run id, outcome). A stop signal that comes while
    the run opens is held until the run exists, so no run is left RUNNING."""
    outcome = Outcome()
    with stop_signals() as stops:
        run = open_run(plan.experiment_id, plan.run_name, plan.tags, plan.tracking_uri)
        run_id = run.info.run_id
        try:
            stops.release()  # a stop that came while the run opened is raised here, in the try
            log.info("MLflow run %s in %s (experiment %s)", run_id, plan.tracking_uri, week)
            log_params(cfg)
            reused = plan.reused
            outcome.result = reuse(reused) if reused else run_pipeline(cfg, pipeline, outcome)
        except (KeyboardInterrupt, Terminated) as stop:
            stops.handled()
            outcome.stopped(stop, week, run_id)
        except Exception as error:
            outcome.failed(error, week, run_id)
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
        finally:
            close_run(run_id, outcome.status, plan.output_dir, outcome.failure, outcome.steps)
    return run_id, outcome


def configure_client() -> None:
    """MLflow client settings for a run: no progress bars, and a lost server found fast."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # readable logs
    # A server lost mid-run: 2 retries (about 5 s), not MLflow's 7 (minutes).
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")  # s per request, not 120
    # A store error is logged there with a traceback (about 90 lines for a full disk), then
    # raised: the run reports it in one line (one_line) and keeps the traceback as a file.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)


def run_tags(
    cfg: DictConfig,
    week: str,
    overrides: list[str],
    output_dir: Path | None,
    parent_run_id: str | None,
    job: int | None,
) -> dict[str, str]:
    """What a run is and where it comes from: week, overrides, config hash, sweep, git,
    library versions, and the process that owns it (:mod:`common.liveness`)."""
    return {
        "week": week,
        "overrides": " ".join(overrides) or "(defaults)",
        "hydra.output_dir": str(output_dir or ""),
        CONFIG_HASH_TAG: config_hash(cfg),
        **({JOB_TAG: str(job)} if job is not None else {}),
        **({"mlflow.parentRunId": parent_run_id} if parent_run_id else {}),
        **git_state(),
        **library_versions(),
        **process_tags(),
    }


def log_params(cfg: DictConfig) -> None:
    """The resolved config, flattened, as params (in batches of MLflow's limit)."""
    import mlflow

    items = list(flatten(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)).items())
    for start in range(0, len(items), PARAMS_PER_BATCH):
        mlflow.log_params(dict(items[start : start + PARAMS_PER_BATCH]))


def reuse(earlier) -> float:
    """resume: the headline of the FINISHED run with the same settings, logged again."""
    import mlflow

    result = earlier.data.metrics[HEADLINE]
    mlflow.log_metric(HEADLINE, result)
    log.info("resume: same config as run %s: skipped", earlier.info.run_id)
    return result


def run_pipeline(cfg: DictConfig, pipeline: Callable, outcome: Outcome) -> float:
    """The pipeline under the run's thread limit, seed, implementation and figure switch
    (with more than one thread, figures render in a second process);
    its named steps go to ``outcome.steps``; its result is logged as the headline."""
    import mlflow

    from common.plotting import figures_logged, figures_rendered_aside
    from common.seeding import seed_everything
    from common.threads import limited_threads, thread_limit

    limit = thread_limit()  # a bad $MATH4ML_THREADS fails the run here
    with (
        recording(outcome.steps),
        figures_logged(OmegaConf.select(cfg, "figures", default=True)),
        limited_threads(limit) as threads,
        figures_rendered_aside(limit > 1),  # a second process lays out and renders them
        chosen_implementation(implementation(cfg), pipeline),
    ):
        mlflow.set_tag(THREADS_TAG, str(threads))
        seed_everything(cfg.seed)  # after start_run: MLflow names runs with `random`
        return log_headline(pipeline(cfg))


def log_headline(result: float) -> float:
    """Log the pipeline's result as the metric ``headline``; returns what was logged.

    A result that is not a finite number (the infinite PSNR of a flat image, a diverged
    loss) means nothing as a rank: MLflow would store inf as 1.8e308 and rank it first. It
    is logged as NaN, with the tag ``headline.not_finite`` and a warning: never ranked.
    """
    import mlflow

    if not math.isfinite(result):
        why = f"the pipeline's headline was {result!r}, not a finite number: logged as NaN"
        mlflow.set_tag(NOT_FINITE_TAG, why)
        log.warning("%s; this run is not ranked", why)
        result = math.nan
    mlflow.log_metric(HEADLINE, result)
    return result


@dataclass
class Outcome:
    """How a run ended: its status, the exit code it asks for, its result or failure."""

    status: str = "FINISHED"
    exit_code: int = 0
    result: float = float("nan")
    message: str = ""
    failure: tuple[str, str] | None = None  # (one line, traceback) of a FAILED run
    steps: list[Step] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def stopped(self, stop: BaseException, week: str, run_id: str) -> None:
        """Ctrl-C (exit 130) or SIGTERM (exit 143): KILLED."""
        self.status = "KILLED"
        self.exit_code = EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED
        log.error("%s stopped: run %s marked KILLED", week, run_id)

    def failed(self, error: Exception, week: str, run_id: str) -> None:
        """An exception in the pipeline: FAILED, its first line on stderr, exit 1."""
        self.status, self.exit_code = "FAILED", EXIT_FAILED
        self.message = one_line(error)
        log.error("%s failed: %s (run %s marked FAILED)", week, self.message, run_id)
        self.failure = (self.message, traceback.format_exc())

    def result_or_exit(self, week: str, job: int | None, run_id: str) -> float:
        """The result; else exit with the code, or JobFailed for a failed sweep job."""
        if self.exit_code == EXIT_FAILED and job is not None:
            raise JobFailed(f"{week} job {job} failed: {self.message} (run {run_id} FAILED)")
        if self.exit_code:
            sys.exit(self.exit_code)
        return self.result
