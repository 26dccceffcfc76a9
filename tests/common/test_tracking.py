"""common.tracking against a real SQLite MLflow store: every way a run can end."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from common.config import BaseConfig, TrackingConfig
from common.paths import REPO_ROOT
from common.tracking import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    artifact_root,
    default_run_name,
    flatten,
    resolve_tracking_uri,
    run_tracked,
)


def make_cfg(uri: str, seed: int = 0):
    return OmegaConf.structured(BaseConfig(seed=seed, tracking=TrackingConfig(uri=uri)))


def test_flatten_names_lists_by_index_and_nests_with_dots():
    nested = {"a": {"b": [1, 2], "c": None}, "d": "x", "e": []}
    assert flatten(nested) == {"a.b.0": "1", "a.b.1": "2", "a.c": "None", "d": "x", "e": "[]"}


def test_flatten_truncates_values_mlflow_would_reject():
    assert len(flatten({"long": "x" * 10_000})["long"]) == 6000


def test_tracking_uri_precedence(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri(None) == f"sqlite:///{REPO_ROOT / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert resolve_tracking_uri(None) == "http://127.0.0.1:5999"
    assert resolve_tracking_uri("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_artifacts_of_a_sqlite_store_live_beside_it(tmp_path):
    assert artifact_root(f"sqlite:///{tmp_path}/m.db") == tmp_path / "mlartifacts"
    assert artifact_root("http://127.0.0.1:5000") is None


def test_success_logs_params_tags_and_finishes(tracking_uri, runs_of):
    def pipeline(cfg):
        import mlflow

        mlflow.log_metric("answer", 42.0)
        return 42.0

    assert run_tracked(make_cfg(tracking_uri, seed=7), "demo", pipeline) == 42.0
    [run] = runs_of("demo")
    assert run.info.status == "FINISHED"
    assert run.data.metrics["answer"] == 42.0
    assert run.data.params["seed"] == "7"
    assert run.data.params["tracking.uri"] == tracking_uri
    assert run.data.tags["week"] == "demo"
    assert len(run.data.tags["git.commit"]) in (40, len("unknown"))
    assert run.data.tags["version.numpy"]
    experiment = runs_of.client.get_experiment_by_name("demo")
    assert experiment.artifact_location.startswith("file:///")


def test_exception_marks_failed_with_error_tag_and_traceback(tracking_uri, runs_of):
    def pipeline(cfg):
        raise ValueError("k must be in [1, 427], got 0")

    with pytest.raises(SystemExit) as exited:
        run_tracked(make_cfg(tracking_uri), "demo", pipeline)
    assert exited.value.code == EXIT_FAILED
    [run] = runs_of("demo")
    assert run.info.status == "FAILED"
    assert run.data.tags["error"] == "ValueError: k must be in [1, 427], got 0"
    traceback_text = runs_of.client.download_artifacts(run.info.run_id, "traceback.txt")
    assert "k must be in [1, 427]" in Path(traceback_text).read_text()


def test_ctrl_c_marks_killed(tracking_uri, runs_of):
    def pipeline(cfg):
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as exited:
        run_tracked(make_cfg(tracking_uri), "demo", pipeline)
    assert exited.value.code == EXIT_INTERRUPTED
    assert runs_of("demo")[0].info.status == "KILLED"


def test_runs_of_one_experiment_accumulate(tracking_uri, runs_of):
    for seed in (1, 2):
        run_tracked(make_cfg(tracking_uri, seed=seed), "demo", lambda cfg: 0.0)
    assert [r.data.params["seed"] for r in runs_of("demo")] == ["2", "1"]


SLEEPER = textwrap.dedent(
    """
    import sys, time
    from omegaconf import OmegaConf
    from common.config import BaseConfig, TrackingConfig
    from common.tracking import run_tracked

    def pipeline(cfg):
        print("pipeline started", flush=True)
        time.sleep(60)

    cfg = OmegaConf.structured(BaseConfig(tracking=TrackingConfig(uri=sys.argv[1])))
    run_tracked(cfg, "demo", pipeline)
    """
)


SLOW_TWIN = "another process, as the fast set's twin in this process does"


@pytest.mark.slow(reason=SLOW_TWIN)
@pytest.mark.parametrize(
    ("signum", "exit_code"), [(signal.SIGTERM, EXIT_TERMINATED), (signal.SIGINT, EXIT_INTERRUPTED)]
)
def test_a_signal_marks_the_run_killed_not_running(signum, exit_code, tracking_uri, runs_of):
    """A real process, a real SIGTERM (kill) or SIGINT (Ctrl-C): no run stays RUNNING."""
    process = subprocess.Popen(
        [sys.executable, "-c", SLEEPER, tracking_uri],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        deadline = time.monotonic() + 60
        while process.stdout.readline().strip() != "pipeline started":
            assert process.poll() is None, "the run exited before its pipeline started"
            assert time.monotonic() < deadline, "the pipeline never started"
        process.send_signal(signum)
        assert process.wait(timeout=30) == exit_code
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert runs_of("demo")[0].info.status == "KILLED"


SIGNAL_AS_THE_RUN_OPENS = textwrap.dedent(
    """
    import os, signal, sys
    import mlflow
    from omegaconf import OmegaConf
    from common.config import BaseConfig, TrackingConfig
    from common.tracking import run_tracked

    open_run = mlflow.start_run

    def start_run_then_signal(*args, **kwargs):  # a real signal, the instant the run exists
        run = open_run(*args, **kwargs)
        os.kill(os.getpid(), getattr(signal, sys.argv[2]))
        return run

    mlflow.start_run = start_run_then_signal
    cfg = OmegaConf.structured(BaseConfig(tracking=TrackingConfig(uri=sys.argv[1])))
    run_tracked(cfg, "demo", lambda cfg: 1.0)
    """
)


@pytest.mark.slow(reason=SLOW_TWIN)
@pytest.mark.parametrize(
    ("signame", "exit_code"), [("SIGTERM", EXIT_TERMINATED), ("SIGINT", EXIT_INTERRUPTED)]
)
def test_a_signal_the_instant_the_run_opens_marks_it_killed(
    signame, exit_code, tracking_uri, runs_of
):
    """Before its params are logged or the pipeline starts: still KILLED, never RUNNING."""
    result = subprocess.run(
        [sys.executable, "-c", SIGNAL_AS_THE_RUN_OPENS, tracking_uri, signame],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == exit_code, result.stderr[-3000:]
    [run] = runs_of("demo")
    assert run.info.status == "KILLED"
    assert "headline" not in run.data.metrics  # the pipeline never ran


@pytest.mark.parametrize(
    ("signum", "exit_code"), [(signal.SIGTERM, EXIT_TERMINATED), (signal.SIGINT, EXIT_INTERRUPTED)]
)
def test_a_real_signal_to_this_process_the_instant_the_run_opens_marks_it_killed(
    signum, exit_code, tracking_uri, runs_of, monkeypatch
):
    """The twin, in this process, of the test above: the same real signal, no interpreter to
    start."""
    import mlflow

    open_run = mlflow.start_run

    def start_run_then_signal(*args, **kwargs):
        run = open_run(*args, **kwargs)
        os.kill(os.getpid(), signum)
        return run

    monkeypatch.setattr(mlflow, "start_run", start_run_then_signal)
    with pytest.raises(SystemExit) as exited:
        run_tracked(make_cfg(tracking_uri), "demo", lambda cfg: 1.0)
    assert exited.value.code == exit_code
    [run] = runs_of("demo")
    assert run.info.status == "KILLED"
    assert "headline" not in run.data.metrics  # the pipeline never ran


class SignalOnRunLogged(logging.Handler):
    """Sends this process a SIGTERM when the line naming the run is logged."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("MLflow run "):
            os.kill(os.getpid(), signal.SIGTERM)


