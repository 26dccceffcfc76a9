"""Week 1 drills: the linear algebra under PCA, written by hand and checked against NumPy.

Curriculum ids: W1.1 tensors (an image is an H x W x C array laid out row-major),
W1.2 matrix operations, W1.3 dot/outer products and orthogonal projection,
W1.P1 dot product and matrix multiplication by hand, W1.P2 ``np.linalg.eig`` vs ``eigh``,
W1.X1 orthogonality, determinant (cofactor expansion, product of LU pivots) and inverse
(A A^-1 = I), W1.X2 LU against ``scipy.linalg.lu``. ``drill_table`` runs every drill on small
random data and compares it with an independent reference at a stated tolerance.

Sources:
- G. Strang, "Introduction to Linear Algebra", 5th ed. (2016): chapters 1-2 (dot product,
  matrix multiplication), 4.2 (projections, P = Q Q^T), 5 (determinants), 6 (eigenvalues).
- L. N. Trefethen, D. Bau, "Numerical Linear Algebra" (1997), lectures 6-8 (projectors, QR).
- NumPy documentation, "Internal memory layout of an ndarray" (row-major strides).
"""

import numpy as np
import pandas as pd
from scipy import linalg

from common.exercises import exercise
from projects.week1_pca import lu
from projects.week1_pca.pca import PCA


def describe_image(image):
    """An image as a tensor: shape (H, W, C), dtype, value range and size (W1.1)."""
    pixels = np.asarray(image)
    height, width, channels = np.atleast_3d(pixels).shape
    return {
        "shape": pixels.shape,
        "height": height,
        "width": width,
        "channels": channels,
        "dtype": str(pixels.dtype),
        "min": pixels.min().item(),
        "max": pixels.max().item(),
        "n_values": pixels.size,  # H W C
        "nbytes": pixels.nbytes,  # H W C itemsize
    }


@exercise("W1.1", hint="Horner's rule: offset = offset * n_d + i_d, axis by axis")
def flat_index(index, shape):
    """Row-major offset of a multi-index: sum_d i_d prod_{e>d} n_e (W1.1).

    For an H x W x C image, pixel (i, j, c) sits at (i W + j) C + c in memory.
    """
    offset = 0
    for i_d, n_d in zip(index, shape, strict=True):  # Horner's rule over the axes
        offset = offset * n_d + i_d
    return offset


@exercise("W1.P1", hint="a Python loop over zip(u, v) that adds u_i * v_i")
def dot(u, v):
    """u . v = sum_i u_i v_i, one multiply-add at a time (W1.3, W1.P1)."""
    if len(u) != len(v):
        raise ValueError(f"u and v must have the same length, got {len(u)} and {len(v)}")
    total = 0.0
    for u_i, v_i in zip(u, v, strict=True):  # the loop is the lesson
        total += u_i * v_i
    return total


@exercise("W1.2", hint="C[i, j] = dot(row i of A, column j of B); check the inner sizes agree")
def matmul(A, B):
    """(A B)_ij = sum_l A_il B_lj = (row i of A) . (column j of B) (W1.2, W1.P1)."""
    A, B = np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0]:
        raise ValueError(f"cannot multiply shapes {A.shape} and {B.shape}")
    C = np.empty((A.shape[0], B.shape[1]))
    for i in range(A.shape[0]):
        for j in range(B.shape[1]):
            C[i, j] = dot(A[i], B[:, j])
    return C


@exercise("W1.3", hint="reshape u to a column (n, 1) and v to a row (1, m), then multiply")
def outer(u, v):
    """u v^T, the rank-one matrix (u_i v_j): a column (n x 1) times a row (1 x m) (W1.3)."""
    u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    return matmul(u.reshape(-1, 1), v.reshape(1, -1))


@exercise("W1.3", hint="an orthonormal Q for span(basis) from np.linalg.qr, then Q (Q^T x)")
def project_onto_subspace(x, basis):
    """P x = Q Q^T x, the orthogonal projection onto span(basis) with basis = Q R (W1.3).

    ``basis`` is n x k with linearly independent columns; Q (n x k) has orthonormal columns
    spanning the same subspace, so P = Q Q^T is symmetric and idempotent.
    """
    Q, _ = np.linalg.qr(np.asarray(basis, dtype=np.float64))
    return Q @ (Q.T @ np.asarray(x, dtype=np.float64))


