"""Week 3's shortcuts change no number: a run cut from a longer one equals the run afresh,
``figures=false`` logs the same metrics, and the logged model's requirements need no
guessing (no local-version warning). Every comparison of what a run logs is exact (same
thread count, same operations in the same order) except two, compared within a tolerance
because their sums run in another order:
- gradient descent on least squares in NumPy (the conditioning runs) against the autograd
  loop: losses to 1e-13 relative, gradient norms to 1e-11, to 1e-8 near convergence where
  they are small differences; what the run logs of it, its step counts and whether each
  converged, is exact;
- the comparison's gd, sgd, momentum, Adam and mini-batch SGD side by side (one stacked
  autograd pass a step, ``side_by_side``) against each alone: their loss curves to 1e-13
  relative (measured: 5.4e-16 on the default run), their step counts, convergence and
  table rows exactly; RMSProp, which runs alone, and every other metric exactly.
A comparison computed in the run's second process logs exactly what it logs computed in the
run."""

from __future__ import annotations

import logging
import math
import pickle

import numpy as np
import pytest
import torch

from common.exercises import using
from common.threads import THREADS_ENV
from common.tracking import ensure_experiment, run_tracked
from projects.week3_regression import (  # noqa: F401  (config: the schema)
    config,
    optimize,
    pipeline,
    side_by_side,
)
from projects.week3_regression.data import load_task
from projects.week3_regression.losses import l2_penalty, objective
from tests.weeks import compose_config

QUICK = ["progress=false", "compare_steps=300"]


def split_and_loss(task):
    """The default split of ``task`` and its default objective."""
    cfg = compose_config("week3")
    split = load_task(task, test_size=0.2, standardize=True, seed=0)
    kind, penalty = pipeline.KIND[task], cfg[task]

    def loss_fn(w, b, X, y):
        return objective(kind, w, b, X, y, l1=penalty.l1, l2=penalty.l2)

    return cfg, split, loss_fn


def assert_same_record(cut, afresh):
    np.testing.assert_array_equal(cut.losses, afresh.losses)
    np.testing.assert_array_equal(cut.grad_norms, afresh.grad_norms)
    assert (cut.steps, cut.converged) == (afresh.steps, afresh.converged)


@pytest.mark.parametrize("name", pipeline.TRAINERS)
def test_a_run_cut_to_a_lower_cap_equals_the_run_with_that_cap(name):
    cfg, split, loss_fn = split_and_loss("logistic")
    long = pipeline.train(name, loss_fn, split, cfg.optimizer, 0, max_steps=40)
    cap = pipeline.step_cap(name, 40)
    for max_steps in (1, 7, 25, 40):
        afresh = pipeline.train(name, loss_fn, split, cfg.optimizer, 0, max_steps=max_steps)
        assert_same_record(pipeline.capped(long, cap, max_steps), afresh)


def test_a_cap_above_a_run_that_did_not_converge_cannot_be_cut():
    cfg, split, loss_fn = split_and_loss("logistic")
    run = pipeline.train("gd", loss_fn, split, cfg.optimizer, 0, max_steps=10)
    assert not run.converged
    assert pipeline.capped(run, 10, 11) is None
    converged = pipeline.train("lbfgs", loss_fn, split, cfg.optimizer, 0, max_steps=200)
    assert converged.converged
    assert pipeline.capped(converged, 200, 10_000) is converged  # it would stop there again


def test_the_comparison_cut_from_known_runs_equals_every_run_afresh(monkeypatch):
    monkeypatch.setattr(pipeline, "SIDE_BY_SIDE", False)  # exact: each run alone
    cfg, split, loss_fn = split_and_loss("linear")
    cfg.compare_steps = 300
    assert pipeline.same_as_conditioning(cfg)  # the defaults: gd is the conditioning run
    main = pipeline.train(cfg.optimizer.name, loss_fn, split, cfg.optimizer, cfg.seed)
    known = {
        cfg.optimizer.name: (main, cfg.optimizer.max_steps),
        "gd": (pipeline.conditioning_run(split), pipeline.CONDITIONING["max_steps"]),
    }
    cut = pipeline.compared_runs("linear", loss_fn, split, cfg, known)
    afresh = pipeline.compared_runs("linear", loss_fn, split, cfg)
    assert list(cut) == list(afresh)
    for name in afresh:
        assert_same_record(cut[name], afresh[name])
    assert cut["gd"].params is None  # cut from the 20,000-step run: not run again


