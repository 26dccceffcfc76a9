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


def broken_copy(folder, change):
    """A copy of the model an earlier version logged (``test_pipeline.OLD_MODEL``), edited."""
    import shutil

    from tests.week2.test_pipeline import OLD_MODEL

    model = folder / "model"
    shutil.copytree(OLD_MODEL, model)
    change(model)
    return model


def rename_class(model):
    path = model / "artifacts" / "filter" / "filter.json"
    path.write_text(path.read_text().replace('"MultinomialNaiveBayes"', '"Unpickler"'))


def lose_an_array(model):
    (model / "artifacts" / "filter" / "model.feature_log_prob_.npy").unlink()


def pickle_loader(model):
    path = model / "MLmodel"
    path.write_text(path.read_text().replace("mlflow.pyfunc.loaders.code_model", "mlflow.sklearn"))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (rename_class, "class 'Unpickler' is not one this model loads"),
        (lose_an_array, "model.feature_log_prob_.npy"),
        (pickle_loader, "it is not a week-2 model from code (mlflow.sklearn)"),
    ],
)
def test_a_model_this_version_cannot_load_is_one_line_saying_to_rerun_the_week(
    tmp_path, tracking_uri, change, why, capsys
):
    from tests.pickles import unpickled_classes

    model = broken_copy(tmp_path, change)
    with unpickled_classes() as found, pytest.raises(SystemExit) as exited:
        cli.predict("WIN a FREE prize now", str(model), tracking_uri)
    message = str(exited.value)
    assert message.startswith(f"error: cannot load the filter at {model}: ")
    assert why in message
    assert message.endswith("; re-run the week (make week2) to log a filter this version loads")
    assert "\n" not in message
    assert found == []
    assert capsys.readouterr().out == ""
