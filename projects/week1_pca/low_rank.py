"""Best rank-k approximation by truncated SVD (Eckart-Young), applied to images.

Model. A matrix A (m x n) has the SVD A = U diag(s) V^T with s_1 >= s_2 >= ... >= 0.
Keeping the k largest singular triplets gives

    A_k = U_k diag(s_k) V_k^T,

and by the Eckart-Young(-Mirsky) theorem no matrix of rank <= k is closer to A in the
Frobenius norm: min_{rank B <= k} ||A - B||_F = ||A - A_k||_F = sqrt(sum_{i>k} s_i^2).
An H x W x C image is compressed channel by channel: each channel is an H x W matrix.

Sources:
- C. Eckart, G. Young, "The approximation of one matrix by another of lower rank",
  Psychometrika 1(3) (1936), 211-218.
- G. H. Golub, C. F. Van Loan, "Matrix Computations", 4th ed. (2013), theorem 2.4.8.
- G. Strang, "Linear Algebra and Learning from Data" (2019), section I.9.
"""

import numpy as np

from common.exercises import exercise
from common.validation import check_int


def _check_k(k, shape, noun):
    """Raise ValueError unless 1 <= k <= min(H, W), the rank bound of an H x W matrix."""
    height, width = shape
    high = min(height, width)
    check_int(k, "k", 1, high, context=f" for a {height} x {width} {noun}")


def check_rank(image, *ks):
    """Fail fast: raise ValueError unless 1 <= k <= min(H, W) for every k and the image."""
    shape = np.shape(image)
    if len(shape) not in (2, 3):
        raise ValueError(f"image must be H x W or H x W x C, got shape {shape}")
    for k in ks:
        _check_k(k, shape[:2], "image")


def max_rank(image):
    """min(H, W): the largest k with a rank-k approximation of an H x W (x C) image."""
    return min(np.shape(image)[:2])


def clip_ranks(ranks, image):
    """(kept, dropped): the distinct ranks k <= min(H, W) of ``image``, and those above, sorted."""
    high = max_rank(image)
    return sorted({k for k in ranks if k <= high}), sorted({k for k in ranks if k > high})


def rank_k_approximation(matrix, k):
    """A_k = U_k diag(s_k) V_k^T, the best rank-k approximation of a 2-D matrix A."""
    A = np.asarray(matrix, dtype=np.float64)
    if A.ndim != 2:
        raise ValueError(f"matrix must be 2-D, got shape {A.shape}")
    _check_k(k, A.shape, "matrix")
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    return truncated_product(U, s, Vt, k)


@exercise("W1.5", hint="keep the first k columns of U, entries of s, rows of Vt; no np.diag needed")
def truncated_product(U, s, Vt, k):
    """A_k = U_k diag(s_k) V_k^T from the thin SVD A = U diag(s) V^T, for one or a stack of A.

    U has shape (..., m, r), s (..., r) decreasing, Vt (..., r, n); the result (..., m, n).
    """
    return (U[..., :k] * s[..., np.newaxis, :k]) @ Vt[..., :k, :]  # U_k diag(s_k), no diag


def rank_k_image(image, k):
    """Per channel c: image_k[..., c] = U_k diag(s_k) V_k^T of image[..., c], as uint8.

    ``image`` is H x W (grayscale) or H x W x C, uint8 or float on the 0..255 scale. The
    result has the same shape, rounded and clipped to [0, 255].
    """
    return rank_k_images(image, [k])[k]


def rank_k_images(image, ks, svd=None):
    """``{k: rank_k_image(image, k)}`` for every k in ks, from one SVD per channel.

    ``svd``: the image's ``channel_svd``, when already at hand.
    """
    pixels = np.asarray(image, dtype=np.float64)
    check_rank(pixels, *ks)
    U, s, Vt = channel_svd(pixels) if svd is None else svd
    return {k: truncate(U, s, Vt, k, pixels.shape) for k in sorted(ks)}


def channel_svd(image):
    """The thin SVD U diag(s) V^T of each channel: U (C, H, r), s (C, r), Vt (C, r, W)."""
    channels = np.atleast_3d(np.asarray(image, dtype=np.float64)).transpose(2, 0, 1)
    return np.linalg.svd(channels, full_matrices=False)  # one batched SVD, C matrices


def truncate(U, s, Vt, k, shape):
    """U_k diag(s_k) V_k^T of each channel, back to an image of ``shape``, as uint8."""
    approx = truncated_product(U, s, Vt, k)  # shape (C, H, W)
    approx = approx.transpose(1, 2, 0).reshape(shape)
    return np.clip(np.rint(approx), 0, 255).astype(np.uint8)


def rank_k_storage_bytes(height, width, k, channels, bytes_per_value=2):
    """Bytes to store the factors of a rank-k image: C k (H + W + 1) b.

    Per channel, U_k holds H k values, V_k holds W k values and s_k holds k values, each
    stored in ``bytes_per_value`` bytes (default 2: float16 factors). Compare with
    H W C bytes for the raw uint8 image.
    """
    _check_k(k, (height, width), "image")
    return channels * k * (height + width + 1) * bytes_per_value


def eckart_young_error(singular_values, k):
    """||A - A_k||_F = sqrt(sum_{i>k} s_i^2), the smallest error of any rank-k matrix.

    ``singular_values`` are all min(m, n) singular values of A in decreasing order; k may
    be 0 (A_0 = 0, error ||A||_F) up to min(m, n) (error 0).
    """
    s = np.asarray(singular_values, dtype=np.float64)
    check_int(k, "k", 0, s.size, context=f" for {s.size} singular values")
    return float(np.linalg.norm(s[k:]))
