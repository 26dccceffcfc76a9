"""Embeddings and clustering: a PCA embedding of the digits, k-means in it, search in it (W4.6).

Embedding. With the training rows centred, X - 1 mu^T = U S V^T (SVD), the first d rows of
V^T (the leading eigenvectors of the scatter matrix, W1.4) are the directions of largest
variance, and z = V_d^T (x - mu) embeds x in R^d. For
d = the full dimension the embedding is a rotation of the centred data: distances and
angles between centred points, and so nearest neighbours, are the same as in pixel space.

k-means (Lloyd's algorithm). Given centres c_1, ..., c_K, repeat

    assign   l_i = argmin_k ||x_i - c_k||_2^2
    update   c_k = mean of the x_i with l_i = k

until the assignment no longer changes. Each step lowers the inertia
J = sum_i ||x_i - c_{l_i}||^2, which takes finitely many values: the loop ends, at a local
minimum that depends on the initial centres. A cluster that loses all its points keeps
its centre (scikit-learn moves it to a far point instead).

Sources:
- S. P. Lloyd, "Least squares quantization in PCM", IEEE Trans. Inf. Theory 28 (1982).
- M. P. Deisenroth, A. A. Faisal, C. S. Ong, "Mathematics for Machine Learning" (2020),
  chapter 10 (PCA), 11.2 (k-means as the limit of a Gaussian mixture).
"""

import numpy as np

from common.exercises import exercise
from common.validation import check_int
from projects.week4_tree_search.search import SimilarityIndex


def pca_fit(X, n_components):
    """(mu, V_d^T): the mean and the d leading eigenvectors of the scatter matrix
    (X - 1 mu^T)^T (X - 1 mu^T) = V S^2 V^T, i.e. the first d right singular vectors, (d, p).

    Signs: each component's largest entry in absolute value is made positive.
    """
    X = np.asarray(X, dtype=np.float64)
    n_components = check_int(n_components, "n_components", 1, min(X.shape))
    mu = X.mean(axis=0)
    centred = X - mu
    _, V = np.linalg.eigh(centred.T @ centred)  # eigenvalues ascending; p x p: cheap, p = 64
    Vt = V[:, ::-1][:, :n_components].T
    signs = np.sign(Vt[np.arange(n_components), np.abs(Vt).argmax(axis=1)])
    return mu, Vt * signs[:, np.newaxis]


def pca_transform(X, mu, components):
    """z = V_d^T (x - mu) for every row x of X, shape (n, d)."""
    return (np.asarray(X, dtype=np.float64) - mu) @ components.T


@exercise("W4.6", hint="broadcast X[:, None, :] - centres[None] to (n, K, d); argmin over K")
def assign(X, centres):
    """l_i = argmin_k ||x_i - c_k||^2 for points X (n, d) and centres (K, d) (from the
    differences: no cancellation), shape (n,); ties: the lower k."""
    squared = ((X[:, np.newaxis, :] - centres[np.newaxis]) ** 2).sum(axis=2)  # (n, K)
    return squared.argmin(axis=1)


@exercise("W4.6", hint="np.bincount counts each cluster; np.add.at sums its rows")
def update(X, labels, centres):
    """c_k = mean of the rows of X (n, d) with label k (labels (n,) in 0..K-1); an empty
    cluster keeps its centre from centres (K, d). Shape (K, d)."""
    K = len(centres)
    counts = np.bincount(labels, minlength=K)
    sums = np.zeros_like(centres)
    np.add.at(sums, labels, X)
    return np.where(counts[:, np.newaxis] > 0, sums / np.maximum(counts, 1)[:, np.newaxis], centres)


def inertia(X, labels, centres):
    """J = sum_i ||x_i - c_{l_i}||^2."""
    return float(((X - centres[labels]) ** 2).sum())


def kmeans(X, init, max_iter=300):
    """Lloyd's algorithm from the centres ``init`` (K, d): (labels, centres, inertias).

    Stops when an assignment repeats the previous one (then the update changes nothing),
    or after max_iter assignments; ``inertias`` holds J after each update.
    """
    X = np.asarray(X, dtype=np.float64)
    centres = np.array(init, dtype=np.float64)
    if centres.ndim != 2 or centres.shape[1] != X.shape[1]:
        raise ValueError(f"init must be (n_clusters, {X.shape[1]}), got {centres.shape}")
    labels, inertias = np.full(len(X), -1), []
    for _ in range(max_iter):
        new_labels = assign(X, centres)
        centres = update(X, new_labels, centres)
        inertias.append(inertia(X, new_labels, centres))
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
    return new_labels, centres, inertias


def embedding_search(Z_train, Z_test, dims, k, metric):
    """{d: ids (n_test, k)}: each test row's k nearest training rows on the first d
    coordinates of an embedding (PCA: the d directions of largest variance), searched
    with ``SimilarityIndex``."""
    return {
        d: SimilarityIndex(metric=metric).fit(Z_train[:, :d]).search(Z_test[:, :d], k)[1]
        for d in dims
    }
