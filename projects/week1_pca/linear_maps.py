"""A matrix is a linear map (W1.6), and the cross product of two colour axes (W1.7).

W1.6. A matrix M sends x to M x; applying B and then A is the map A B (composition is the
product), and M^-1 undoes M. The codec's colour transform y = M x (``codec.colour.COLOUR``)
is such a map of R^3, orthonormal, so M^-1 = M^T. A basis, the rows of V, is a change of
coordinates: x = mu + V^T z and z = V^-T (x - mu), with V^-T = V for an orthonormal V (the
PCA basis). Centring X - 1 mu^T is a matrix sum; NumPy writes it X - mu by broadcasting mu
over the rows.

W1.7. For three colour channels the principal axes v1, v2, v3 of the 3 x 3 colour covariance
are orthonormal, so v3 is the unit vector orthogonal to v1 and v2: v3 = +-(v1 x v2).

Sources:
- G. Strang, "Introduction to Linear Algebra", 5th ed. (2016): 8.1-8.3 (linear
  transformations, change of basis), 5.3 (cross product as a determinant).
- M. P. Deisenroth, A. A. Faisal, C. S. Ong, "Mathematics for Machine Learning" (2020):
  2.7 (linear mappings, basis change).
"""

import numpy as np

from common.exercises import exercise


@exercise("W1.6", hint="each row x of X becomes M x: all rows at once is X M^T")
def apply_map(M, X):
    """y_i = M x_i for every row x_i of X: Y = X M^T, shape (n, m) for M (m, p), X (n, p)."""
    return np.asarray(X, dtype=np.float64) @ np.asarray(M, dtype=np.float64).T


def composition_error(A, B, X):
    """max |A (B x) - (A B) x| over the rows x of X: one map after the other is the product."""
    return float(np.max(np.abs(apply_map(A, apply_map(B, X)) - apply_map(A @ B, X))))


def round_trip_error(M, M_inverse, X):
    """max |M^-1 (M x) - x| over the rows x of X: the inverse map undoes the map."""
    X = np.asarray(X, dtype=np.float64)
    return float(np.max(np.abs(apply_map(M_inverse, apply_map(M, X)) - X)))


def coordinates(X, mean, V):
    """z = V (x - mu) per row: the coordinates of x - mu in the orthonormal basis (rows of V)."""
    return (np.asarray(X, dtype=np.float64) - mean) @ V.T


def from_coordinates(Z, mean, V):
    """x = mu + V^T z per row: the point whose coordinates in the basis V are z."""
    return mean + Z @ V


@exercise("W1.6", hint="X.mean(axis=0) has shape (p,); broadcasting subtracts it from every row")
def centre(X):
    """X_c = X - 1 mu^T, written X - mu: NumPy broadcasts mu (p,) over the n rows."""
    X = np.asarray(X, dtype=np.float64)
    return X - X.mean(axis=0)


def centre_by_outer_product(X):
    """X_c = X - 1 mu^T with the n x p matrix 1 mu^T formed explicitly (no broadcasting)."""
    X = np.asarray(X, dtype=np.float64)
    mu = X.mean(axis=0)
    return X - np.outer(np.ones(len(X)), mu)


@exercise("W1.7", hint="(a2 b3 - a3 b2, a3 b1 - a1 b3, a1 b2 - a2 b1)")
def cross(a, b):
    """a x b = (a2 b3 - a3 b2, a3 b1 - a1 b3, a1 b2 - a2 b1), orthogonal to a and b."""
    if len(a) != 3 or len(b) != 3:
        raise ValueError(f"the cross product needs two 3-vectors, got lengths {len(a)}, {len(b)}")
    a1, a2, a3 = (float(v) for v in a)
    b1, b2, b3 = (float(v) for v in b)
    return np.array([a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1])


def colour_axes(pixels):
    """Principal colour axes: columns v1, v2, v3 of C = cov(pixels as n x 3 rows), lambda desc.

    ``eigh`` gives C = V diag(lambda) V^T with lambda ascending; the columns are reversed.
    """
    pixels = np.asarray(pixels, dtype=np.float64)
    if pixels.shape[-1] != 3:
        raise ValueError(f"colour axes need 3 channels, got shape {pixels.shape}")
    _, V = np.linalg.eigh(np.cov(pixels.reshape(-1, 3), rowvar=False))
    return V[:, ::-1]


def third_axis_alignment(V):
    """|<v3, v1 x v2>| for orthonormal columns v1, v2, v3: 1 when v3 = +-(v1 x v2)."""
    return abs(float(np.dot(V[:, 2], cross(V[:, 0], V[:, 1]))))