def test_a_sigterm_to_this_process_when_the_run_id_is_logged_marks_it_killed(tracking_uri, runs_of):
    tracking_log = logging.getLogger("common.tracking")
    handler, level = SignalOnRunLogged(), tracking_log.level
    tracking_log.addHandler(handler)
    tracking_log.setLevel(logging.INFO)
    try:
        with pytest.raises(SystemExit) as exited:
            run_tracked(make_cfg(tracking_uri), "demo", lambda cfg: 1.0)
    finally:
        tracking_log.removeHandler(handler)
        tracking_log.setLevel(level)
    assert exited.value.code == EXIT_TERMINATED
    assert runs_of("demo")[0].info.status == "KILLED"


@pytest.mark.slow(reason=SLOW_TWIN)
def test_a_sigterm_sent_when_the_run_id_is_logged_marks_it_killed(tracking_uri, runs_of):
    logging_sleeper = "import logging; logging.basicConfig(level=logging.INFO)\n" + SLEEPER
    process = subprocess.Popen(
        [sys.executable, "-c", logging_sleeper, tracking_uri],
        cwd=REPO_ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        for line in process.stderr:
            if "MLflow run " in line:
                process.send_signal(signal.SIGTERM)
                break
        assert process.wait(timeout=60) == EXIT_TERMINATED
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert runs_of("demo")[0].info.status == "KILLED"


def test_a_run_records_the_process_that_owns_it(tracking_uri, runs_of):
    run_tracked(make_cfg(tracking_uri), "demo", lambda cfg: 0.0)
    tags = runs_of("demo")[0].data.tags
    assert tags["process.pid"] == str(os.getpid())
    assert tags["process.host"]
    assert tags["process.started"].isdigit()


def test_default_run_name_leaves_out_where_the_run_is_stored():
    overrides = ["low_rank.rank=80", "tracking.uri=sqlite:////x.db", "hydra.run.dir=/t", "+a=1"]
    assert default_run_name(overrides) == "low_rank.rank=80 +a=1"
    assert default_run_name(["tracking.uri=sqlite:////x.db"]) is None


def test_run_name_from_the_config_wins(tracking_uri, runs_of):
    cfg = make_cfg(tracking_uri)
    cfg.tracking.run_name = "baseline"
    run_tracked(cfg, "demo", lambda cfg: 0.0)
    assert runs_of("demo")[0].info.run_name == "baseline"


SWALLOWS_THE_FIRST_STOP = textwrap.dedent(
    """
    import sys, time
    from omegaconf import OmegaConf
    from common.config import BaseConfig, TrackingConfig
    from common.tracking import run_tracked

    def pipeline(cfg):  # as a weakref callback or __del__ swallows what lands in it
        swallowed = started = False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if not started:
                    started = True
                    print("pipeline started", flush=True)
                time.sleep(0.05)
            except BaseException:
                if swallowed:
                    raise
                swallowed = True
                print("swallowed", flush=True)
        return 0.0

    cfg = OmegaConf.structured(BaseConfig(tracking=TrackingConfig(uri=sys.argv[1])))
    run_tracked(cfg, "demo", pipeline)
    """
)


def test_a_sigterm_to_this_process_swallowed_where_it_landed_is_raised_again(tracking_uri, runs_of):
    """The twin, in this process, of the test below: the pipeline swallows the first stop."""

    def pipeline(cfg):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the signal lands here
        except BaseException:
            pass  # swallowed, as a weakref callback or __del__ would
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # raised again here, after RERAISE_S
            time.sleep(0.05)
        return 0.0

    started = time.monotonic()
    with pytest.raises(SystemExit) as exited:
        run_tracked(make_cfg(tracking_uri), "demo", pipeline)
    assert exited.value.code == EXIT_TERMINATED
    assert time.monotonic() - started < 20  # not the 30 s the pipeline would run
    assert runs_of("demo")[0].info.status == "KILLED"


@pytest.mark.slow(reason=SLOW_TWIN)
def test_a_sigterm_swallowed_where_it_landed_is_raised_again_and_the_run_ends_killed(
    tracking_uri, runs_of
):
    process = subprocess.Popen(
        [sys.executable, "-c", SWALLOWS_THE_FIRST_STOP, tracking_uri],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout.readline().strip() == "pipeline started"
        process.send_signal(signal.SIGTERM)
        assert process.stdout.readline().strip() == "swallowed"
        assert process.wait(timeout=30) == EXIT_TERMINATED  # not the 60 s the loop would run
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert runs_of("demo")[0].info.status == "KILLED"


def test_a_run_of_the_defaults_is_named_after_the_keys_its_week_names():
    from common.tracking import defaults_name
    from projects.week3_regression import __main__ as week3
    from tests.weeks import compose_config

    cfg = compose_config("week3")
    assert defaults_name(cfg, week3.NAME_KEYS) == (
        "defaults: optimizer.name=lbfgs tasks=[linear,logistic]"
    )
    assert defaults_name(cfg, ()) is None  # no keys: MLflow's own name
