"""A full disk under the run store: one line naming it and the fix, exit 1, nothing lost.

The error itself is SQLite's own (a database held to a few pages by ``max_page_count``
raises "database or disk is full"); the end to end test mounts a real 3 MB tmpfs (skipped
where this process may not mount) and fills it around a real week-3 run.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from common.paths import REPO_ROOT
from common.tracking import is_disk_full, one_line

DISK_FULL_LINE = (
    "OSError: disk full: the run store or an artifact could not be written; free space on "
    "that disk (df -h) or point MLFLOW_TRACKING_URI at a store on another disk"
)


def fill_a_small_database(path: Path) -> None:
    """Insert into a database held to 3 pages until SQLite refuses."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA max_page_count = 3")
    connection.execute("CREATE TABLE t (x TEXT)")
    try:
        for _ in range(100):
            connection.execute("INSERT INTO t VALUES (?)", ("x" * 4000,))
    finally:
        connection.close()


def wrapped_as_mlflow_wraps(path: Path) -> None:
    """SQLite's error inside SQLAlchemy's inside MLflow's, as a full store raises it."""
    try:
        fill_a_small_database(path)
    except sqlite3.OperationalError as error:
        try:
            raise RuntimeError("(raised as a result of Query-invoked autoflush; ...)") from error
        except RuntimeError as wrapped:
            raise MlflowException(str(wrapped)) from wrapped


def test_sqlites_full_error_wrapped_as_mlflow_wraps_it_is_said_as_a_full_disk(tmp_path):
    with pytest.raises(sqlite3.OperationalError, match=r"^database or disk is full$"):
        fill_a_small_database(tmp_path / "a.db")
    with pytest.raises(MlflowException) as outer:
        wrapped_as_mlflow_wraps(tmp_path / "b.db")
    assert is_disk_full(outer.value)
    assert one_line(outer.value) == DISK_FULL_LINE
    assert one_line(OSError(28, "No space left on device")) == DISK_FULL_LINE
    assert not is_disk_full(ValueError("alpha must be >= 0"))
    assert one_line(ValueError("alpha must be >= 0\nmore")) == "ValueError: alpha must be >= 0"


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs at ``tmp_path / 'disk'``, unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        # lazily: this process's MLflow client may still hold the database open
        subprocess.run(["umount", "--lazy", str(disk)], check=True)


def fill(disk: Path, leave_kib: int) -> None:
    """Fill ``disk`` up to ``leave_kib`` KiB free."""
    free = shutil.disk_usage(disk).free // 1024
    with open(disk / f"filler{len(list(disk.iterdir()))}", "wb") as filler:
        filler.write(b"\0" * max(0, (free - leave_kib) * 1024))


def week3(store: Path, output: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "projects.week3_regression", "tasks=[logistic]",
         "compare_steps=10", "progress=false", "figures=false", f"tracking.uri=sqlite:///{store}",
         f"hydra.run.dir={output}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.mark.slow
def test_a_disk_that_fills_fails_the_run_in_one_line_and_keeps_what_was_stored(
    small_disk, tmp_path, empty_store
):
    store = small_disk / "mlflow.db"
    shutil.copyfile(empty_store, store)
    first = week3(store, tmp_path / "1")  # room enough: artifacts go beside the store's folder
    assert first.returncode == 0, first.stderr[-2000:]
    [finished] = MlflowClient(f"sqlite:///{store}").search_runs(["1"])
    fill(small_disk, leave_kib=60)  # the next run opens, then its metrics fill the disk
    second = week3(store, tmp_path / "2")
    assert second.returncode == 1
    assert "Traceback" not in second.stdout + second.stderr
    failed, *unrecorded = [line for line in second.stdout.splitlines() if "[ERROR]" in line]
    assert f"week3 failed: {DISK_FULL_LINE} (run " in failed
    [second_id] = re.findall(r"\(run (\w+) marked FAILED\)", failed)
    if unrecorded:  # the store could not even take the FAILED status: it says so, once
        assert len(unrecorded) == 1
        assert f"could not record run {second_id} as FAILED" in unrecorded[0]
        assert "it stays RUNNING there" in unrecorded[0]
    fill(small_disk, leave_kib=0)  # not even a run can be created now
    third = week3(store, tmp_path / "3")
    assert third.returncode == 1
    assert third.stderr.strip().splitlines() == [
        f"error: could not open a run in sqlite:///{store}: {DISK_FULL_LINE}"
    ]
    client = MlflowClient(f"sqlite:///{store}")
    runs = {r.info.run_id: r.info.status for r in client.search_runs(["1"])}
    assert runs == {  # nothing already stored is lost; no third run
        finished.info.run_id: "FINISHED",
        second_id: "RUNNING" if unrecorded else "FAILED",
    }
    if unrecorded:  # space again: the run its process left RUNNING is closed as stale
        for filler in small_disk.glob("filler*"):
            filler.unlink()
        closed = subprocess.run(
            [sys.executable, "-m", "common.runs", "--close-stale", "--tracking-uri",
             f"sqlite:///{store}"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert second_id in closed.stdout, closed.stdout + closed.stderr
        assert client.get_run(second_id).info.status == "KILLED"
