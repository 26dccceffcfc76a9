"""`make server` for real: a week run against it, read back through the client; a server that
is down fails the next run in seconds with one line and leaves no run behind."""

from __future__ import annotations

import http.server
import json
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

from common.paths import REPO_ROOT
from common.server import (
    DEFAULT_ARTIFACTS_DIR,
    DEFAULT_BACKEND_URI,
    ServerUnreachable,
    check_reachable,
    health_url,
    main,
    missing_driver,
    redacted,
    server_command,
    server_env,
)
from common.store import exit_if_unusable
from tests.servers import free_port, group_alive, running, stop_group
from tests.weeks import run_cli

STAMP = ".venv/.install-stamp"  # `make -o`: test the `server` recipe, not the install
SERVER_START_TIMEOUT = 120  # s: mlflow imports, migrates a fresh database, starts uvicorn
QUICK_WEEK3 = ["tasks=[logistic]", "compare_steps=10", "progress=false", "figures=false"]
ARTIFACT = "tables/logistic/optimizers.json"


def reason_of(uri: str, timeout_s: float = 1.0) -> str:
    with pytest.raises(ServerUnreachable) as raised:
        check_reachable(uri, timeout_s)
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_a_refused_connection_fails_at_once_with_the_fix():
    uri = f"http://127.0.0.1:{free_port()}"
    message = reason_of(uri)  # at once: a refusal needs no timeout
    assert message == (
        f"tracking server {uri} is not reachable (connection refused); start it with "
        "`make server`, or unset MLFLOW_TRACKING_URI (and tracking.uri) to use the local store"
    )


def test_a_server_that_never_answers_fails_after_the_timeout():
    with socket.socket() as silent:  # accepts connections into its backlog, never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        start = time.monotonic()
        message = reason_of(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout_s=0.5)
        elapsed = time.monotonic() - start
    assert "(no answer in 0.5 s)" in message
    assert elapsed >= 0.5  # it waited the timeout it was given (how fast is no test's business)


@pytest.fixture
def answering(request):
    """A loopback HTTP server answering every GET with the status ``request.param``: its URL."""
    status = request.param

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", status
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("answering", [401, 403], indirect=True)
def test_a_server_behind_authentication_counts_as_reachable(answering):
    check_reachable(answering[0])  # MLflow's client then reports the authentication itself


@pytest.mark.parametrize("answering", [502, 503], indirect=True)
def test_a_5xx_on_health_is_a_server_that_is_down(answering):
    uri, status = answering
    assert f"is not reachable (HTTP {status} on /health)" in reason_of(uri)


@pytest.mark.parametrize("answering", [200, 404], indirect=True)
def test_a_server_that_answers_health_but_not_the_tracking_api_is_not_mlflow(answering):
    """A model server (`make serve-week2`) answers /health 200 too; the check says what it is."""
    uri, status = answering
    assert reason_of(uri) == (
        f"{uri} is not an MLflow tracking server (it answers /health but gives HTTP {status}, "
        "not MLflow's JSON, on /api/2.0/mlflow/experiments/get-by-name: a model server, e.g. "
        "`make serve-week2`?); point MLFLOW_TRACKING_URI (or tracking.uri) at `make server`'s "
        "address, or unset it"
    )


def test_stores_that_are_not_servers_are_not_checked():
    check_reachable("sqlite:////nonexistent/folder/mlflow.db", timeout_s=0.1)
    check_reachable(f"postgresql://u@127.0.0.1:{free_port()}/mlflow", timeout_s=0.1)


def test_credentials_stay_out_of_urls_and_messages():
    assert health_url("http://ann:s3cret@host:5005/ml/") == "http://host:5005/ml/health"
    assert redacted("postgresql://ann:s3cret@host/db") == "postgresql://ann:***@host/db"
    assert redacted("http://127.0.0.1:5005") == "http://127.0.0.1:5005"
    assert "s3cret" not in reason_of(f"http://ann:s3cret@127.0.0.1:{free_port()}")


def test_an_unreachable_server_prints_one_line_and_exits_1(capsys):
    with pytest.raises(SystemExit) as raised:
        exit_if_unusable(f"http://127.0.0.1:{free_port()}")
    assert raised.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith("error: tracking server http://127.0.0.1:")


def test_server_command_serves_artifacts_from_a_database_backend():
    command = server_command()

    def value_of(flag: str) -> str:
        return command[command.index(flag) + 1]

    assert command[:4] == [sys.executable, "-m", "mlflow", "server"]
    assert value_of("--backend-store-uri") == DEFAULT_BACKEND_URI
    assert DEFAULT_BACKEND_URI.startswith("sqlite:////")  # absolute, whatever the cwd
    assert "--serve-artifacts" in command
    assert value_of("--artifacts-destination") == str(DEFAULT_ARTIFACTS_DIR)
    assert (value_of("--host"), value_of("--port"), value_of("--workers")) == (
        "127.0.0.1",
        "5005",
        "2",
    )


