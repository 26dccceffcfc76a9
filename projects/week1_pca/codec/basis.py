"""The basis, the lesson: the Karhunen-Loeve transform learned from the blocks, or the DCT.

Model. The blocks x_j, rows of X (n_blocks x B^2), have mean mu and covariance C; its
eigenvectors, the rows of V (B^2 x B^2, orthonormal), are the principal axes, its
eigenvalues sigma_k^2 their variances. The Karhunen-Loeve transform z = V (x - mu)
decorrelates the block pixels and packs their energy into the first coefficients (Goyal
2001, sections II-III); as V is orthonormal, the squared error of the coefficients is the
squared error of the pixels.

The decoder needs V too, so the rows are sent, quantized: row k on the grid 2^-e_k, fine
where sigma_k is large (``basis_exponents``), then made orthonormal again by Gram-Schmidt;
encoder and decoder both use this V_hat. The fixed alternative sends no rows: the 2-D DCT
(``dct_basis``), the KLT of a first-order Markov image as its correlation tends to 1.

Sources:
- V. K. Goyal, "Theoretical foundations of transform coding", IEEE Signal Processing
  Magazine 18(5) (2001), 9-21: the KLT and its optimality, the DCT as its approximation.
- G. K. Wallace, "The JPEG still picture compression standard", Communications of the ACM
  34(4) (1991), 30-44: the 8 x 8 DCT-II and its zigzag order.
"""

from __future__ import annotations

import functools

import numpy as np

from projects.week1_pca.codec.byte_format import MAX_EXPONENT
from projects.week1_pca.pca import PCA

BASIS_PRECISION = 0.05  # alpha in ``basis_exponents``


def learn_basis(X):
    """PCA of the blocks: mu, orthonormal rows V (B^2 x B^2), sigma_k = sqrt(lambda_k)."""
    # One block has no covariance: C = 0 and every orthonormal basis is a PCA basis. A flat
    # plane has trace(C) = 0, and PCA's explained_variance_ratio_ (unused here) is 0 / 0.
    with np.errstate(invalid="ignore", divide="ignore"):
        pca = PCA(solver="covariance_eigh").fit(X if len(X) > 1 else np.vstack([X, X]))
    return pca.mean_, pca.components_, np.sqrt(pca.explained_variance_)


def basis_exponents(sigma, step, alpha=BASIS_PRECISION):
    """e_k = round(log2(sigma_k / (alpha Delta))), clipped to [0, 15]: row k's grid is 2^-e_k.

    Rounding row k to a grid g leaves an error delta with ||delta||^2 ~ B^2 g^2 / 12, and
    moves sigma_k^2 ||delta||^2 of energy per block into the other components. The grid
    g = alpha Delta / sigma_k caps that leak at (alpha B)^2 Delta^2 / 12: a sixth of one
    coefficient's quantization noise for alpha = 0.05, B = 8. Large components get fine
    grids, small ones a few bits per entry (alpha 0.03..0.08 measured within 0.1 dB).
    """
    ratio = np.maximum(sigma, 1e-12) / (alpha * step)
    return np.clip(np.round(np.log2(ratio)), 0, MAX_EXPONENT).astype(np.int64)


def quantize_basis(V, exponents):
    """V_int[k] = round(2^e_k V[k]), the integers sent for the basis."""
    return np.round(V * 2.0 ** exponents[:, np.newaxis]).astype(np.int64)


def dequantize_basis(V_int, exponents):
    """V_hat = Gram-Schmidt(2^-e_k V_int[k]): orthonormal rows, row k closest to the sent one.

    Gram-Schmidt (not the nearest orthonormal matrix) keeps the order: the coarse rows of
    small components never disturb the fine rows of large ones.
    """
    return gram_schmidt(V_int / 2.0 ** exponents[:, np.newaxis])


def gram_schmidt(V):
    """Q with Q Q^T = I and span(Q[:k]) = span(V[:k]) for every k: V^T = Q^T R, diag(R) > 0."""
    Q, R = np.linalg.qr(V.T)
    signs = np.where(np.diag(R) < 0, -1.0, 1.0)  # a zero row of V still gets a unit row
    return (Q * signs).T


@functools.cache
def dct_basis(block):
    """The B^2 rows d_uv = c_u c_v cos(pi (2i + 1) u / 2B) cos(pi (2j + 1) v / 2B), orthonormal.

    c_0 = sqrt(1 / B), c_u = sqrt(2 / B): the 2-D DCT-II of JPEG (Wallace 1991), the KLT of a
    first-order Markov image as its correlation tends to 1 (Goyal 2001). Rows by increasing
    frequency u + v, then u (JPEG's zigzag diagonals), so the trailing rows are the finest.
    """
    i = np.arange(block)
    C = np.sqrt(2 / block) * np.cos(np.pi * np.outer(i, 2 * i + 1) / (2 * block))  # C[u, i]
    C[0] /= np.sqrt(2)
    rows = np.einsum("ui,vj->uvij", C, C).reshape(block * block, block * block)
    u, v = np.divmod(np.arange(block * block), block)
    rows = rows[np.lexsort((u, u + v))]
    rows.setflags(write=False)  # cached: one array for every call
    return rows
