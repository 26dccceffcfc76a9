"""Week 4 end to end: the real CLI logs what the README promises; bad settings fail at once."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hydra.errors import ConfigCompositionException

from common.estimator_files import pinned
from common.tracking import run_tracked
from projects.week4_tree_search import config, pipeline  # noqa: F401  (config registers the schema)
from projects.week4_tree_search.data import load_split
from projects.week4_tree_search.search import knn_graph
from tests.pickles import pickle_files, unpickled_classes
from tests.test_curriculum import logged_names
from tests.weeks import compose_config, run_in_process_own_store


def torch_cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


QUICK = ["curse.dims=[2,20,200]", "curse.n_points=200"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, empty_store):
    """One week-4 run as the CLI runs it, in this process, in a store of its own."""
    folder = tmp_path_factory.mktemp("week4")
    client, run, uri = run_in_process_own_store(
        "week4_tree_search", "week4", QUICK, folder, empty_store
    )
    return client, run, folder, uri


def test_default_run_logs_what_the_readme_promises(finished_run):
    client, run, folder, _ = finished_run
    assert run.info.status == "FINISHED"
    metrics = run.data.metrics
    assert metrics["search_recall_vs_bruteforce"] == 1.0
    assert metrics["search_recall_vs_sklearn"] == 1.0
    assert metrics["search_precision_at_k"] > 0.9  # digits: neighbours mostly share the label
    assert metrics["root_split_matches"] == 1.0
    assert metrics["information_max_abs_error"] < 1e-12
    assert metrics["norms_max_abs_error"] < 1e-9
    assert metrics["log_loss_abs_diff"] < 1e-12
    assert metrics["numpy_search_recall_vs_bruteforce"] == 1.0
    # the Euclidean expansion cancels on the diagonal: sqrt(ulps of ||x||^2 ~ 1e4) ~ 1e-6
    assert metrics["distances_max_abs_error"] < 1e-5
    assert metrics["relative_contrast_highest_dim"] < metrics["relative_contrast_lowest_dim"] / 10
    for name in ("iris", "wine", "breast_cancer"):
        assert abs(metrics[f"{name}.root_gain_minus_mutual_information"]) < 1e-12
        for by_hand in ("root_information_gain", "root_mutual_information"):
            assert metrics[f"{name}.{by_hand}"] == pytest.approx(
                metrics[f"{name}.root_gain"], abs=1e-12
            )
        assert metrics[f"{name}.tree_accuracy"] > 0.85
    assert metrics["headline"] == pytest.approx(metrics["tree_accuracy"])
    # the roadmap steps: each against its reference, tolerances as in their unit tests
    assert abs(metrics["svm_objective_rel_diff"]) < 1e-5
    assert metrics["svm_margin"] == pytest.approx(metrics["svm_sklearn_margin"], rel=5e-5)
    assert metrics["svm_support_vectors_match"] == 1.0
    assert metrics["kmeans_label_agreement"] == 1.0
    assert abs(metrics["kmeans_inertia_rel_diff"]) < 1e-10
    assert metrics["kmeans_iterations"] == metrics["kmeans_sklearn_iterations"]
    assert metrics["embedding_recall_at_k_highest_dim"] == 1.0  # all 64 components: a rotation
    assert metrics["embedding_recall_at_k_lowest_dim"] < 0.5
    assert metrics["dijkstra_same_reachable"] == 1.0
    assert metrics["dijkstra_max_abs_diff_vs_scipy"] < 1e-9
    assert metrics["components_same_partition"] == 1.0
    assert metrics["selection_mi_max_abs_diff"] < 1e-12
    assert metrics["selection_same_ranking"] == 1.0
    client.download_artifacts(run.info.run_id, "", str(folder / "artifacts"))
    for name in logged_names(week=4):
        if "/" in name or name.endswith(".json"):
            assert (folder / "artifacts" / name).exists(), f"README promises artifact {name}"
        else:
            assert name in metrics, f"README promises metric {name}"


def test_logged_tree_model_predicts_like_the_tree(finished_run, tmp_path):
    import mlflow.pyfunc

    _, run, _, uri = finished_run
    mlflow.set_tracking_uri(uri)
    [model] = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id], output_format="list"
    )
    assert model.name == pipeline.TREE_MODEL
    local = mlflow.artifacts.download_artifacts(model.model_uri, dst_path=str(tmp_path))
    assert pickle_files(local) == []
    split = load_split("iris", test_size=0.3, seed=0)
    with unpickled_classes() as found:
        loaded = mlflow.pyfunc.load_model(model.model_uri)
        served = loaded.predict(split.X_test)
    assert found == []
    assert str(loaded.metadata.signature.inputs) == "[Tensor('float64', (-1, 4))]"
    tree, _ = pipeline.build_tree(compose_config("week4").tree, seed=0)
    expected = tree.fit(split.X_train, split.y_train).predict(split.X_test)
    np.testing.assert_array_equal(served, expected)


@pytest.mark.slow
def test_pinned_model_requirements_are_what_mlflow_would_infer(finished_run):
    """The run pins the model's requirements (inferring them loads the model again in a
    subprocess, a quarter of the run); MLflow's inference on the logged model finds the same
    packages at the same versions, besides pytest, which its capture process imports."""
    import mlflow
    from mlflow.models import infer_pip_requirements

    _, run, _, uri = finished_run
    mlflow.set_tracking_uri(uri)
    [model] = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id], output_format="list"
    )
    inferred = infer_pip_requirements(model.model_uri, "python_function")
    logged = pinned(pipeline.TREE_MODEL_PACKAGES)
    defaults = [f"mlflow=={mlflow.__version__}", *mlflow.pyfunc.get_default_pip_requirements()]
    assert set(logged) == {*(r for r in inferred if not r.startswith("pytest==")), *defaults}


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "manhattan"])
def test_connectivity_read_from_the_distance_graph_is_the_connectivity_graph(metric):
    """The run searches the digits' k-NN graph once, by distance and in blocks of 4096 rows,
    and reads the connectivity graph off it; the straightforward path searched again."""
    X = load_split("digits", test_size=0.2, seed=0).X_train
    by_distance = knn_graph(X, 10, metric=metric, mode="distance", block_size=4096)
    expected = knn_graph(X, 10, metric=metric, mode="connectivity")
    edges = pipeline.connectivity(by_distance)
    assert edges.shape == expected.shape
    for part in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(edges, part), getattr(expected, part))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["tree.datasets=[mnist]"], r"tree.datasets must be a non-empty list"),
        (["tree.boundary_features=[2,2]"], r"two different column indices in \[0, 4\)"),
        (["tree.boundary_features=[0,9]"], r"boundary_features"),
        (
            ["tree.min_samples_leaf=0"],
            r"^ValueError: tree.min_samples_leaf must be an int >= 1, got 0$",
        ),
        (["tree.max_depth=0"], r"^ValueError: tree.max_depth must be an int >= 1 or None, got 0$"),
        (["search.k=0"], r"k must be"),
        (["search.k=100000"], r"k must be <= \d+ \(the database size\)"),
        (
            ["search.block_size=1000"],
            r"^ValueError: search.block_size must be a multiple of chunk_size \(32\), got 1000$",
        ),
        (["curse.dims=[]"], r"curse.dims must be"),
        (
            ["tree.test_size=1.5"],
            r"^ValueError: tree.test_size must be a finite number in \(0, 1\), got 1.5$",
        ),
        (["svm.dataset=digits"], r"svm.dataset must be one of"),
        (["svm.features=[2,9]"], r"svm.features must be two different column indices"),
        (["svm.classes=[1,1]"], r"svm.classes must be two different labels of iris"),
        (["svm.classes=[1,5]"], r"svm.classes must be two different labels"),
        (["svm.C=0"], r"^ValueError: svm.C must be a finite number > 0, got 0.0$"),
        (["svm.max_iter=0"], r"^ValueError: svm.max_iter must be an int >= 1, got 0$"),
        (
            ["embedding.search_dims=[2,100]"],
            r"embedding.search_dims must be dimensions in \[1, 64\]",
        ),
        (["embedding.dim=0"], r"embedding.dim and embedding.search_dims"),
        (["embedding.n_clusters=0"], r"embedding.n_clusters must be in"),
        (["graph.source=-1"], r"graph.source must be in"),
        (["graph.component_ks=[20]"], r"graph.component_ks must be in \[1, search.k = 10\]"),
        (["selection.dataset=digits"], r"selection.dataset must be one of"),
        (["selection.n_bins=1"], r"selection.n_bins must be >= 2"),
        (["selection.top_k=31"], r"selection.top_k in \[1, 30\]"),
    ],
)
def test_bad_settings_fail_before_any_work(overrides, message, tracking_uri, runs_of):
    cfg = compose_config("week4", *QUICK, *overrides, f"tracking.uri={tracking_uri}")
    with pytest.raises(SystemExit):
        run_tracked(cfg, "week4", pipeline.run)
    [run] = runs_of("week4")
    assert run.info.status == "FAILED"
    assert re.search(message, run.data.tags["error"]), run.data.tags["error"]
    assert "information_max_abs_error" not in run.data.metrics  # nothing was computed


@pytest.mark.skipif(torch_cuda_available(), reason="this machine has a CUDA GPU")
def test_device_cuda_without_a_gpu_fails_in_one_line_before_any_work(tracking_uri, runs_of):
    cfg = compose_config("week4", *QUICK, "device=cuda", f"tracking.uri={tracking_uri}")
    with pytest.raises(SystemExit):
        run_tracked(cfg, "week4", pipeline.run)
    [run] = runs_of("week4")
    assert run.info.status == "FAILED"
    error = run.data.tags["error"]
    assert "device=cuda but torch sees no CUDA GPU" in error
    assert "\n" not in error.strip()
    assert "use device=cpu or device=auto" in error
    assert not run.data.metrics  # nothing was computed


def test_device_auto_runs_the_search_where_torch_finds_a_device():
    import torch

    cfg = compose_config("week4", "device=auto")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert pipeline.torch_device(cfg.device).type == expected
    assert compose_config("week4").device == "cpu"  # the default: the same numbers anywhere


@pytest.mark.slow  # a further whole run; week 1's twin stays in the fast set
def test_without_figures_every_metric_and_table_is_the_same(finished_run, tracking_uri, runs_of):
    """figures=false (a sweep's jobs) skips drawing and what only a figure needs."""
    from mlflow.tracking import MlflowClient

    client, with_figures, folder, _ = finished_run
    cfg = compose_config("week4", *QUICK, "figures=false", f"tracking.uri={tracking_uri}")
    run_tracked(cfg, "week4", pipeline.run)
    [run] = runs_of("week4")
    assert run.info.status == "FINISHED"
    assert run.data.metrics == with_figures.data.metrics
    quiet = MlflowClient(tracking_uri)
    assert not quiet.list_artifacts(run.info.run_id, "figures")
    assert client.list_artifacts(with_figures.info.run_id, "figures")
    for table in client.list_artifacts(with_figures.info.run_id, "tables"):
        ours = quiet.download_artifacts(run.info.run_id, table.path, str(folder / "quiet"))
        theirs = client.download_artifacts(with_figures.info.run_id, table.path, str(folder))
        assert Path(ours).read_text() == Path(theirs).read_text(), table.path


def test_the_kmeans_reference_is_the_same_to_the_last_bit_on_one_thread_or_two():
    """The run's limit decides the OpenMP pool; the logged rounding gap must not depend on it."""
    from sklearn.datasets import load_digits
    from threadpoolctl import threadpool_limits

    Z = load_digits().data[:, 20:36]
    init = Z[np.random.default_rng(0).choice(len(Z), 10, replace=False)]
    fits = []
    for threads in (1, 2):
        with threadpool_limits(threads, user_api="openmp"):
            fits.append(pipeline.sklearn_kmeans(Z, init))
    assert fits[0].inertia_ == fits[1].inertia_
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)


def test_config_typos_fail_at_composition():
    with pytest.raises(ConfigCompositionException):
        compose_config("week4", "tree.max_dept=3")


def test_recall_counts_ties_at_the_kth_place_but_not_a_farther_neighbour():
    distances = np.array([[0.1, 0.2, 0.2, 0.9]])  # ids 1 and 2 tie for second place
    reference = np.array([[0, 1]])
    assert pipeline.recall(np.array([[0, 2]]), reference, distances) == 1.0  # the tie
    assert pipeline.recall(np.array([[0, 3]]), reference, distances) == 0.5  # id 3 is farther