@exercise("W1.X1", hint="recursion along row 0: delete row 0 and column j, alternate signs")
def det_cofactor(A):
    """det(A) = sum_j (-1)^j a_0j det(A without row 0 and column j), Laplace along row 0.

    n! terms: a reference for small matrices, independent of any factorisation (W1.X1).
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"the determinant needs a square matrix, got shape {A.shape}")
    if len(A) == 1:
        return float(A[0, 0])
    minors = (np.delete(A[1:], j, axis=1) for j in range(len(A)))
    return sum((-1) ** j * A[0, j] * det_cofactor(minor) for j, minor in enumerate(minors))


def _align_signs(V, W):
    """Flip the columns of V to agree in sign with those of W (eigenvectors are +/- v)."""
    return V * np.sign(np.sum(V * W, axis=0))


def _checks(rng):
    """Yield (check, curriculum_id, ours, reference, tolerance) on small random data."""
    u, w, v = rng.standard_normal(7), rng.standard_normal(7), rng.standard_normal(5)
    A, B = rng.standard_normal((4, 6)), rng.standard_normal((6, 3))
    M = rng.standard_normal((5, 5)) + 5 * np.eye(5)  # well conditioned, invertible
    b = rng.standard_normal(5)
    X = rng.standard_normal((50, 5)) * np.arange(1, 6)  # distinct variances per feature
    C = np.cov(X, rowvar=False)  # symmetric positive definite, 5 x 5
    image = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    pixel = tuple(int(rng.integers(n)) for n in image.shape)

    yield (
        "image pixel (i, j, c) at flat index (i W + j) C + c",
        "W1.1",
        int(image.reshape(-1)[flat_index(pixel, image.shape)]),
        int(image[pixel]),
        0.0,
    )
    yield "dot(u, w) vs np.dot", "W1.P1", dot(u, w), np.dot(u, w), 1e-12
    yield "matmul(A, B) vs A @ B", "W1.P1", matmul(A, B), A @ B, 1e-12
    yield "(A B)^T vs B^T A^T", "W1.2", matmul(A, B).T, matmul(B.T, A.T), 1e-12
    yield "outer(u, v) vs np.outer", "W1.3", outer(u, v), np.outer(u, v), 1e-12
    yield from _projection_checks(u, rng.standard_normal((7, 3)))
    yield from _eigen_checks(C)
    V = PCA().fit(X).components_.T  # columns are the principal axes, shape (5, 5)
    yield "PCA components orthonormal: V^T V = I", "W1.X1", V.T @ V, np.eye(5), 1e-12
    yield from _lu_checks(M, b)


def _projection_checks(x, basis):
    """The projection of x onto the span of ``basis``'s columns, against least squares."""
    coefficients = np.linalg.lstsq(basis, x, rcond=None)[0]  # B (B^T B)^-1 B^T x
    projection = project_onto_subspace(x, basis)
    yield "Q Q^T x vs least-squares projection", "W1.3", projection, basis @ coefficients, 1e-12
    yield "residual orthogonal: B^T (x - P x) = 0", "W1.3", basis.T @ (x - projection), 0.0, 1e-12


def _eigen_checks(C):
    """The general eigensolver against the symmetric one on a covariance matrix C."""
    eigenvalues, eigenvectors = np.linalg.eig(C)  # general solver: unsorted
    order = np.argsort(eigenvalues)
    eigh_values, eigh_vectors = np.linalg.eigh(C)  # symmetric solver: ascending
    yield "eig vs eigh eigenvalues (covariance)", "W1.P2", eigenvalues[order], eigh_values, 1e-10
    aligned = _align_signs(eigenvectors[:, order], eigh_vectors)
    yield "eig vs eigh eigenvectors up to sign", "W1.P2", aligned, eigh_vectors, 1e-10


def _lu_checks(M, b):
    """Determinant, inverse and solve from our LU of M, against cofactors, NumPy and SciPy."""
    P, L, U = lu.lu_decompose(M)
    cofactor_det = det_cofactor(M)
    yield "det(M) vs cofactor expansion", "W1.X1", np.linalg.det(M), cofactor_det, 1e-8
    yield "det(M) as product of LU pivots", "W1.X1", lu.lu_determinant(P, L, U), cofactor_det, 1e-8
    yield "M @ inv(M) = I", "W1.X1", M @ np.linalg.inv(M), np.eye(5), 1e-12
    yield "M @ lu_inverse(M) = I", "W1.X1", M @ lu.lu_inverse(P, L, U), np.eye(5), 1e-12
    PLU_scipy = np.stack(linalg.lu(M))
    yield "LU: P L U vs scipy.linalg.lu", "W1.X2", np.stack([P, L, U]), PLU_scipy, 1e-12
    yield "LU solve: M x - b = 0", "W1.X2", M @ lu.lu_solve(P, L, U, b) - b, 0.0, 1e-12


def _summary(value):
    """The value itself for a scalar, ||value||_F for an array (one number per table cell)."""
    return float(np.linalg.norm(value)) if value.ndim else value.item()


def drill_table(rng):
    """Run every drill; one row per check with ours, reference, |ours - reference| and pass.

    ``ours`` and ``reference`` show the value for scalars and the Frobenius norm for
    arrays; ``abs_error`` is max |ours - reference| over all entries; a check passes when
    abs_error <= tolerance.
    """
    rows = []
    for check, curriculum_id, ours, reference, tolerance in _checks(rng):
        ours, reference = np.asarray(ours), np.asarray(reference)
        abs_error = float(np.max(np.abs(ours - reference)))
        rows.append(
            {
                "check": check,
                "curriculum_id": curriculum_id,
                "ours": _summary(ours),
                "reference": _summary(reference),
                "abs_error": abs_error,
                "tolerance": tolerance,
                "passed": abs_error <= tolerance,
            }
        )
    return pd.DataFrame(rows)
