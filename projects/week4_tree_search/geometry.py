"""Norms, distances and the curse of dimensionality, each a small NumPy function.

Norms (W4.2) of a vector x in R^d and a matrix A in R^{m x n}:

    ||x||_1 = sum_i |x_i|,    ||x||_2 = sqrt(sum_i x_i^2),    ||A||_F = sqrt(sum_ij A_ij^2).

Distances and similarity between the rows a of A (m x d) and b of B (n x d) (W4.1, W4.P1):

    euclidean(a, b) = ||a - b||_2 = sqrt(||a||^2 + ||b||^2 - 2 a.b)
    manhattan(a, b) = ||a - b||_1
    cosine(a, b)    = a.b / (||a||_2 ||b||_2)

A brute-force search is the top k of each row of such a matrix (``top_k``, W4.P1; distances
rank as -D). The expanded Euclidean form turns all m n distances into one matrix product A B^T, the
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

from common.exercises import exercise


@exercise("W4.2", hint="np.abs, then np.sum along the given axis")
def l1_norm(x, axis=-1):
    """||x||_1 = sum_i |x_i| along ``axis``: a vector (d,) gives a number, a matrix (m, d)
    the norm of each row, shape (m,) (axis=0: of each column)."""
    return np.sum(np.abs(x), axis=axis)


@exercise("W4.2", hint="square, sum along the axis, square root")
def l2_norm(x, axis=-1):
    """||x||_2 = sqrt(sum_i x_i^2) along ``axis``: a vector (d,) gives a number, a matrix
    (m, d) the norm of each row, shape (m,) (axis=0: of each column)."""
    return np.sqrt(np.sum(np.square(x), axis=axis))


@exercise("W4.2", hint="every entry squared, summed over the whole matrix, then the root")
def frobenius_norm(A):
    """||A||_F = sqrt(sum_ij A_ij^2) = sqrt(trace(A^T A)) of a matrix A (m, n): a number, the
    L2 norm of A as one long vector."""
    return np.sqrt(np.sum(np.square(A)))


@exercise(
    "W4.1", hint="every a_i.b_j at once is A @ B.T; add the squared norms as a column and a row"
)
def euclidean_distances(A, B):
    """D_ij = ||a_i - b_j||_2 = sqrt(max(||a_i||^2 + ||b_j||^2 - 2 a_i.b_j, 0)) for the rows
    of A (m, d) and B (n, d), shape (m, n).

    The clip at 0: for a_i close to b_j the expansion cancels and rounding can leave a tiny
    negative number, whose square root would be NaN.
    """
    squared = l2_norm(A)[:, None] ** 2 + l2_norm(B)[None, :] ** 2 - 2 * A @ B.T
    return np.sqrt(np.maximum(squared, 0))


@exercise(
    "W4.1", hint="broadcasting A[:, None, :] - B[None, :, :] gives every difference, (m, n, d)"
)
def manhattan_distances(A, B):
    """D_ij = ||a_i - b_j||_1 = sum_k |a_ik - b_jk| for the rows of A (m, d) and B (n, d),
    shape (m, n) (memory m n d: small inputs)."""
    return l1_norm(A[:, None, :] - B[None, :, :])


def unit_rows(A, name="A", first_row=0):
    """a_i / ||a_i||_2 for every row, each scaled by its max |a_ij| first, so that ||a_i||^2
    neither overflows (a = 1e200) nor underflows (a = 1e-200). A zero row has no direction:
    ValueError naming it (its row number is first_row + its index in A).
    """
    scale = np.abs(A).max(axis=1, keepdims=True)
    zero = np.flatnonzero(scale[:, 0] == 0)
    if zero.size:
        raise ValueError(
            f"row {first_row + zero[0]} of {name} is the zero vector: its cosine similarity is "
            "undefined (0 / 0); drop it or use a distance (euclidean, manhattan)"
        )
    A = A / scale
    return A / l2_norm(A)[:, None]


@exercise("W4.P1", hint="unit_rows(A) scales every row to length 1; then one matrix product")
def cosine_similarity(A, B=None):
    """S_ij = a_i.b_j / (||a_i||_2 ||b_j||_2) for the rows of A (m, d) and B (n, d), shape
    (m, n); B = None means B = A.

    Raises a ValueError naming the first zero row of A or B (see the module docstring).
    """
    A_hat = unit_rows(A, "A")
    B_hat = A_hat if B is None else unit_rows(B, "B")
    return A_hat @ B_hat.T


@exercise("W4.P1", hint="sort -scores along axis 1, the largest first; stable: ties in id order")
def top_k(scores, k):
    """The ids of the k largest scores of each row, largest first: for scores S (m, n), row i
    of the result (m, k) lists j_1, ..., j_k with S_ij_1 >= S_ij_2 >= ... and no other score
    of row i above S_ij_k. Ties go to the lower id. A distance D ranks as scores -D.
    """
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


@exercise("W4.4", hint="the nearest and the farthest distance of each row: reduce along axis 1")
def relative_contrasts(D):
    """(D_max - D_min) / D_min of each row of distances D (n_queries, n_points), shape
    (n_queries,): how much farther the farthest point is than the nearest, relative to it.
    """
    D_min, D_max = D.min(axis=1), D.max(axis=1)
    return (D_max - D_min) / D_min


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
        contrast.append(np.mean(relative_contrasts(D)))
    return np.array(contrast)
