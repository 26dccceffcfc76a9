"""Week 3 end to end: the real CLI reaches the optimum; bad settings fail before training."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hydra.errors import ConfigCompositionException

from common.tracking import EXIT_FAILED, run_tracked
from projects.week3_regression import config, pipeline  # noqa: F401  (config registers the schema)
from projects.week3_regression.data import load_task
from tests.test_curriculum import logged_names
from tests.weeks import compose_config, run_in_own_store

QUICK = ["progress=false", "compare_steps=300"]
NO_FIGURES = [*QUICK, "figures=false"]  # for the runs whose figures no test reads


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, empty_store):
    """One default week-3 run through the CLI, in a store of this module's own."""
    folder = tmp_path_factory.mktemp("week3")
    client, run, _ = run_in_own_store("week3_regression", "week3", QUICK, folder, empty_store)
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


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["optimizer.lr=0"], r"optimizer.lr must be a finite number > 0, got 0"),
        (["optimizer.lr=nan"], r"optimizer.lr must be a finite number > 0, got nan"),
        (["optimizer.name=adagrad"], r"optimizer.name must be one of \['gd'"),
        (["optimizer.name=sgd", "optimizer.batch_size=100000"], r"batch_size"),
        (["tasks=[poisson]"], r"tasks must be a non-empty list"),
        (["linear.l2=-1"], r"linear.l1 and linear.l2 must be >= 0"),
        (["linear.l1=0.1", "linear.l2=0.1"], r"set l1 or l2, not both"),
        (["logistic.l1=0.1"], r"logistic.l1 must be 0"),
        (["device=tpu"], r"device must be one of cpu, auto, cuda, got 'tpu'"),
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
