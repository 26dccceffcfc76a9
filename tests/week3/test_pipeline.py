"""Week 3 end to end: the real CLI reaches the optimum; bad settings fail before training."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hydra.errors import ConfigCompositionException

from common import sweep
from common.paths import REPO_ROOT
from common.tracking import EXIT_FAILED, run_tracked
from projects.week3_regression import config, pipeline  # noqa: F401  (config registers the schema)
from projects.week3_regression.data import load_task
from tests.test_curriculum import logged_names
from tests.weeks import compose_config, run_in_process_own_store

QUICK = ["progress=false", "compare_steps=300"]
NO_FIGURES = [*QUICK, "figures=false"]  # for the runs whose figures no test reads


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, empty_store):
    """One default week-3 run as the CLI runs it, in this process, in a store of its own."""
    folder = tmp_path_factory.mktemp("week3")
    client, run, _ = run_in_process_own_store(
        "week3_regression", "week3", QUICK, folder, empty_store
    )
    return client, run, folder


def test_default_run_reaches_the_optimum_and_logs_what_the_readme_promises(finished_run):
    client, run, folder = finished_run
    assert run.info.status == "FINISHED"
    metrics = run.data.metrics
    assert metrics["loss_gap_rel"] <= 1e-6
    for task in ("linear", "logistic"):
        assert metrics[f"{task}.loss_gap_rel"] <= 1e-6
        assert metrics[f"{task}.grad_check_rel_error"] <= 1e-6
        assert metrics[f"{task}.final_loss"] == pytest.approx(
            metrics[f"{task}.optimal_loss"], rel=1e-6
        )
    assert metrics["logistic.test_accuracy"] > 0.9
    assert metrics["logistic.newton_steps"] <= 10
    assert (
        metrics["linear.condition_number_raw"]
        > 10 * metrics["linear.condition_number_standardized"]
    )
    assert metrics["linear.lagrange_max_abs_diff"] < 1e-6
    # W3.6: slopes 1 and 2 on the truncation range, best steps near eps^(1/2) and eps^(1/3)
    for scheme, order in (("forward", 1), ("central", 2)):
        assert metrics[f"logistic.fd_{scheme}_slope"] == pytest.approx(order, abs=0.1)
        ratio = (
            metrics[f"logistic.fd_{scheme}_best_h"] / metrics[f"logistic.fd_{scheme}_best_h_theory"]
        )
        assert 0.1 <= ratio <= 10
    # W3.X4: Newton's multiplier is brentq's, reached quadratically
    assert metrics["linear.newton_multiplier_rel_diff"] <= 1e-10
    assert metrics["linear.newton_multiplier_order"] == pytest.approx(2, abs=0.1)
    # W3.X5: the by-hand rules follow torch.optim (parameters of order 1 to 300)
    for task in ("linear", "logistic"):
        for name in ("momentum", "rmsprop", "adam"):
            assert metrics[f"{task}.by_hand_{name}_max_abs_diff"] <= 1e-9
    # W3.X6: the LP is the QuantileRegressor fit; LAD resists the outliers
    assert metrics["linear.lad_coef_max_abs_diff"] <= 1e-6
    assert metrics["linear.lad_objective_rel_diff"] <= 1e-8
    assert metrics["linear.lad_coef_shift"] < metrics["linear.least_squares_coef_shift"] / 3
    history = client.get_metric_history(run.info.run_id, "logistic.loss")
    assert len(history) == metrics["logistic.steps"] + 1  # one point per step, logged in batches
    artifacts = client.download_artifacts(run.info.run_id, "", str(folder / "artifacts"))
    for name in logged_names(week=3):
        if "/" in name or name.endswith(".json"):
            assert (folder / "artifacts" / name).exists(), f"README promises artifact {name}"
        else:
            assert name in metrics, f"README promises metric {name}"
    assert artifacts


@pytest.mark.slow  # two further whole runs; seeding alone: tests/common/test_seeding.py
def test_same_seed_same_curve(tracking_uri, runs_of):
    overrides = [
        *NO_FIGURES,
        "tasks=[logistic]",
        "optimizer.name=sgd",
        "optimizer.batch_size=32",
        "optimizer.max_steps=200",
        f"tracking.uri={tracking_uri}",
    ]
    for _ in range(2):
        run_tracked(compose_config("week3", *overrides), "week3", pipeline.run)
    first, second = (
        [m.value for m in runs_of.client.get_metric_history(r.info.run_id, "logistic.loss")]
        for r in runs_of("week3")
    )
    assert len(first) == 201
    np.testing.assert_array_equal(first, second)


def test_divergence_fails_the_run_at_the_step_it_happens(tracking_uri, runs_of):
    cfg = compose_config(
        "week3",
        *NO_FIGURES,
        "tasks=[linear]",
        "optimizer.name=gd",
        "optimizer.lr=5.0",
        "data.standardize=false",
        f"tracking.uri={tracking_uri}",
    )
    with pytest.raises(SystemExit) as exited:
        run_tracked(cfg, "week3", pipeline.run)
    assert exited.value.code == EXIT_FAILED
    [run] = runs_of("week3")
    assert run.info.status == "FAILED"
    assert re.search(r"diverged at step \d+; lower the learning rate", run.data.tags["error"])


def models_of(client, run) -> set[str]:
    """The names of the models ``run`` logged (MLflow 3 keeps them apart from its artifacts)."""
    models = client.search_logged_models([run.info.experiment_id])
    return {model.name for model in models if model.source_run_id == run.info.run_id}


def test_a_run_far_from_its_optimum_fails_naming_task_gap_steps_and_fix(tracking_uri, runs_of):
    overrides = ["tasks=[logistic]", "optimizer.name=adam", "optimizer.lr=1e12"]
    cfg = compose_config(
        "week3", *NO_FIGURES, *overrides, "optimizer.max_steps=2000", f"tracking.uri={tracking_uri}"
    )
    with pytest.raises(SystemExit) as exited:
        run_tracked(cfg, "week3", pipeline.run)
    assert exited.value.code == EXIT_FAILED
    [run] = runs_of("week3")
    assert run.info.status == "FAILED"
    metrics, error = run.data.metrics, run.data.tags["error"]
    assert metrics["logistic.final_loss"] > np.log(2)  # worse than w = 0, where f = ln 2
    assert metrics["logistic.loss_gap_rel"] > pipeline.GAP_FAILS
    number = r"[-+.e\d]+"
    said = re.fullmatch(
        rf"OptimumMissed: logistic: adam stopped at loss ({number}) after 2000 steps, ({number})"
        rf" relative above the optimum ({number}) \(more than {pipeline.GAP_FAILS:g} is no"
        r" result\); the loss rose above its start 0.693 at w = 0: lower optimizer.lr",
        error,
    )
    assert said, error
    final, gap, optimal = map(float, said.groups())  # the logged numbers, to 3 or 4 digits
    assert final == pytest.approx(metrics["logistic.final_loss"], rel=1e-2)
    assert gap == pytest.approx(metrics["logistic.loss_gap_rel"], rel=1e-2)
    assert optimal == pytest.approx(metrics["logistic.optimal_loss"], rel=1e-3)
    assert run.data.tags["logistic.converged"] == "false"
    assert "logistic_model" not in models_of(runs_of.client, run)
    assert "headline" not in metrics


def test_a_run_close_to_its_optimum_but_not_converged_finishes_tagged_and_warned(
    tracking_uri, runs_of, caplog
):
    overrides = ["tasks=[logistic]", "optimizer.name=sgd", "optimizer.batch_size=32"]
    cfg = compose_config(
        "week3", *NO_FIGURES, *overrides, "optimizer.max_steps=200", f"tracking.uri={tracking_uri}"
    )
    with caplog.at_level(logging.WARNING):
        run_tracked(cfg, "week3", pipeline.run)
    [run] = runs_of("week3")
    assert run.info.status == "FINISHED"
    gap = run.data.metrics["logistic.loss_gap_rel"]
    assert 1e-6 < gap <= pipeline.GAP_FAILS  # 200 noisy steps: short of the optimum, not far
    assert run.data.tags["logistic.converged"] == "false"
    [warning] = [r.getMessage() for r in caplog.records if "did not converge" in r.getMessage()]
    assert re.fullmatch(
        r"logistic: sgd did not converge: \|\|grad f\|\| = \S+ > optimizer.tol = 1e-06 after 200"
        rf" steps, loss {gap:.3g} relative above the optimum \(tag logistic.converged=false\);"
        r" raise optimizer.max_steps",
        warning,
    ), warning
    assert models_of(runs_of.client, run) == {"logistic_model"}


@pytest.mark.slow  # a sweep of two CLI jobs
def test_a_sweep_never_ranks_a_child_that_missed_its_optimum(tmp_path, empty_store):
    from mlflow.tracking import MlflowClient

    store = tmp_path / "mlflow.db"
    shutil.copyfile(empty_store, store)
    sweep_dir = tmp_path / "sweep"
    result = subprocess.run(
        [sys.executable, "-m", "projects.week3_regression", "-m", *NO_FIGURES, "tasks=[logistic]",
         "optimizer.name=adam", "optimizer.max_steps=2000", "optimizer.lr=0.05,1e12",
         f"tracking.uri=sqlite:///{store}", f"hydra.sweep.dir={sweep_dir}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == EXIT_FAILED, result.stdout[-3000:] + result.stderr[-3000:]
    assert "OptimumMissed: logistic: adam stopped at loss" in result.stderr
    client = MlflowClient(f"sqlite:///{store}")
    runs = client.search_runs([client.get_experiment_by_name("week3").experiment_id])
    [parent] = [r for r in runs if sweep.PARENT_TAG not in r.data.tags]
    children = {r.data.params["optimizer.lr"]: r for r in runs if r is not parent}
    assert {lr: c.info.status for lr, c in children.items()} == {
        "0.05": "FINISHED",
        "1000000000000.0": "FAILED",
    }
    failed, finished = children["1000000000000.0"], children["0.05"]
    assert failed.data.metrics["logistic.loss_gap_rel"] > pipeline.GAP_FAILS
    assert "headline" not in failed.data.metrics  # nothing it could be ranked by
    assert parent.info.status == "FAILED"
    assert parent.data.tags["best_run_id"] == finished.info.run_id
    assert parent.data.metrics["best_headline"] == finished.data.metrics["headline"]
    assert parent.data.metrics["jobs_finished"] == 1
    assert parent.data.tags["failed_children"].endswith("optimizer.lr=1000000000000.0")
    assert models_of(client, failed) == set()
    assert models_of(client, finished) == {"logistic_model"}
    folder = Path(client.download_artifacts(parent.info.run_id, sweep.SUMMARY_CSV, str(tmp_path)))
    table = pd.read_csv(folder)
    row = table[table["run_id"] == failed.info.run_id].iloc[0]
    assert row["status"] == "FAILED"
    assert np.isnan(row["headline"])
    assert row["error"].startswith("OptimumMissed: logistic: adam stopped at loss")


@pytest.mark.parametrize(
    ("optimizer", "who", "or_lr"),
    [
        ("gd", "gd", ", or optimizer.lr below that bound"),  # the run's own optimizer
        ("lbfgs", r"the comparison's sgd \(batch 45\)", ""),  # its lr is 0.5 / L, not ours
    ],
)
def test_a_penalty_too_steep_for_the_step_says_lower_the_penalty_not_the_learning_rate(
    optimizer, who, or_lr, tracking_uri, runs_of
):
    overrides = ["tasks=[logistic]", "logistic.l2=1e300", f"optimizer.name={optimizer}"]
    cfg = compose_config("week3", *NO_FIGURES, *overrides, f"tracking.uri={tracking_uri}")
    with pytest.raises(SystemExit):
        run_tracked(cfg, "week3", pipeline.run)
    [run] = runs_of("week3")
    assert run.info.status == "FAILED"
    error = run.data.tags["error"]
    said = re.fullmatch(
        rf"FloatingPointError: logistic: {who} diverged at step 2 with lr=(\S+):"
        r" logistic.l2=1e\+300 makes the loss too steep for it"
        r" \(gradient steps need lr < 2 / \(L \+ l2\) = 2e-300,"
        rf" with L = (\S+) from the data\); lower logistic.l2{re.escape(or_lr)}",
        error,
    )
    assert said, error
    lr, data = map(float, said.groups())
    split = load_task("logistic", test_size=0.2, standardize=True, seed=0)
    X1 = np.column_stack([split.X_train.numpy(), np.ones(len(split.X_train))])
    # the logistic loss's curvature is at most a quarter of the MSE Hessian's largest eigenvalue
    assert np.linalg.eigvalsh(X1.T @ X1 / len(X1))[-1] / 4 == pytest.approx(data, rel=1e-2)
    assert lr * (data + 1e300) > 2  # the penalty makes the step unstable ...
    assert lr * (data + 0.01) < 2  # ... which is stable under the default penalty


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["optimizer.lr=0"], r"^ValueError: optimizer.lr must be a finite number > 0, got 0.0$"),
        (["optimizer.lr=nan"], r"^ValueError: optimizer.lr must be a finite number > 0, got nan$"),
        (
            ["optimizer.name=sgd", "optimizer.batch_size=100000"],
            r"^ValueError: optimizer.batch_size must be an int in \[1, \d+\], got 100000$",
        ),
        (
            ["optimizer.max_steps=0"],
            r"^ValueError: optimizer.max_steps must be an int >= 1, got 0$",
        ),
        (["optimizer.tol=-1"], r"^ValueError: optimizer.tol must be a number >= 0, got -1.0$"),
        (["tasks=[poisson]"], r"tasks must be a non-empty list"),
        (["linear.l2=-1"], r"^ValueError: linear.l2 must be a finite number >= 0, got -1.0$"),
        (["linear.l2=inf"], r"^ValueError: linear.l2 must be a finite number >= 0, got inf$"),
        (["linear.l1=inf"], r"^ValueError: linear.l1 must be a finite number >= 0, got inf$"),
        (["logistic.l2=inf"], r"^ValueError: logistic.l2 must be a finite number >= 0, got inf$"),
        (["logistic.l2=nan"], r"^ValueError: logistic.l2 must be a finite number >= 0, got nan$"),
        (["linear.l1=0.1", "linear.l2=0.1"], r"set l1 or l2, not both"),
        (["logistic.l1=0.1"], r"logistic.l1 must be 0"),
        # settings an optimizer would ignore: refused, never logged as if used
        (
            ["optimizer.lr=0.1"],
            r"optimizer.name=lbfgs chooses its own step length on the full"
            r" batch: leave optimizer.lr and optimizer.batch_size null \(got 0.1 and None\)",
        ),
        (["optimizer.name=newton", "optimizer.batch_size=8"], r"newton chooses its own step"),
    ],
)
def test_bad_settings_fail_before_training(overrides, message, tracking_uri, runs_of):
    cfg = compose_config("week3", *QUICK, *overrides, f"tracking.uri={tracking_uri}")
    with pytest.raises(SystemExit):
        run_tracked(cfg, "week3", pipeline.run)
    [run] = runs_of("week3")
    assert run.info.status == "FAILED"
    assert re.search(message, run.data.tags["error"]), run.data.tags["error"]
    assert "linear.steps" not in run.data.metrics  # nothing was trained


def test_config_typos_fail_at_composition():
    with pytest.raises(ConfigCompositionException):
        compose_config("week3", "optimizer.nmae=adam")


def test_default_run_says_it_ran_on_the_cpu(finished_run):
    _, run, _ = finished_run
    assert run.data.params["device"] == "cpu"
    assert run.data.tags["device"] == "cpu"


def test_default_run_tags_each_task_converged(finished_run):
    _, run, _ = finished_run
    assert run.data.tags["linear.converged"] == "true"
    assert run.data.tags["logistic.converged"] == "true"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_device_cuda_without_a_gpu_fails_in_one_line_before_any_work(tracking_uri, runs_of):
    cfg = compose_config("week3", *QUICK, "device=cuda", f"tracking.uri={tracking_uri}")
    with pytest.raises(SystemExit):
        run_tracked(cfg, "week3", pipeline.run)
    [run] = runs_of("week3")
    assert run.info.status == "FAILED"
    assert "\n" not in run.data.tags["error"]
    assert re.search(r"device=cuda but torch sees no CUDA GPU", run.data.tags["error"])
    assert not run.data.metrics  # no drill, no training


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_device_cuda_trains_on_the_gpu_to_the_optimum(tracking_uri, runs_of):
    overrides = [*QUICK, "tasks=[logistic]", "device=cuda", f"tracking.uri={tracking_uri}"]
    run_tracked(compose_config("week3", *overrides), "week3", pipeline.run)
    [run] = runs_of("week3")
    assert run.info.status == "FINISHED"
    assert run.data.tags["device"].startswith("cuda")
    assert run.data.metrics["logistic.loss_gap_rel"] <= 1e-6


def test_the_comparison_legend_says_why_sgd_is_on_gd_and_each_step_size():
    split = load_task("logistic", test_size=0.2, standardize=True, seed=0)
    notes = pipeline.comparison_notes(compose_config("week3").optimizer, split)
    one_over_l = 1 / pipeline.lipschitz(split)
    assert notes["sgd"] == f"full batch: the steps of gd, lr {one_over_l:.3g}"
    assert notes["gd"] == f"lr {one_over_l:.3g}"
    assert (notes["rmsprop"], notes["adam"]) == ("lr 0.01", "lr 0.05")  # torch's defaults here
    assert "lbfgs" not in notes  # a line search: no step size
    assert "newton" not in notes
    batched = compose_config("week3", "optimizer.name=sgd", "optimizer.batch_size=32").optimizer
    assert pipeline.comparison_notes(batched, split)["sgd"] == f"lr {one_over_l:.3g}"
