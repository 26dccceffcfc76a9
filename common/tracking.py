"""One MLflow run per pipeline execution, closed whatever happens.

Every week's entry point calls :func:`run_tracked`. It resolves one store for the
whole repository, opens a run in the week's experiment, logs the resolved config
as params and the provenance as tags, runs the pipeline, and ends the run:

- FINISHED when the pipeline returns;
- FAILED on an exception (the message as the ``error`` tag, ``traceback.txt`` as
  an artifact, one line on stderr, exit status 1);
- KILLED on Ctrl-C or SIGTERM (exit status 130 or 143).

MLflow is imported inside the functions: ``import mlflow`` costs 1-2 s, and a
config error should answer at once.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from common.paths import REPO_ROOT

log = logging.getLogger(__name__)

DEFAULT_DB = REPO_ROOT / "mlflow.db"
ARTIFACTS_DIRNAME = "mlartifacts"
TRACKED_LIBRARIES = ("numpy", "pandas", "scikit-learn", "torch", "mlflow", "hydra-core")
MAX_PARAM_LENGTH = 6000  # MLflow truncates longer values
RUN_NAME_LENGTH = 250
PARAMS_PER_BATCH = 100  # MLflow's limit for one log_batch call
EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TERMINATED = 1, 130, 143


class Terminated(BaseException):
    """Raised in the main thread when the process receives SIGTERM."""


def resolve_tracking_uri(configured: str | None = None) -> str:
    """The store every run uses: ``tracking.uri``, else ``$MLFLOW_TRACKING_URI``,
    else an absolute ``sqlite:///`` database at the repository root."""
    return configured or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{DEFAULT_DB}"


def artifact_root(tracking_uri: str) -> Path | None:
    """Artifacts of a local SQLite store live beside its database, in ``mlartifacts/``.

    A server (``http://...``) manages its own artifact store: ``None``.
    """
    if not tracking_uri.startswith("sqlite:///"):
        return None
    database = Path(tracking_uri.removeprefix("sqlite:///"))
    return database.resolve().parent / ARTIFACTS_DIRNAME


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


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into a :class:`Terminated` exception while the block runs."""

    def handler(signum: int, frame: object) -> None:
        raise Terminated(f"terminated by signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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


def run_tracked(cfg: DictConfig, week: str, pipeline: Callable[[DictConfig], float]) -> float:
    """Run ``pipeline(cfg)`` inside one MLflow run of the experiment ``week``.

    Returns the pipeline's headline metric (Hydra sweepers read it). On failure
    the process exits with a non-zero status after the run is marked.
    """
    import mlflow

    from common.seeding import seed_everything

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # keep logs readable
    tracking_uri = resolve_tracking_uri(cfg.tracking.uri)
    mlflow.set_tracking_uri(tracking_uri)
    experiment_id = ensure_experiment(cfg.tracking.experiment or week, tracking_uri)
    overrides, output_dir = hydra_context()
    tags = {
        "week": week,
        "overrides": " ".join(overrides) or "(defaults)",
        "hydra.output_dir": str(output_dir or ""),
        **git_state(),
        **library_versions(),
    }
    run_name = cfg.tracking.run_name or default_run_name(overrides)
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as run:
        log.info("MLflow run %s in %s (experiment %s)", run.info.run_id, tracking_uri, week)
        params = flatten(OmegaConf.to_container(cfg, resolve=True))
        items = list(params.items())
        for start in range(0, len(items), PARAMS_PER_BATCH):
            mlflow.log_params(dict(items[start : start + PARAMS_PER_BATCH]))
        status, exit_code, result = "FINISHED", 0, float("nan")
        try:
            with sigterm_raises():
                seed_everything(cfg.seed)  # after start_run: MLflow names runs with `random`
                result = pipeline(cfg)
        except (KeyboardInterrupt, Terminated) as stop:
            status = "KILLED"
            exit_code = EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED
            log.error("%s stopped: run %s marked KILLED", week, run.info.run_id)
        except Exception as error:
            status, exit_code = "FAILED", EXIT_FAILED
            message = f"{type(error).__name__}: {error}".splitlines()[0]
            log.error("%s failed: %s (run %s marked FAILED)", week, message, run.info.run_id)
            mlflow.set_tag("error", message[:MAX_PARAM_LENGTH])
            mlflow.log_text(traceback.format_exc(), "traceback.txt")
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
        finally:
            log_run_files(output_dir)
            mlflow.end_run(status=status)
    if exit_code:
        sys.exit(exit_code)
    return result