def test_least_squares_descent_in_numpy_follows_the_autograd_loop_to_rounding():
    for standardize, tol, max_steps in ((False, 1e-6, 1000), (True, 1e-3, 5000)):
        split = load_task("linear", test_size=0.2, standardize=standardize, seed=0)
        lr = 1 / pipeline.lipschitz(split)
        X, y = split.X_train.numpy(), split.y_train.numpy()
        fast = optimize.least_squares_descent(X, y, lr=lr, max_steps=max_steps, tol=tol)
        loop = optimize.gradient_descent(
            lambda w, b, X, y: objective("mse", w, b, X, y), pipeline.zeros(split),
            split.X_train, split.y_train, lr=lr, max_steps=max_steps, tol=tol,
        )  # fmt: skip
        assert (fast.steps, fast.converged) == (loop.steps, loop.converged)
        assert fast.converged == standardize  # the raw run stops at its cap, the other below tol
        np.testing.assert_allclose(fast.losses, loop.losses, rtol=1e-13)
        np.testing.assert_allclose(fast.grad_norms, loop.grad_norms, rtol=1e-8)
        np.testing.assert_allclose(fast.grad_norms[:100], loop.grad_norms[:100], rtol=1e-11)
        for ours, theirs in zip(fast.params, loop.params, strict=True):
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-11)


def comparison(task, compare_steps):
    """``compared_runs`` of ``task`` with the default settings and the mini-batch run of the
    comparison: name -> record."""
    cfg, split, loss_fn = split_and_loss(task)
    cfg.compare_steps = compare_steps
    batch = len(split.X_train) // 10
    extra = {"minibatch": side_by_side.Run(
        "gd", 0.5 / pipeline.lipschitz(split), batch, torch.Generator().manual_seed(cfg.seed)
    )}  # fmt: skip
    return pipeline.compared_runs(task, loss_fn, split, cfg, None, extra)


def test_the_comparison_side_by_side_gives_every_record_of_the_runs_alone(monkeypatch):
    stacked = comparison("logistic", 150)  # a run stopping early: tests/week3/test_side_by_side
    monkeypatch.setattr(pipeline, "SIDE_BY_SIDE", False)
    alone = comparison("logistic", 150)
    assert list(stacked) == list(alone) == [*pipeline.TRAINERS, "minibatch"]
    for name, theirs in alone.items():
        ours = stacked[name]
        assert (ours.steps, ours.converged) == (theirs.steps, theirs.converged), name
        if name in (*pipeline.STACKED, "minibatch"):
            np.testing.assert_allclose(ours.losses, theirs.losses, rtol=1e-13, err_msg=name)
        else:  # rmsprop alone, lbfgs, newton: the same runs
            assert_same_record(ours, theirs)


@pytest.mark.parametrize("exercise", ["loss_and_gradient", "l2_penalty"])
def test_the_comparison_runs_one_at_a_time_with_a_learners_function(monkeypatch, exercise):
    function = {"loss_and_gradient": optimize.loss_and_gradient, "l2_penalty": l2_penalty}
    calls = []

    def mine(*args):
        calls.append(1)
        return function[exercise].__wrapped__(*args)

    with using({function[exercise].exercise.key: mine}):
        chosen = comparison("logistic", 5)
    assert calls
    monkeypatch.setattr(pipeline, "SIDE_BY_SIDE", False)
    alone = comparison("logistic", 5)
    for name in alone:
        assert_same_record(chosen[name], alone[name])  # exact: the one-run loop ran


