"""common.store: a new SQLite store is safe to open from several processes at once, and a
store that cannot be used is refused in one line. Real processes, real SQLite files."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest
from mlflow.tracking import MlflowClient

from common.paths import REPO_ROOT
from common.store import StoreUnusable, check_usable, exit_if_unusable

FIRST_RUN = textwrap.dedent(
    """
    import sys
    from omegaconf import OmegaConf
    from common.config import BaseConfig, TrackingConfig
    from common.tracking import run_tracked

    cfg = OmegaConf.structured(BaseConfig(tracking=TrackingConfig(uri=sys.argv[1])))
    run_tracked(cfg, "demo", lambda cfg: 1.0)
    """
)
PROCESSES = 3  # three terminals starting their first runs together


@pytest.mark.slow  # three CLI runs at once
def test_runs_started_together_on_a_brand_new_store_all_finish(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", FIRST_RUN, uri],
            cwd=REPO_ROOT,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(PROCESSES)
    ]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("demo").experiment_id])
    assert [run.info.status for run in runs] == ["FINISHED"] * PROCESSES


def half_migrated(database):
    """A real store, then the table an interrupted migration leaves behind."""
    MlflowClient(f"sqlite:///{database}").search_experiments()
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE _alembic_tmp_params (key VARCHAR(250))")
    return database


def test_a_half_migrated_store_is_refused_in_one_line_naming_the_table_and_the_fix(
    tmp_path, capsys
):
    database = half_migrated(tmp_path / "mlflow.db")
    capsys.readouterr()  # MLflow's own lines while it made the store
    with pytest.raises(SystemExit) as exited:
        exit_if_unusable(f"sqlite:///{database}")
    assert exited.value.code == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line == (
        f"error: run store {database} was left half-migrated (table _alembic_tmp_params "
        f"exists), so no run can use it: move it aside (mv '{database}' '{database}.broken') "
        "and run again for a new store"
    )


def test_a_run_on_a_half_migrated_store_exits_1_before_any_run_exists(tmp_path, capsys):
    from omegaconf import OmegaConf

    from common.config import BaseConfig, TrackingConfig
    from common.tracking import run_tracked

    database = half_migrated(tmp_path / "mlflow.db")
    cfg = OmegaConf.structured(BaseConfig(tracking=TrackingConfig(uri=f"sqlite:///{database}")))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        run_tracked(cfg, "demo", lambda cfg: pytest.fail("the pipeline ran"))
    assert exited.value.code == 1
    output = capsys.readouterr()
    assert output.err.strip().splitlines()[-1].startswith("error: run store ")
    assert "Traceback" not in output.out + output.err
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT COUNT(*) FROM runs").fetchone() == (0,)


def test_a_missing_folder_and_a_missing_store_to_read_name_the_path(tmp_path):
    with pytest.raises(StoreUnusable, match=r"folder .*nowhere does not exist: create it"):
        check_usable(f"sqlite:///{tmp_path / 'nowhere' / 'mlflow.db'}")
    with pytest.raises(StoreUnusable, match=r"no run store at .*mlflow.db: start a run first"):
        check_usable(f"sqlite:///{tmp_path / 'mlflow.db'}", write=False)
    assert not (tmp_path / "mlflow.db").exists()  # reading does not create a store


@pytest.fixture
def immutable(tmp_path):
    """A real store whose file cannot be written, even by root (``chattr +i``)."""
    database = tmp_path / "mlflow.db"
    MlflowClient(f"sqlite:///{database}").search_experiments()
    marked = subprocess.run(["chattr", "+i", str(database)], capture_output=True, check=False)
    if marked.returncode != 0:
        pytest.skip(f"chattr +i is not possible here: {marked.stderr.decode().strip()}")
    yield database
    subprocess.run(["chattr", "-i", str(database)], check=True)


def test_a_read_only_store_is_refused_in_one_line_with_the_fix(immutable, capsys):
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        exit_if_unusable(f"sqlite:///{immutable}")
    assert exited.value.code == 1
    assert capsys.readouterr().err.splitlines() == [
        f"error: run store {immutable}: {immutable} is read-only: make it writable "
        f"(chmod u+w '{immutable}') or point MLFLOW_TRACKING_URI at another store"
    ]


def test_a_read_only_store_can_still_be_read(immutable):
    check_usable(f"sqlite:///{immutable}", write=False)  # make runs on a read-only store


A_RUN_THEN_EXIT = textwrap.dedent(
    """
    import sys
    from omegaconf import OmegaConf
    from common.config import BaseConfig, TrackingConfig
    from common.entry import run_then_exit
    from common.tracking import run_tracked

    cfg = OmegaConf.structured(BaseConfig(tracking=TrackingConfig(uri=sys.argv[1])))
    run_then_exit(lambda: run_tracked(cfg, "demo", lambda cfg: 2.5))
    """
)


@pytest.mark.slow  # a real process that imports MLflow and exits as a week's command does
def test_a_week_command_leaves_its_runs_in_the_store_file_alone_in_wal_mode(tmp_path, empty_store):
    """A run writes through SQLite's write-ahead log; once the command has exited (without
    freeing its objects, common.entry), the store file alone holds the run."""
    database = tmp_path / "mlflow.db"
    database.write_bytes(empty_store.read_bytes())
    done = subprocess.run(
        [sys.executable, "-c", A_RUN_THEN_EXIT, f"sqlite:///{database}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    log = database.with_name("mlflow.db-wal")
    assert not log.exists() or log.stat().st_size == 0
    alone = tmp_path / "copy" / "mlflow.db"  # the file copied without its log
    alone.parent.mkdir()
    alone.write_bytes(database.read_bytes())
    client = MlflowClient(f"sqlite:///{alone}")
    (run,) = client.search_runs([client.get_experiment_by_name("demo").experiment_id])
    assert (run.info.status, run.data.metrics["headline"]) == ("FINISHED", 2.5)