def test_server_env_drops_the_job_runner_unless_the_caller_wants_it():
    assert server_env({})["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    wanted = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "true", "PATH": "/bin"}
    assert server_env(wanted) == wanted


def test_a_database_backend_without_its_driver_is_refused_with_the_fix(capsys):
    assert missing_driver("sqlite:////tmp/m.db") is None
    assert missing_driver("file:///tmp/mlruns") is None  # no database: MLflow's to judge
    assert missing_driver("postgresql://u@h/db") is None  # psycopg, from the dev extra
    assert missing_driver("postgresql+psycopg2://u@h/db") in (None, "psycopg2-binary")
    assert missing_driver("postgresql+pg8000://u@h/db") == "pg8000"  # in no extra of ours
    with pytest.raises(SystemExit) as raised:
        main(["--backend-store-uri", "postgresql+pg8000://ann:s3cret@127.0.0.1:5432/mlflow"])
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert "needs the package pg8000: `.venv/bin/pip install 'pg8000'`" in err
    assert "s3cret" not in err


@pytest.fixture
def make_server(tmp_path):
    """``make server`` on a free port with a store in ``tmp_path``: (URL, process, backend URI)."""
    port = free_port()
    backend = f"sqlite:///{tmp_path / 'server.db'}"
    command = [
        *("make", "-o", STAMP, "server", f"SERVER_PORT={port}"),
        *(f"BACKEND_URI={backend}", f"ARTIFACTS_DIR={tmp_path / 'served'}"),
    ]
    url = f"http://127.0.0.1:{port}"
    with running(
        command, f"{url}/health", tmp_path / "server.log", SERVER_START_TIMEOUT
    ) as process:
        yield url, process, backend


@pytest.mark.slow  # a server and two CLI runs
def test_a_week_runs_against_the_server_and_reads_back_through_it(
    make_server, tmp_path, monkeypatch
):
    from mlflow.tracking import MlflowClient

    url, process, backend = make_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)  # what the README tells a user to do
    result = run_cli("week3_regression", *QUICK_WEEK3, output_dir=tmp_path / "run")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    client = MlflowClient(url)
    [run] = client.search_runs([client.get_experiment_by_name("week3").experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["tasks.0"] == "logistic"
    assert run.data.tags["week"] == "week3"
    assert run.data.metrics["logistic.loss_gap_rel"] <= 1e-6
    # Artifacts went through the server (mlflow-artifacts:/), not to a path the client wrote.
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
    downloaded = client.download_artifacts(run.info.run_id, ARTIFACT, str(tmp_path / "down"))
    [stored] = (tmp_path / "served").rglob(f"{run.info.run_id}/artifacts/{ARTIFACT}")
    with open(downloaded, "rb") as file:
        assert file.read() == stored.read_bytes()
    assert json.loads(stored.read_text())  # a real table, not an empty file

    # The server goes away mid-run: the run fails with one line saying it stays RUNNING there
    # and how to close it, and no traceback.
    with subprocess.Popen(
        [sys.executable, "-m", "projects.week3_regression", "progress=false", "figures=false",
         f"hydra.run.dir={tmp_path / 'run-lost'}"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    ) as lost_job:  # fmt: skip
        seen = []
        for line in lost_job.stdout:  # the linear task is done: logging goes on for seconds
            seen.append(line)
            if "] - linear: " in line:
                break
        stop_group(process)  # by its process group: make, mlflow, uvicorn's workers
        assert not group_alive(process.pid)
        output = "".join(seen) + lost_job.stdout.read()
        assert lost_job.wait(timeout=300) == 1, output[-3000:]
    [lost_id] = re.findall(r"MLflow run (\w+) in", output)
    assert f"could not record run {lost_id} as FAILED: the tracking store failed" in output
    assert f"set_terminated('{lost_id}', 'FAILED')" in output
    assert "Traceback" not in output

    # Down now: the next run fails in seconds, with one line and no traceback.
    result = run_cli("week3_regression", *QUICK_WEEK3, output_dir=tmp_path / "run-down")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stderr.strip().splitlines() == [
        f"error: tracking server {url} is not reachable (connection refused); start it with "
        "`make server`, or unset MLFLOW_TRACKING_URI (and tracking.uri) to use the local store"
    ]
    assert "Traceback" not in result.stdout + result.stderr
    # The server's own database: the FINISHED run, and the one it lost, still RUNNING.
    runs = MlflowClient(backend).search_runs(
        [e.experiment_id for e in MlflowClient(backend).search_experiments()]
    )
    assert sorted((r.info.run_id, r.info.status) for r in runs) == sorted(
        [(run.info.run_id, "FINISHED"), (lost_id, "RUNNING")]  # nobody could tell the server
    )


def test_make_server_and_make_ui_on_a_busy_port_say_so_in_one_line_before_starting():
    import socket as sockets

    from common import server as shared_server
    from common import ui

    with sockets.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as server_exit:
            shared_server.main(["--port", str(port)])
        with pytest.raises(SystemExit) as ui_exit:
            ui.main(["--store", "sqlite:////nowhere/mlflow.db", "--port", str(port)])
    assert str(server_exit.value) == (
        f"error: port {port} on 127.0.0.1 is in use (Address already in use); pass SERVER_PORT="
    )
    assert str(ui_exit.value) == (
        f"error: port {port} on 127.0.0.1 is in use (Address already in use); pass PORT=<another>"
    )