def test_the_standardized_conditioning_run_in_numpy_stops_where_rounding_cannot_move_it():
    split = load_task("linear", test_size=0.2, standardize=True, seed=0)
    run = pipeline.conditioning_steps(split)
    assert run.converged
    assert run.steps == 5678
    tol = pipeline.CONDITIONING["tol"]
    # the autograd loop's norms are within 1e-8 of these (test above): the crossing of tol
    # lies between the last two steps by margins far wider than that
    assert run.grad_norms[-2] > tol * (1 + 1e-4)
    assert run.grad_norms[-1] < tol * (1 - 1e-4)


def test_the_raw_conditioning_run_takes_the_autograd_loop_with_a_learners_function(monkeypatch):
    monkeypatch.setitem(pipeline.CONDITIONING, "max_steps", 5)
    split = load_task("linear", test_size=0.2, standardize=False, seed=0)
    calls = []

    def mine(*args):
        calls.append(1)
        return optimize.loss_and_gradient.__wrapped__(*args)

    with using({optimize.loss_and_gradient.exercise.key: mine}):
        chosen = pipeline.conditioning_steps(split)
    assert len(calls) == 6  # steps 0..5: the learner's function measured every one
    fast = pipeline.conditioning_steps(split)
    np.testing.assert_allclose(chosen.losses, fast.losses, rtol=1e-13)


def logged(client, run):
    """Every metric of a run with its whole history: name -> [(step, value), ...]."""
    history = {}
    for name in run.data.metrics:
        points = client.get_metric_history(run.info.run_id, name)
        history[name] = sorted((m.step, m.value) for m in points)
    return history


def assert_same_metrics(first, second, to_rounding=()):
    """Every metric's history equal, those named in ``to_rounding`` to 1e-13 relative."""
    assert first.keys() == second.keys()
    for name in first:
        a, b = first[name], second[name]
        if name in to_rounding:
            assert [p[0] for p in a] == [q[0] for q in b], f"{name}: other steps"
            np.testing.assert_allclose([p[1] for p in a], [q[1] for q in b], rtol=1e-13)
            continue
        same = len(a) == len(b) and all(
            p == q or (math.isnan(p[1]) and math.isnan(q[1])) for p, q in zip(a, b, strict=True)
        )
        assert same, f"{name} differs"


# a further whole run, twice; the fast set checks each path alone (the tests above)
@pytest.mark.slow
def test_runs_cut_from_longer_ones_and_numpy_conditioning_log_the_metrics_of_the_plain_path(
    tracking_uri, runs_of, monkeypatch
):
    overrides = [*QUICK, "tasks=[linear]", "figures=false", f"tracking.uri={tracking_uri}"]
    monkeypatch.setitem(pipeline.CONDITIONING, "max_steps", 3000)  # the autograd raw run: 3,000
    run_tracked(compose_config("week3", *overrides), "week3", pipeline.run)
    monkeypatch.setattr(pipeline, "REUSE_RUNS", False)  # the straightforward path:
    monkeypatch.setattr(pipeline, "NUMPY_CONDITIONING", False)  # every run afresh, on autograd,
    monkeypatch.setattr(pipeline, "SIDE_BY_SIDE", False)  # alone
    run_tracked(compose_config("week3", *overrides), "week3", pipeline.run)
    afresh, cut = runs_of("week3")  # newest first
    stacked = [f"linear.compare.{name}.loss" for name in (*pipeline.STACKED, "sgd_batch_35")]
    assert_same_metrics(logged(runs_of.client, cut), logged(runs_of.client, afresh), stacked)
    assert len(cut.data.metrics) > 30


