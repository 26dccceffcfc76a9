"""Norms, distances and the curse of dimensionality, each a small NumPy function.

Norms (W4.2) of a vector x in R^d and a matrix A in R^{m x n}:

    ||x||_1 = sum_i |x_i|,    ||x||_2 = sqrt(sum_i x_i^2),    ||A||_F = sqrt(sum_ij A_ij^2).

Distances and similarity between the rows a of A (m x d) and b of B (n x d) (W4.1, W4.P1):

    euclidean(a, b) = ||a - b||_2 = sqrt(||a||^2 + ||b||^2 - 2 a.b)
    manhattan(a, b) = ||a - b||_1
    cosine(a, b)    = a.b / (||a||_2 ||b||_2)

The expanded Euclidean form turns all m n distances into one matrix product A B^T, the
shape every fast nearest-neighbour search uses (``search.py``). Cosine similarity of a zero
vector is 0 / 0: undefined. Here it raises a ValueError naming the row (scikit-learn
instead returns 0 for it, which silently ranks a zero vector as "orthogonal to everything").

Curse of dimensionality (W4.4). For n points drawn uniformly from [0, 1]^d and a query q,
the relative contrast (D_max - D_min) / D_min of the distances ||x_i - q|| shrinks towards 0
as d grows (Beyer et al. 1999; roughly like 1 / sqrt(d), Aggarwal et al. 2001): in high
dimensions the nearest and the farthest point are almost equally far, and "nearest" says
less and less.

Sources:
- G. Strang, "Introduction to Linear Algebra", 5th ed. (2016), 1.2 (lengths, dot products).
- K. Beyer, J. Goldstein, R. Ramakrishnan, U. Shaft, "When is 'nearest neighbor'
  meaningful?", ICDT 1999.
- C. C. Aggarwal, A. Hinneburg, D. A. Keim, "On the surprising behavior of distance
  metrics in high dimensional space", ICDT 2001.
"""

import numpy as np


def l1_norm(x, axis=-1):
    """||x||_1 = sum_i |x_i| (along ``axis``: the norm of each row of a matrix by default)."""
    return np.sum(np.abs(x), axis=axis)


def l2_norm(x, axis=-1):
    """||x||_2 = sqrt(sum_i x_i^2) (along ``axis``: each row of a matrix by default)."""
    return np.sqrt(np.sum(np.square(x), axis=axis))


def frobenius_norm(A):
    """||A||_F = sqrt(sum_ij A_ij^2) = sqrt(trace(A^T A)): the L2 norm of A as one long vector."""
    return np.sqrt(np.sum(np.square(A)))


def euclidean_distances(A, B):
    """D_ij = sqrt(max(||a_i||^2 + ||b_j||^2 - 2 a_i.b_j, 0)), shape (m, n).

    The clip at 0: for a_i close to b_j the expansion cancels and rounding can leave a tiny
    negative number, whose square root would be NaN.
    """
    squared = l2_norm(A)[:, None] ** 2 + l2_norm(B)[None, :] ** 2 - 2 * A @ B.T
    return np.sqrt(np.maximum(squared, 0))


def manhattan_distances(A, B):
    """D_ij = ||a_i - b_j||_1 = sum_k |a_ik - b_jk|, shape (m, n) (memory m n d: small inputs)."""
    return l1_norm(A[:, None, :] - B[None, :, :])


def unit_rows(A, name="A"):
    """a_i / ||a_i||_2 for every row; a zero row has no direction and raises a ValueError."""
    norms = l2_norm(A)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(
            f"row {zero[0]} of {name} is the zero vector: its cosine similarity is undefined "
            "(0 / 0); drop it or use a distance (euclidean, manhattan)"
        )
    return A / norms[:, None]


def cosine_similarity(A, B=None):
    """S_ij = a_i.b_j / (||a_i||_2 ||b_j||_2), shape (m, n); B = None means B = A.

    Raises a ValueError naming the first zero row of A or B (see the module docstring).
    """
    A_hat = unit_rows(A, "A")
    B_hat = A_hat if B is None else unit_rows(B, "B")
    return A_hat @ B_hat.T


def relative_contrast(n_points, dims, rng, n_queries=10):
    """(D_max - D_min) / D_min of Euclidean distances to a query, for each d in ``dims``.

    For each dimension d: n_points points and n_queries queries uniform in [0, 1]^d; the
    contrast of each query's n_points distances, averaged over the queries. Shape (len(dims),).
    """
    contrast = []
    for d in dims:
        X = rng.uniform(size=(n_points, d))
        queries = rng.uniform(size=(n_queries, d))
        D = euclidean_distances(queries, X)  # shape (n_queries, n_points)
        D_min, D_max = D.min(axis=1), D.max(axis=1)
        contrast.append(np.mean((D_max - D_min) / D_min))
    return np.array(contrast)
