"""Dijkstra and BFS components against ``scipy.sparse.csgraph`` (W4.X3).

References and tolerances: ``scipy.sparse.csgraph.dijkstra`` (directed): the same reachable
nodes, distances within 1e-9 absolute, and a predecessor path whose edge weights add up to
the distance; ``connected_components(directed=True, connection="weak")``: the same number
of components and the same partition (labels up to renaming).
"""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import connected_components, dijkstra

from common.grading import grades
from projects.week4_tree_search import graphs
from projects.week4_tree_search.search import knn_graph


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_graph(n, density, seed):
    """A directed graph with weights in (0, 1], some of them exactly 0 after rounding."""
    rng = np.random.default_rng(seed)
    graph = sp.random(n, n, density=density, format="csr", random_state=rng)
    graph.data = np.round(graph.data, 1)  # explicit zeros: edges of length 0
    return graph


def path_weight(graph, path):
    return sum(float(graph[u, v]) for u, v in itertools.pairwise(path))


def assert_matches_scipy(graph, source):
    d, pred = graphs.dijkstra(graph, source)
    reference = dijkstra(graph, directed=True, indices=source)
    np.testing.assert_array_equal(np.isfinite(d), np.isfinite(reference))
    np.testing.assert_allclose(d[np.isfinite(d)], reference[np.isfinite(d)], rtol=0, atol=1e-9)
    for target in np.flatnonzero(np.isfinite(d))[:20]:
        path = graphs.path_to(pred, target)
        assert path[0] == source
        assert path[-1] == target
        assert path_weight(graph, path) == pytest.approx(d[target], abs=1e-9)


@grades(graphs.dijkstra)
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("density", [0.01, 0.05])
def test_dijkstra_matches_scipy_on_random_graphs(seed, density):
    graph = random_graph(300, density, seed)
    for source in (0, 17, 299):
        assert_matches_scipy(graph, source)


@grades(graphs.dijkstra)
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_dijkstra_matches_scipy_on_a_knn_graph(metric):
    X = np.random.default_rng(0).standard_normal((400, 8))
    graph = knn_graph(X, 5, metric=metric, mode="distance")
    graph.data = np.maximum(graph.data, 0)
    assert_matches_scipy(graph, 0)


@grades(graphs.dijkstra)
def test_dijkstra_by_hand():
    # 0 -> 1 (4), 0 -> 2 (1), 2 -> 1 (2), 1 -> 3 (1); 4 is unreachable
    graph = sp.csr_matrix(([4.0, 1.0, 2.0, 1.0], ([0, 0, 2, 1], [1, 2, 1, 3])), shape=(5, 5))
    d, pred = graphs.dijkstra(graph, 0)
    np.testing.assert_array_equal(d, [0.0, 3.0, 1.0, 4.0, np.inf])
    assert graphs.path_to(pred, 3) == [0, 2, 1, 3]


@grades(graphs.connected_components_bfs)
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("density", [0.002, 0.005, 0.02])
def test_bfs_components_match_scipy(seed, density):
    graph = random_graph(500, density, seed)
    n, labels = graphs.connected_components_bfs(graph)
    n_ref, reference = connected_components(graph, directed=True, connection="weak")
    assert n == n_ref
    assert graphs.same_partition(labels, reference)


@grades(graphs.connected_components_bfs)
@pytest.mark.parametrize("k", [1, 2, 4])
def test_bfs_components_of_knn_graphs_match_scipy(k):
    X = np.random.default_rng(1).standard_normal((600, 6))
    graph = knn_graph(X, k)
    n, labels = graphs.connected_components_bfs(graph)
    n_ref, reference = connected_components(graph, directed=True, connection="weak")
    assert n == n_ref
    assert graphs.same_partition(labels, reference)


def test_nearest_subgraph_is_the_sparser_knn_graph():
    X = np.random.default_rng(2).standard_normal((300, 5))
    big = knn_graph(X, 6, mode="distance")
    for k in (1, 3, 6):
        small = knn_graph(X, k, mode="distance")
        assert (graphs.nearest_subgraph(big, k) != small).nnz == 0


def test_same_partition_ignores_names_only():
    assert graphs.same_partition([0, 0, 1, 2], [5, 5, 3, 4])
    assert not graphs.same_partition([0, 0, 1, 1], [0, 1, 1, 1])
    assert not graphs.same_partition([0, 1, 1], [0, 0, 0])


def test_bad_graphs_are_rejected():
    with pytest.raises(
        ValueError, match=r"^graph must be a square \(n, n\) matrix, got shape \(2, 3\)$"
    ):
        graphs.dijkstra(sp.csr_matrix(np.ones((2, 3))), 0)
    with pytest.raises(ValueError, match=r"^edge weights must be >= 0 for Dijkstra, got -1.0$"):
        graphs.dijkstra(sp.csr_matrix(np.array([[0.0, -1.0], [0.0, 0.0]])), 0)
    with pytest.raises(ValueError, match=r"^source must be a node in \[0, 2\), got 2$"):
        graphs.dijkstra(sp.csr_matrix(np.ones((2, 2))), 2)