@pytest.mark.slow  # two further whole runs; the fast set sends an error across (below)
def test_the_comparison_run_in_the_second_process_logs_the_metrics_of_the_run_itself(
    tracking_uri, runs_of, monkeypatch
):
    monkeypatch.setenv(THREADS_ENV, "2")  # a second process (one thread: none)
    overrides = [*QUICK, "figures=false", f"tracking.uri={tracking_uri}"]
    in_this_process, records = [], pipeline.comparison_records

    def comparison_records(task, *args):
        in_this_process.append(task)
        return records(task, *args)

    monkeypatch.setattr(pipeline, "comparison_records", comparison_records)
    run_tracked(compose_config("week3", *overrides), "week3", pipeline.run)
    assert in_this_process == ["linear"]  # the logistic task's came from the second process
    monkeypatch.setattr(pipeline, "COMPARE_ASIDE", False)
    run_tracked(compose_config("week3", *overrides), "week3", pipeline.run)
    assert in_this_process == ["linear", "linear", "logistic"]
    here, aside = runs_of("week3")  # newest first
    assert_same_metrics(logged(runs_of.client, aside), logged(runs_of.client, here))
    assert len(aside.data.metrics) > 50


def test_a_divergence_crosses_to_another_process_whole():
    error = pickle.loads(pickle.dumps(optimize.Diverged(7, 0.5, math.inf)))
    assert (error.step, error.lr, error.loss) == (7, 0.5, math.inf)
    assert str(error) == "diverged at step 7; lower the learning rate (lr=0.5)"


@pytest.mark.slow  # two further whole runs; the toy week's twin is in the fast set
def test_figures_false_logs_no_figure_and_the_same_metrics(tracking_uri, runs_of):
    base = [*QUICK, "tasks=[logistic]", f"tracking.uri={tracking_uri}"]
    for figures in ("true", "false"):
        run_tracked(compose_config("week3", *base, f"figures={figures}"), "week3", pipeline.run)
    without, with_figures = runs_of("week3")
    client = runs_of.client
    assert_same_metrics(logged(client, without), logged(client, with_figures))
    assert client.list_artifacts(with_figures.info.run_id, "figures")
    assert not client.list_artifacts(without.info.run_id, "figures")


class Records(logging.Handler):
    """Every record MLflow's loggers emit while attached."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def mlflow_records():
    handler, logger = Records(), logging.getLogger("mlflow")
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


def test_the_logged_model_pins_torch_without_a_local_label_and_says_nothing_routine(
    tracking_uri, mlflow_records, recwarn
):
    import mlflow
    from mlflow.utils.requirements_utils import _get_pinned_requirement

    if "+" in torch.__version__:  # the capture sees MLflow's warning where it has a cause
        _get_pinned_requirement("torch")
        assert any("local version label" in m for m in mlflow_records)
        mlflow_records.clear()
    split = load_task("logistic", test_size=0.2, standardize=True, seed=0)
    w, b = np.linspace(-1.0, 2.0, split.X_train.shape[1]), np.float64(0.25)
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(experiment_id=ensure_experiment("week3", tracking_uri)):
        pipeline.log_model("logistic", w, b, split)
        uri = f"runs:/{mlflow.active_run().info.run_id}/logistic_model"
    label = [m for m in mlflow_records if "local version label" in m]
    label += [str(w.message) for w in recwarn if "local version label" in str(w.message)]
    assert label == []
    assert [m for m in mlflow_records if "signature" in m] == []  # "Inferring model signature"
    requirements = mlflow.pyfunc.get_model_dependencies(uri)
    with open(requirements) as lines:
        pinned = lines.read().split()
    assert f"torch=={torch.__version__.split('+')[0]}" in pinned
    model = mlflow.pyfunc.load_model(uri)
    X = split.X_test[:5].numpy()
    logits = model.predict(X)
    assert logits.shape == (5, 1)
    np.testing.assert_allclose(logits[:, 0], X @ w + b, rtol=1e-12)  # float64 throughout
    layer = model.unwrap_python_model().layer  # the torch layer, rebuilt without unpickling
    assert isinstance(layer, torch.nn.Linear)
    assert layer.weight.dtype == torch.float64
    np.testing.assert_array_equal(layer.weight.detach().numpy(), w.reshape(1, -1))
    assert layer.bias.item() == b
