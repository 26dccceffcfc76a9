"""LU decomposition with partial pivoting, and solving by it rather than by the inverse (W1.X2).

Gaussian elimination records itself as A = P L U: L unit lower triangular (the multipliers
l_ik = u_ik / u_kk), U upper triangular, P the row swaps chosen so that |l_ik| <= 1 (partial
pivoting: the largest |entry| of column k is the pivot). Then A x = b is two triangular
solves, L y = P^T b forward and U x = y backward, about 2 n^2 flops after the n^3 / 3 of
the factorisation; det(A) = det(P) prod_k u_kk. Forming A^-1 costs three times the flops
and its product with b has a residual ||A x - b|| that grows with cond(A) where LU's stays
at round-off (backward stability; Higham 2002, 14.1).

QR, the other factorisation week 1 uses, appears in ``pca.svd`` (R-SVD), the randomized
range finder (``pca.randomized_range``), ``codec.basis.gram_schmidt`` and
``linalg_drills.project_onto_subspace``.

Sources:
- G. Strang, "Introduction to Linear Algebra", 5th ed. (2016), 2.6-2.7 (A = L U, P A = L U).
- L. N. Trefethen, D. Bau, "Numerical Linear Algebra" (1997), lectures 20-21.
- N. J. Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed. (2002), 9 and 14.
"""

import numpy as np

from common.exercises import exercise


@exercise(
    "W1.X2",
    hint="column by column: swap up the largest |pivot|, keep the multipliers in L",
)
def lu_decompose(A):
    """A = P L U by Doolittle elimination with partial pivoting (as ``scipy.linalg.lu``).

    Returns (P, L, U): P a permutation matrix, L unit lower triangular with |l_ik| <= 1,
    U upper triangular, all n x n.
    """
    U = np.array(A, dtype=np.float64)
    n = len(U)
    if U.ndim != 2 or U.shape != (n, n):
        raise ValueError(f"LU needs a square matrix, got shape {U.shape}")
    L, perm = np.eye(n), np.arange(n)
    for k in range(n - 1):
        pivot = k + int(np.argmax(np.abs(U[k:, k])))  # the largest |u_ik|, i >= k
        if pivot != k:  # swap rows k and pivot of U, of L's finished columns, of perm
            U[[k, pivot]], perm[[k, pivot]] = U[[pivot, k]], perm[[pivot, k]]
            L[[k, pivot], :k] = L[[pivot, k], :k]
        if U[k, k] != 0.0:  # a zero column below the diagonal: nothing to eliminate
            L[k + 1 :, k] = U[k + 1 :, k] / U[k, k]  # l_ik = u_ik / u_kk
            U[k + 1 :] -= np.outer(L[k + 1 :, k], U[k])  # row_i -= l_ik row_k
    P = np.eye(n)[:, perm]  # rows perm of A are rows of L U: A[perm] = L U, so A = P L U
    return P, L, np.triu(U)


@exercise("W1.X2", hint="solve L y = b top to bottom: y_i = (b_i - L_i,:i . y_:i) / L_ii")
def forward_substitution(L, b):
    """y with L y = b, L lower triangular: y_i = (b_i - sum_{j<i} l_ij y_j) / l_ii."""
    y = np.array(b, dtype=np.float64)
    for i in range(len(y)):
        y[i] = (y[i] - L[i, :i] @ y[:i]) / L[i, i]
    return y


@exercise("W1.X2", hint="solve U x = y bottom to top: x_i = (y_i - U_i,i+1: . x_i+1:) / U_ii")
def back_substitution(U, y):
    """x with U x = y, U upper triangular: x_i = (y_i - sum_{j>i} u_ij x_j) / u_ii."""
    x = np.array(y, dtype=np.float64)
    for i in reversed(range(len(x))):
        x[i] = (x[i] - U[i, i + 1 :] @ x[i + 1 :]) / U[i, i]
    return x


def lu_solve(P, L, U, b):
    """x = A^-1 b from A = P L U without A^-1: L y = P^T b, then U x = y."""
    return back_substitution(U, forward_substitution(L, P.T @ b))


def lu_inverse(P, L, U):
    """A^-1 column by column: A x_j = e_j by ``lu_solve`` for each unit vector e_j."""
    n = len(L)
    return np.column_stack([lu_solve(P, L, U, e_j) for e_j in np.eye(n)])


def permutation_sign(P):
    """det(P) = (-1)^(n - number of cycles) for the permutation matrix P."""
    perm = np.argmax(P, axis=0)  # column j of P is e_perm[j]
    seen, cycles = np.zeros(len(perm), dtype=bool), 0
    for start in range(len(perm)):
        if not seen[start]:
            cycles += 1
            while not seen[start]:  # walk the cycle through start
                seen[start], start = True, perm[start]
    return (-1.0) ** (len(perm) - cycles)


def lu_determinant(P, L, U):
    """det(A) = det(P) det(L) det(U) = det(P) prod_k u_kk (det(L) = 1)."""
    return permutation_sign(P) * float(np.prod(np.diag(U)))


def relative_residual(A, x, b):
    """||A x - b||_2 / (||A||_2 ||x||_2): the backward error of x as a solution of A x = b."""
    return float(np.linalg.norm(A @ x - b) / (np.linalg.norm(A, 2) * np.linalg.norm(x)))
