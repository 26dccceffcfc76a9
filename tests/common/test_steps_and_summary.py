"""Named steps, the end-of-run summary and the ``figures`` switch, on real MLflow runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from common.config import BaseConfig, TrackingConfig
from common.plotting import figure, figures_logged, logging_figures
from common.steps import Step, recording, slowest, step
from common.summary import run_url, steps_line
from common.tracking import run_tracked


def make_cfg(uri: str, figures: bool = True):
    return OmegaConf.structured(BaseConfig(figures=figures, tracking=TrackingConfig(uri=uri)))


def test_steps_are_recorded_in_order_with_nesting_depth_and_their_wall_time():
    steps: list[Step] = []
    with recording(steps):
        with step("outer"):
            time.sleep(0.02)
            with step("inner"):
                time.sleep(0.01)
        with step("second"):
            pass
    assert [(s.name, s.depth) for s in steps] == [("inner", 1), ("outer", 0), ("second", 0)]
    inner, outer, _ = steps
    assert 0.01 <= inner.seconds <= outer.seconds
    assert outer.seconds >= 0.03
    assert [s.name for s in slowest(steps)] == ["outer", "second"]  # top level only


def test_a_step_that_raises_is_not_recorded_and_outside_recording_nothing_is_kept():
    steps: list[Step] = []
    with recording(steps), pytest.raises(ZeroDivisionError), step("breaks"):
        raise ZeroDivisionError
    assert steps == []
    with step("unrecorded"):  # only logs
        pass
    assert steps == []


def test_the_steps_line_fits_the_width_it_is_given():
    steps = [Step(f"image {i}: rate search", 10.0 - i, 0) for i in range(5)]
    line = steps_line(steps, width=60)
    assert len(line) == 60
    assert line.endswith("...")
    assert line.startswith("  slowest steps: image 0: rate search 10.0 s | image 1")
    assert steps_line([], width=60) is None


def test_the_ui_url_is_the_server_itself_or_a_local_make_ui():
    assert (
        run_url("http://127.0.0.1:5005/", "3", "ab")
        == "http://127.0.0.1:5005/#/experiments/3/runs/ab"
    )
    assert (
        run_url("sqlite:////tmp/m.db", "3", "ab") == "http://127.0.0.1:5000/#/experiments/3/runs/ab"
    )


def pipeline_with_a_figure(cfg):
    import mlflow

    with step("draw"), figure("demo") as (_, ax):
        ax.plot([0, 1], [1, 0])
    with step("measure"):
        mlflow.log_metric("answer", 42.0)
    return 42.0


def test_a_finished_run_logs_its_steps_and_ends_with_a_summary(tracking_uri, runs_of, capsys):
    summary = {"answer": "the answer, measured", "absent": "a metric the run did not log"}
    run_tracked(make_cfg(tracking_uri), "demo", pipeline_with_a_figure, summary=summary)
    [run] = runs_of("demo")
    logged = json.loads(
        Path(runs_of.client.download_artifacts(run.info.run_id, "steps.json")).read_text()
    )
    assert [s["name"] for s in logged["steps"]] == ["draw", "measure"]
    printed = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(printed) if line.startswith("demo FINISHED in "))
    lines = printed[start:]
    assert run.info.run_id in lines[0]
    assert lines[1].split() == ["answer", "42", "the", "answer,", "measured"]
    assert not any("absent" in line for line in lines)
    assert lines[2].startswith("  slowest steps: ")
    files = lines[3].removeprefix("  files:   ")
    assert (Path(files) / "figures" / "demo.png").is_file()
    assert lines[4].endswith(f"#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}")


def test_figures_false_logs_no_figure_and_the_same_metrics(tracking_uri, runs_of):
    run_tracked(make_cfg(tracking_uri, figures=False), "demo", pipeline_with_a_figure)
    run_tracked(make_cfg(tracking_uri, figures=True), "demo", pipeline_with_a_figure)
    with_figures, without = runs_of("demo")
    assert without.data.params["figures"] == "False"
    assert with_figures.data.metrics == without.data.metrics
    listed = [f.path for f in runs_of.client.list_artifacts(without.info.run_id, "figures")]
    assert listed == []
    listed = [f.path for f in runs_of.client.list_artifacts(with_figures.info.run_id, "figures")]
    assert listed == ["figures/demo.png"]


def test_figures_are_logged_by_default_and_the_switch_is_restored():
    assert logging_figures()
    with figures_logged(False):
        assert not logging_figures()
    assert logging_figures()
