"""`make server BACKEND_URI=postgresql://...` end to end: a real PostgreSQL, a real week run.

Slow (a database cluster, a server start, a week run): run with ``pytest -m slow``. Needs
Debian's ``postgresql`` (``apt-get install postgresql``); the test creates its own cluster in
a temporary folder on a free port and stops it after. PostgreSQL refuses to run as root, so
as root the cluster belongs to the user ``postgres`` (``runuser -u postgres --``).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.servers import free_port, group_alive, running
from tests.weeks import run_cli

pytestmark = pytest.mark.slow

STAMP = ".venv/.install-stamp"  # `make -o`: test the `server` recipe, not the install
SERVER_START_TIMEOUT = 240  # s: mlflow migrates a fresh PostgreSQL schema (dozens of revisions)
POSTGRES_TIMEOUT = 60  # s, for pg_ctl start and stop
QUICK_WEEK3 = ["tasks=[logistic]", "compare_steps=10", "progress=false"]
ARTIFACT = "tables/logistic/optimizers.json"


def postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` (Debian keeps it off PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def process_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting for its parent."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@pytest.fixture
def postgres():
    """A PostgreSQL cluster of this test's own with a database ``mlflow``: (its URI, its pid)."""
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL not found: install it with `apt-get install postgresql`")
    as_owner: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="math4ml-postgres-"))
    if os.geteuid() == 0:  # postgres refuses root: the cluster belongs to the user postgres
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_owner = ["runuser", "-u", "postgres", "--"]

    def run(tool: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*as_owner, str(bindir / tool), *args], capture_output=True, text=True, timeout=120
        )

    data, port = folder / "data", free_port()
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"  # socket in our folder
    try:
        steps = [
            run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"),
            run(
                *("pg_ctl", "start", "-D", str(data), "-l", str(folder / "postgres.log")),
                *("-w", "-t", str(POSTGRES_TIMEOUT), "-o", options),
            ),
        ]
        for step in steps:
            assert step.returncode == 0, step.stdout + step.stderr
        postmaster = int((data / "postmaster.pid").read_text().split()[0])
        try:
            created = run(
                "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "mlflow"
            )
            assert created.returncode == 0, created.stderr
            yield f"postgresql://postgres@127.0.0.1:{port}/mlflow", postmaster
        finally:
            stopped = run("pg_ctl", "stop", "-D", str(data), "-m", "fast", "-w")
            if stopped.returncode != 0:
                os.kill(postmaster, signal.SIGQUIT)  # immediate shutdown, by its pid
            deadline = time.monotonic() + POSTGRES_TIMEOUT
            while process_running(postmaster) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not process_running(postmaster), f"postmaster {postmaster} still running"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_week_runs_against_a_server_backed_by_postgresql(postgres, tmp_path, monkeypatch):
    import psycopg
    from mlflow.tracking import MlflowClient

    backend, _ = postgres
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        *("make", "-o", STAMP, "server", f"SERVER_PORT={port}"),
        *(f"BACKEND_URI={backend}", f"ARTIFACTS_DIR={tmp_path / 'served'}"),
    ]
    log_path = tmp_path / "server.log"
    with running(command, f"{url}/health", log_path, SERVER_START_TIMEOUT) as server:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        result = run_cli("week3_regression", *QUICK_WEEK3, output_dir=tmp_path / "run")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        client = MlflowClient(url)
        [run] = client.search_runs([client.get_experiment_by_name("week3").experiment_id])
        assert run.info.status == "FINISHED"
        assert run.data.metrics["logistic.loss_gap_rel"] <= 1e-6
        downloaded = client.download_artifacts(run.info.run_id, ARTIFACT, str(tmp_path / "down"))
        assert json.loads(Path(downloaded).read_text())  # served back, a real table
    assert not group_alive(server.pid)  # make, mlflow and the uvicorn workers, all stopped

    # The run lives in PostgreSQL itself: ask the database, not the server.
    with psycopg.connect(backend) as connection:
        runs = connection.execute("SELECT run_uuid, status FROM runs").fetchall()
        [(gap,)] = connection.execute(
            "SELECT value FROM latest_metrics WHERE run_uuid = %s AND key = %s",
            (run.info.run_id, "logistic.loss_gap_rel"),
        ).fetchall()
    assert runs == [(run.info.run_id, "FINISHED")]
    assert gap == run.data.metrics["logistic.loss_gap_rel"]
