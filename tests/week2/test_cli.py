"""The week-2 command line before it loads a model: which run it uses, and a busy port.

Real pieces: a SQLite store with real runs (MlflowClient), a real listening socket on
127.0.0.1 (closed at the end).
"""

from __future__ import annotations

import socket
import time

import pytest
from mlflow.tracking import MlflowClient

from projects.week2_spam import cli


def finished_run(client: MlflowClient, experiment_id: str, name: str, model: str) -> str:
    run = client.create_run(experiment_id, run_name=name)
    client.log_param(run.info.run_id, "model.name", model)
    client.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id


def test_predict_says_which_run_it_uses_and_how_to_pick_another(tracking_uri):
    client = MlflowClient(tracking_uri)
    experiment = client.create_experiment("week2")
    finished_run(client, experiment, "older", "bernoulli")
    time.sleep(0.01)  # start times a millisecond apart at least
    newest = finished_run(client, experiment, "newest", "multinomial")
    client.create_run(experiment, run_name="still running")  # not FINISHED: never chosen
    run = cli.chosen_run(None, tracking_uri)
    assert run.info.run_id == newest
    line = cli.describe(run, chosen=False)
    assert line.startswith(f"using run 'newest' ({newest[:8]}), model.name=multinomial, finished ")
    assert line.endswith("the newest FINISHED week-2 run; RUN_ID=<id> picks another")
    assert cli.describe(cli.chosen_run(newest, tracking_uri), chosen=True).endswith("as asked")


def test_serve_on_a_busy_port_is_one_line_naming_serve_port_before_anything_starts(
    tracking_uri,
):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exited:  # no week-2 run exists: the port comes first
            cli.main(["--tracking-uri", tracking_uri, "serve", "--port", str(port)])
    assert str(exited.value) == (
        f"error: port {port} on 127.0.0.1 is in use (Address already in use); pass "
        f"SERVE_PORT=<another port>, e.g. make serve-week2 SERVE_PORT={port + 1}"
    )
