"""Run a week as a user does (the CLI in a subprocess) or in-process (Hydra's compose API)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir

from common.paths import REPO_ROOT, config_dir


def run_cli(package: str, *overrides: str, output_dir: Path) -> subprocess.CompletedProcess:
    """``python -m projects.<package> <overrides>`` with its Hydra run folder in ``output_dir``."""
    return subprocess.run(
        [sys.executable, "-m", f"projects.{package}", *overrides, f"hydra.run.dir={output_dir}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def compose_config(week: str, *overrides: str):
    """The composed, validated config of ``configs/<week>/<week>.yaml`` with ``overrides``."""
    with initialize_config_dir(config_dir=str(config_dir(week)), version_base="1.3"):
        return compose(week, overrides=list(overrides))


def run_in_own_store(package: str, week: str, overrides: list[str], folder: Path, empty_store):
    """One CLI run of a week in a fresh store in ``folder``: (client, the run, tracking URI)."""
    uri = own_store(folder, empty_store)
    result = run_cli(package, *overrides, f"tracking.uri={uri}", output_dir=folder / "run")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return the_only_run(uri, week)


def run_in_process_own_store(
    package: str, week: str, overrides: list[str], folder: Path, empty_store
):
    """``run_in_own_store`` in this process: the week's ``__main__.main`` on the composed config
    (``@hydra.main`` hands a given config straight to the function), so no interpreter start
    and no imports again. The run logs what the CLI's logs but for Hydra's own files
    (``hydra/``), the ``overrides`` tag and a run name taken from the overrides."""
    import importlib

    uri = own_store(folder, empty_store)
    main = importlib.import_module(f"projects.{package}.__main__").main
    main(compose_config(week, *overrides, f"tracking.uri={uri}"))
    return the_only_run(uri, week)


def own_store(folder: Path, empty_store) -> str:
    """A fresh store in ``folder`` (a copy of the empty one): its tracking URI."""
    import shutil

    shutil.copyfile(empty_store, folder / "mlflow.db")
    return f"sqlite:///{folder / 'mlflow.db'}"


def the_only_run(uri: str, week: str):
    """(client, the one run of experiment ``week`` in the store at ``uri``, ``uri``)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    [run] = client.search_runs([client.get_experiment_by_name(week).experiment_id])
    return client, run, uri
