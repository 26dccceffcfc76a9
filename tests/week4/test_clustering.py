"""PCA embedding, k-means and search in the embedding against scikit-learn (W4.6).

References and tolerances:
- ``sklearn.decomposition.PCA``: the embedding equal up to each component's sign, 1e-9;
- ``sklearn.cluster.KMeans(init=<same centres>, n_init=1, algorithm="lloyd", tol=0)``: the
  same labels, centres within 1e-10, inertia rtol 1e-10, the same number of iterations;
- search in the embedding: the neighbours ``sklearn.neighbors.NearestNeighbors(algorithm=
  "brute")`` finds on ``PCA(d)`` coordinates (ids, digits: no ties at these k); the full
  embedding is a rotation of the centred pixels, so it finds the pixel space's neighbours.
"""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from common.grading import grades
from projects.week4_tree_search import clustering


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits():
    X = load_digits().data
    return X[:1200], X[1200:1400]


@pytest.mark.parametrize("d", [2, 16, 64])
def test_embedding_matches_sklearn_pca_up_to_sign(digits, d):
    X, _ = digits
    mu, components = clustering.pca_fit(X, d)
    Z = clustering.pca_transform(X, mu, components)
    reference = PCA(d).fit(X).transform(X)
    signs = np.sign((Z * reference).sum(axis=0))
    np.testing.assert_allclose(Z, reference * signs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(components @ components.T, np.eye(d), atol=1e-12)


@grades(clustering.assign, clustering.update)
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("d", "K"), [(16, 10), (2, 5)])
def test_kmeans_matches_sklearn_lloyd_from_the_same_centres(digits, seed, d, K):
    X, _ = digits
    mu, components = clustering.pca_fit(X, d)
    Z = clustering.pca_transform(X, mu, components)
    init = Z[np.random.default_rng(seed).choice(len(Z), K, replace=False)]
    labels, centres, inertias = clustering.kmeans(Z, init)
    reference = KMeans(K, init=init, n_init=1, algorithm="lloyd", tol=0.0).fit(Z)
    np.testing.assert_array_equal(labels, reference.labels_)
    np.testing.assert_allclose(centres, reference.cluster_centers_, rtol=0, atol=1e-10)
    assert inertias[-1] == pytest.approx(reference.inertia_, rel=1e-10)
    assert len(inertias) == reference.n_iter_
    assert np.all(np.diff(inertias) <= 1e-9 * inertias[0])  # Lloyd never raises the inertia


@grades(clustering.assign, clustering.update)
def test_kmeans_by_hand_on_two_groups():
    X = np.array([[0.0], [1.0], [10.0], [11.0]])
    labels, centres, inertias = clustering.kmeans(X, init=X[[0, 1]])
    assert labels.tolist() == [0, 0, 1, 1]
    np.testing.assert_allclose(centres, [[0.5], [10.5]])
    assert inertias[-1] == pytest.approx(4 * 0.25)


@grades(clustering.assign, clustering.update)
def test_an_empty_cluster_keeps_its_centre():
    X = np.array([[0.0], [1.0]])
    labels, centres, _ = clustering.kmeans(X, init=[[0.5], [100.0]])
    assert labels.tolist() == [0, 0]
    assert centres[1, 0] == 100.0


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_search_in_the_embedding_matches_sklearn_pca_and_nearest_neighbors(digits, metric):
    X, queries = digits
    mu, components = clustering.pca_fit(X, 64)
    Z, Z_queries = (clustering.pca_transform(A, mu, components) for A in (X, queries))
    found = clustering.embedding_search(Z, Z_queries, [2, 8, 64], 5, metric)
    for d in (2, 8, 64):
        pca = PCA(d).fit(X)
        reference = (
            NearestNeighbors(n_neighbors=5, metric=metric, algorithm="brute")
            .fit(pca.transform(X))
            .kneighbors(pca.transform(queries), return_distance=False)
        )
        D = cdist(pca.transform(queries), pca.transform(X), metric=metric)  # signs: no matter
        assert_same_neighbours(found[d], reference, D, metric)
    # the full embedding rotates the centred pixels: it finds their exact neighbours
    D = cdist(queries - mu, X - mu, metric=metric)
    assert_same_neighbours(found[64], np.argsort(D, axis=1, kind="stable")[:, :5], D, metric)


def assert_same_neighbours(ids, reference_ids, D, metric):
    """The same k nearest up to ties: the float64 distances of ours, sorted, equal the
    reference's (1e-5 absolute for cosine, 1e-4 relative for euclidean: float32 ranks)."""
    ours = np.sort(np.take_along_axis(D, ids, axis=1), axis=1)
    theirs = np.take_along_axis(D, reference_ids, axis=1)
    tolerance = {"atol": 1e-5, "rtol": 0} if metric == "cosine" else {"atol": 0, "rtol": 1e-4}
    np.testing.assert_allclose(ours, theirs, **tolerance)


def test_bad_dimensions_are_rejected(digits):
    with pytest.raises(ValueError, match=r"^n_components must be an int in \[1, 64\], got 65$"):
        clustering.pca_fit(digits[0], 65)
    with pytest.raises(ValueError, match=r"^n_components must be an int in \[1, 64\], got 2.5$"):
        clustering.pca_fit(digits[0], 2.5)
    with pytest.raises(ValueError, match=r"^init must be \(n_clusters, 2\), got \(2, 3\)$"):
        clustering.kmeans(np.zeros((4, 2)), init=np.zeros((2, 3)))
