"""Figures rendered in the worker process: the same PNG bytes, logged under their names, on a
real worker and a real MLflow run; a figure that does not pickle, one that cannot be drawn,
and a stop."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pytest
from matplotlib.ticker import FuncFormatter

from common.figure_process import preload, render_aside, submit
from common.paths import REPO_ROOT
from common.plotting import DPI, apply_theme, figure, figures_rendered_aside
from common.threads import THREADS_ENV


def draw_busy_figure():
    """A figure with what the weeks' figures have: log axis (mathtext ticks), legend, title,
    an image with a colour bar, annotations, points edged in "k" (seaborn's dark grey under
    its theme, not black), a seaborn theme."""
    apply_theme()
    fig, (curves, picture, points) = plt.subplots(ncols=3, figsize=(11, 3.5))
    steps = np.arange(1, 2_001)
    curves.plot(steps, 1 / steps, label="gd")
    curves.plot(steps, 1 / np.sqrt(steps), "--", label="adam")
    curves.set(xscale="log", yscale="log", title=r"$f(w_k) - f^*$", xlabel="step k")
    curves.legend()
    curves.annotate("capped", (2_000, 0.02))
    image = picture.imshow(np.random.default_rng(0).random((40, 60)), cmap="viridis")
    fig.colorbar(image, ax=picture, label="value")
    xy = np.random.default_rng(1).random((40, 2))
    points.scatter(xy[:, 0], xy[:, 1], s=22, edgecolor="k", lw=0.3)
    return fig


def png_here(fig) -> bytes:
    """What ``log_figure`` writes without the worker: layout, then a PNG at the house dpi."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, dpi=DPI, format="png")
    return buffer.getvalue()


def test_a_figure_rendered_in_the_worker_is_the_same_png_as_one_rendered_here(tmp_path):
    path = tmp_path / "busy.png"
    future = render_aside(draw_busy_figure(), path, DPI)
    assert future.result(timeout=120) == str(path)
    expected_fig = draw_busy_figure()
    assert path.read_bytes() == png_here(expected_fig)
    plt.close("all")


@pytest.fixture
def experiment(tracking_uri, tmp_path) -> str:
    """An experiment of the test's own store, its artifacts in the test's folder."""
    mlflow.set_tracking_uri(tracking_uri)
    return mlflow.create_experiment("figures", artifact_location=(tmp_path / "art").as_uri())


def logged_png(run_id: str, artifact: str) -> bytes:
    return Path(
        mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact)
    ).read_bytes()


def test_figures_rendered_aside_are_logged_under_their_names_when_the_block_ends(experiment):
    with mlflow.start_run(experiment_id=experiment) as run, figures_rendered_aside():
        with figure("linear/optimizer_comparison") as (_, ax):
            ax.plot([1, 2, 3], [3, 1, 2])
        with figure("logistic/optimizer_comparison") as (_, ax):
            ax.plot([1, 2, 3], [1, 2, 3])
        with figure("spectrum") as (_, ax):
            ax.bar([0, 1], [2, 1])
        assert mlflow.MlflowClient().list_artifacts(run.info.run_id) == []  # not yet
    run_id = run.info.run_id
    names = ["linear/optimizer_comparison", "logistic/optimizer_comparison", "spectrum"]
    pngs = {name: logged_png(run_id, f"figures/{name}.png") for name in names}
    assert all(png.startswith(b"\x89PNG") for png in pngs.values())
    assert len(set(pngs.values())) == 3  # each file is its own figure, not a neighbour's
    assert plt.get_fignums() == []


def test_a_figure_that_does_not_pickle_is_rendered_in_the_run_instead(experiment):
    with mlflow.start_run(experiment_id=experiment) as run, figures_rendered_aside():
        with figure("lambda_ticks") as (_, ax):
            ax.plot([1, 2], [1, 2])
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:.0f} px"))
        assert [
            a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "figures")
        ] == ["figures/lambda_ticks.png"]  # logged at once, by this process


def test_a_figure_the_worker_cannot_draw_fails_the_block_naming_the_figure(experiment):
    def draw_an_unparsable_title():
        with figures_rendered_aside(), figure("drills/broken_title") as (_, ax):
            ax.set_title(r"$\frac{1}$")  # mathtext that does not parse: fails when drawn

    with mlflow.start_run(experiment_id=experiment), pytest.raises(RuntimeError) as raised:
        draw_an_unparsable_title()
    assert str(raised.value).startswith("figure drills/broken_title could not be rendered: ")


def test_a_stop_cancels_the_figures_not_rendered_and_logs_none(experiment):
    def draw_three_then_stop():
        with figures_rendered_aside():
            for index in range(3):
                with figure(f"curve_{index}") as (_, ax):
                    ax.plot(np.arange(50_000.0))
            raise KeyboardInterrupt

    with mlflow.start_run(experiment_id=experiment) as run, pytest.raises(KeyboardInterrupt):
        draw_three_then_stop()
    assert mlflow.MlflowClient().list_artifacts(run.info.run_id) == []


@pytest.mark.slow  # a real process killed with its worker spawned
def test_the_worker_ends_when_the_process_that_started_it_is_killed():
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        stderr=subprocess.DEVNULL,  # its semaphore tracker reports what the kill left
    )
    worker_pid = int(starter.stdout.readline())
    starter.kill()  # SIGKILL: no atexit, no executor shutdown
    starter.wait()
    deadline = time.monotonic() + 60
    while pid_alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(worker_pid), f"figure worker {worker_pid} outlived its parent"


STARTER = """
import os, time
from common.figure_process import submit
print(submit(os.getpid).result(), flush=True)
time.sleep(600)
"""


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, dead but not reaped, is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def imported(module: str) -> bool:
    """In the worker: whether ``module`` is imported there."""
    return module in sys.modules


def test_preload_has_the_worker_import_a_module_and_does_nothing_on_one_thread(monkeypatch):
    monkeypatch.setenv(THREADS_ENV, "2")  # stdlib modules that nothing the worker runs imports
    preload("tabnanny").result(timeout=120)
    assert submit(imported, "tabnanny").result(timeout=60)
    monkeypatch.setenv(THREADS_ENV, "1")
    assert preload("wave") is None
    assert not submit(imported, "wave").result(timeout=60)
