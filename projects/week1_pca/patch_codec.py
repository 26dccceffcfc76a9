"""Patch-PCA image codec: a block Karhunen-Loeve transform coder that writes real bytes.

Model. Cut an image plane into B x B blocks, the rows x_j of X (n_blocks x B^2), and learn
their principal axes from the image itself: X ~ 1 mu^T + Z V with V (n x B^2) orthonormal.
The Karhunen-Loeve transform z = V (x - mu) decorrelates the block pixels and packs their
energy into few coefficients; a uniform quantizer with step Delta, q = round(z / Delta),
then costs about H(q) bits per coefficient and adds about Delta^2 / 12 squared error to each
(Goyal 2001, sections II-III). An orthonormal V keeps the error in pixels equal to the error
in coefficients, so PSNR can be read off the quantizer.

encode(image, step):
1. colour: y = M x with M orthonormal (luma, two colour differences); the chroma planes are
   box-averaged 2x in each direction (4:2:0, as in JPEG; Wallace 1991) when that lowers the
   Lagrangian cost J = D + lambda R, lambda = (ln 2 / 6) Delta^2, over keeping them whole;
2. blocks: each plane cut into B x B blocks, edges padded by replication;
3. basis: ``PCA`` of the blocks gives mu, V and the standard deviations sigma_k; it does not
   depend on Delta, so ``Encoder`` learns it once per image and a rate search that tries
   many steps repeats only steps 4-6;
4. the basis is sent too, so it is quantized: row k on the grid 2^-e_k ~ alpha Delta / sigma_k
   (fine where the component is large), then made orthonormal again by Gram-Schmidt; both
   sides use this same V_hat. Those rows cost B^2 entries each, shared by the n_blocks blocks:
   on a small image, with large blocks or at high rates they cost more than they save, so
   the codec also codes in a fixed basis, the 2-D DCT (``basis="fixed"``, no rows sent), and
   ``rate_distortion.search_bases`` keeps, at each target rate, whichever basis gives the
   higher PSNR;
5. coefficients z = V_hat (x - mu_hat), quantized with a dead zone, q = sign(z) floor(|z|/Delta
   + r); trailing components whose D_k saved is below lambda R_k are dropped with their rows;
6. entropy coding, lossless: the first coefficient as a difference to the left block, every
   other component with its blocks sorted by the activity of the earlier ones, zigzag to
   unsigned, byte planes, LZMA.
decode(data) reads the header (struct, with a CRC-32) and runs the steps backwards.

Sources:
- V. K. Goyal, "Theoretical foundations of transform coding", IEEE Signal Processing
  Magazine 18(5) (2001), 9-21: the KLT, uniform quantization, Delta^2 / 12.
- G. K. Wallace, "The JPEG still picture compression standard", Communications of the ACM
  34(4) (1991), 30-44: 8 x 8 blocks, 4:2:0 chroma, the first coefficient coded differentially.
- G. J. Sullivan, "Efficient scalar quantization of exponential and Laplacian random
  variables", IEEE Trans. Information Theory 42(5) (1996): the dead-zone quantizer.
- A. Ortega, K. Ramchandran, "Rate-distortion methods for image and video compression",
  IEEE Signal Processing Magazine 15(6) (1998): choices by minimum D + lambda R.
"""

from __future__ import annotations

import copy
import functools
import lzma
import math
import struct
import threading
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from projects.week1_pca.pca import PCA

# Opponent colour transform y = M x: luma (R + G + B) / sqrt(3) and two orthogonal colour
# differences. Orthonormal rows (M M^T = I), so squared error is the same in RGB and in y.
COLOUR = np.array([[1, 1, 1], [1, 0, -1], [1, -2, 1]]) / np.sqrt([[3], [2], [6]])

MAGIC = b"KLT2"  # KLT1: every plane in a learned basis
CHECKSUM = struct.Struct("<I")  # crc32 of everything after it
HEADER = struct.Struct("<IIBBBBB")  # height, width, ndim, channels, block, subsampled, bytes/symbol
PLANE = struct.Struct("<dHB")  # step Delta of the plane, n components kept, basis kind
LEARNED, FIXED = 0, 1  # basis kinds: the image's KLT (rows sent) or the DCT (rows known)
LZMA_FILTERS = [
    # lc=lp=pb=0: symbols are bytes of small integers, not text; no byte-position context.
    {"id": lzma.FILTER_LZMA1, "preset": 9 | lzma.PRESET_EXTREME, "lc": 0, "lp": 0, "pb": 0}
]
LZMA_DICT_RANGE = (1 << 12, 1 << 26)  # 4 KiB (liblzma's least) .. 64 MiB (preset 9's)
MIN_STEP = 1e-6  # smaller steps are lossless on uint8 images long before this
BLOCK_RANGE = (2, 32)
MAX_EXPONENT = 15  # the finest basis grid, 2^-15
UPSAMPLE_GAIN = (2 * 0.75**2 + 2 * 0.25**2) ** 2  # g = 1.5625, see ``chroma_step``
ROUNDING = 0.4  # dead-zone offset r: 0.5 is plain rounding
BASIS_PRECISION = 0.05  # alpha in ``basis_exponents``
SUBSAMPLE = ("auto", True, False)
BASES = ("learned", "fixed")  # the image's KLT, its rows sent; the DCT, known to both sides


# -- colour --------------------------------------------------------------------------------


def rgb_to_opponent(image):
    """y = M x per pixel, M the orthonormal opponent transform; (H, W, 3) -> (H, W, 3)."""
    return image @ COLOUR.T


def opponent_to_rgb(planes):
    """x = M^T y per pixel (M^-1 = M^T); (H, W, 3) -> (H, W, 3)."""
    return planes @ COLOUR


def downsample2(plane):
    """p_ij = mean of the 2 x 2 pixels (2i..2i+1, 2j..2j+1); odd edges replicated."""
    height, width = plane.shape
    plane = np.pad(plane, ((0, height % 2), (0, width % 2)), mode="edge")
    return plane.reshape(plane.shape[0] // 2, 2, plane.shape[1] // 2, 2).mean(axis=(1, 3))


def upsample2(plane, shape):
    """Bilinear 2x: each output pixel is 3/4 its own sample + 1/4 the next one out, per axis."""

    def along_axis0(a):
        a = np.concatenate([a[:1], a, a[-1:]])  # replicate the edges
        out = np.empty((2 * (len(a) - 2), *a.shape[1:]))
        out[0::2] = 0.75 * a[1:-1] + 0.25 * a[:-2]  # pixel 2i lies 1/4 sample before i
        out[1::2] = 0.75 * a[1:-1] + 0.25 * a[2:]  # pixel 2i+1 lies 1/4 sample after i
        return out

    up = along_axis0(along_axis0(plane).T).T
    return up[: shape[0], : shape[1]]


def chroma_step(step, subsampled):
    """Delta_c = Delta / sqrt(g), g = (2 (3/4)^2 + 2 (1/4)^2)^2 = 1.5625 if subsampled, else 1.

    One chroma sample reaches 4 x 4 pixels through ``upsample2`` with weights 1/4, 3/4,
    3/4, 1/4 per axis, so its error counts g times in pixels; equal distortion per bit in
    every plane (the high-rate optimum) then needs the finer step Delta / 1.25.
    """
    return step / np.sqrt(UPSAMPLE_GAIN) if subsampled else step


# -- blocks --------------------------------------------------------------------------------


def split_grid(shape, block):
    """Blocks down and across a plane: (ceil(H / B), ceil(W / B))."""
    return (-(-shape[0] // block), -(-shape[1] // block))


def split_blocks(plane, block):
    """X[j] = the j-th B x B block in raster order, flattened; shape (n_blocks, B^2).

    The plane is padded by edge replication to multiples of B. Returns (X, grid) with grid
    the number of blocks (rows, columns).
    """
    height, width = plane.shape
    grid = split_grid(plane.shape, block)
    padded = np.pad(plane, ((0, grid[0] * block - height), (0, grid[1] * block - width)), "edge")
    X = padded.reshape(grid[0], block, grid[1], block).swapaxes(1, 2)
    return X.reshape(-1, block * block), grid


def merge_blocks(X, grid, block, shape):
    """The inverse of ``split_blocks``: tile the rows of X back, crop the padding to shape."""
    plane = X.reshape(grid[0], grid[1], block, block).swapaxes(1, 2)
    plane = plane.reshape(grid[0] * block, grid[1] * block)
    return plane[: shape[0], : shape[1]]


# -- basis ---------------------------------------------------------------------------------


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


# -- quantization --------------------------------------------------------------------------


def quantize(z, step, rounding=ROUNDING):
    """q = sign(z) floor(|z| / Delta + r): rounding if r = 1/2, a wider zero bin if r < 1/2."""
    return (np.sign(z) * np.floor(np.abs(z) / step + rounding)).astype(np.int64)


def dequantize(q, step):
    """z_hat = Delta q."""
    return q * step


# -- entropy coding ------------------------------------------------------------------------


def zigzag(q):
    """u = 2q for q >= 0, -2q - 1 for q < 0: 0, -1, 1, -2, 2, ... -> 0, 1, 2, 3, 4, ..."""
    return np.where(q >= 0, 2 * q, -2 * q - 1).astype(np.uint64)


def unzigzag(u):
    """q = u / 2 for even u, -(u + 1) / 2 for odd u."""
    u = u.astype(np.int64)
    return np.where(u % 2 == 0, u // 2, -(u + 1) // 2)


def dc_residual(first, grid):
    """d_ij = q_ij - q_i,j-1 along each block row; in column 0, d_i0 = q_i0 - q_i-1,0."""
    Q = first.reshape(grid)
    D = np.diff(Q, axis=1, prepend=0)
    D[:, 0] = np.diff(Q[:, 0], prepend=0)
    return D.ravel()


def dc_restore(residual, grid):
    """The inverse of ``dc_residual``: cumulative sums down column 0, then along the rows."""
    D = residual.reshape(grid).copy()
    D[:, 0] = np.cumsum(D[:, 0])
    return np.cumsum(D, axis=1).ravel()


def activity_order(activity):
    """The order component k is sent in: blocks by increasing a_j = sum_{0<i<k} |q_ji|.

    Busy blocks have large coefficients everywhere. Sorted, component k reads as a run of
    zeros that turns into ever larger values, which an adaptive coder prices far below the
    raster order; the decoder knows a_j from the components it already has.
    """
    if activity.size and activity.min() >= 0 and activity.max() < 1 << 16:
        activity = activity.astype(np.uint16)  # the same stable order, by a radix sort
    return np.argsort(activity, kind="stable")


def coefficient_stream(Q, grid):
    """Q (n_blocks x n) -> 1-D: DC residuals, then each component k >= 1 in activity order."""
    columns = [dc_residual(Q[:, 0], grid)]
    activity = np.zeros(len(Q), dtype=np.int64)  # a_j for k = 1: the empty sum
    for k in range(1, Q.shape[1]):
        columns.append(Q[activity_order(activity), k])
        activity += np.abs(Q[:, k])  # a_j for k + 1, one column more
    return np.concatenate(columns)


def coefficients_from_stream(stream, grid, n_components):
    """The inverse of ``coefficient_stream``, component by component (each orders the next)."""
    columns = stream.reshape(n_components, grid[0] * grid[1])
    Q = np.zeros((grid[0] * grid[1], n_components), dtype=np.int64)
    Q[:, 0] = dc_restore(columns[0], grid)
    activity = np.zeros(len(Q), dtype=np.int64)
    for k in range(1, n_components):
        Q[activity_order(activity), k] = columns[k]
        activity += np.abs(Q[:, k])
    return Q


def symbol_bytes(q):
    """Bytes per symbol: the fewest w with zigzag(q) < 256^w (at least 1)."""
    largest = int(zigzag(q).max(initial=0))
    return max(1, -(-largest.bit_length() // 8))


def pack_ints(q, width):
    """LZMA of the byte planes of zigzag(q): all low bytes, then all second bytes, ..."""
    planes = zigzag(q).astype("<u8").view(np.uint8).reshape(-1, 8)[:, :width].T.tobytes()
    return lzma.compress(planes, format=lzma.FORMAT_RAW, filters=lzma_filters(len(planes)))


def lzma_filters(n_bytes):
    """``LZMA_FILTERS`` with the dictionary cut to the input: 2^ceil(log2 n), 4 KiB..64 MiB.

    Preset 9's 64 MiB dictionary comes with a 64 MiB hash table that liblzma clears for
    every call (about 40 ms), whatever the input's size. A dictionary at least as long as
    the input still reaches every earlier byte; the smaller hash table only changes which
    strings with another first 4 bytes share a bucket of the match finder, and those never
    match (a match found there must be longer than 3 bytes). The bytes are those of
    ``LZMA_FILTERS`` (tests/week1/test_shared_work.py); the decoder keeps ``LZMA_FILTERS``.
    """
    low, high = LZMA_DICT_RANGE
    dict_size = min(max(low, 1 << max(n_bytes - 1, 0).bit_length()), high)
    return [{**LZMA_FILTERS[0], "dict_size": dict_size}]


def unpack_ints(data, count, width):
    """The inverse of ``pack_ints`` for ``count`` symbols of ``width`` bytes."""
    expected = count * width
    try:
        raw = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=LZMA_FILTERS).decompress(
            data, max_length=expected
        )
    except lzma.LZMAError as error:
        raise ValueError(f"corrupted patch-codec payload: {error}") from error
    if len(raw) != expected:
        raise ValueError(f"truncated patch-codec payload: {len(raw)} of {expected} bytes")
    planes = np.zeros((8, count), dtype=np.uint8)
    planes[:width] = np.frombuffer(raw, dtype=np.uint8).reshape(width, count)
    return unzigzag(np.ascontiguousarray(planes.T).view("<u8").ravel())


# -- planes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodedPlane:
    """What one plane sends: integers only, besides its step and basis kind."""

    step: float  # Delta
    mean: np.ndarray  # round(mu), shape (B^2,)
    exponents: np.ndarray  # e_k, shape (n,); empty for the fixed basis
    basis: np.ndarray  # V_int, shape (n, B^2); (0, B^2) for the fixed basis
    coefficients: np.ndarray  # q, shape (n_blocks, n)

    @property
    def kind(self):
        """``LEARNED`` if the plane sends its basis rows, ``FIXED`` (the DCT) if not."""
        return LEARNED if len(self.exponents) else FIXED

    def integers(self, grid):
        """Everything but the step and exponents as one 1-D stream: mean, basis, coefficients."""
        return np.concatenate(
            [self.mean, self.basis.ravel(), coefficient_stream(self.coefficients, grid)]
        )

    @classmethod
    def from_integers(cls, ints, step, exponents, grid, block, n):
        """The inverse of ``integers``, given what the header says (n components)."""
        B2 = block * block
        mean, basis, stream = np.split(ints, [B2, B2 * (len(exponents) + 1)])
        Q = coefficients_from_stream(stream, grid, n)
        return cls(step, mean, exponents, basis.reshape(len(exponents), B2), Q)

    def rows(self, block):
        """V_hat, the n orthonormal rows the coefficients are in (shape (n, B^2))."""
        if self.kind == FIXED:
            return dct_basis(block)[: self.coefficients.shape[1]]
        return dequantize_basis(self.basis, self.exponents)


@dataclass(frozen=True)
class PlaneTransform:
    """The KLT of one plane: its blocks and their PCA. It does not depend on the step."""

    X: np.ndarray  # the blocks, shape (n_blocks, B^2)
    grid: tuple  # blocks down and across
    mu: np.ndarray  # mean block, shape (B^2,)
    V: np.ndarray  # principal axes as rows, shape (B^2, B^2)
    sigma: np.ndarray  # their standard deviations, shape (B^2,)

    @property
    def block(self):
        """B, from the B^2 pixels of a block."""
        return math.isqrt(self.X.shape[1])


def learn_transform(plane, block):
    """Blocks -> PCA of one plane, once for every step it is coded at."""
    X, grid = split_blocks(plane, block)
    return PlaneTransform(X, grid, *learn_basis(X))


def encode_plane(transform, step, rounding, basis_precision, basis="learned"):
    """One plane at step Delta in ``basis``: its learned KLT, or the fixed DCT.

    The KLT packs more energy into its first components, but its rows are sent: B^2 entries
    each, shared by the n_blocks blocks. With few blocks per row (a small image, large B) or
    at high rate the rows cost more than they save, and the DCT, known to both sides, costs
    nothing. Returns (CodedPlane, its integers).
    """
    if basis == "fixed":
        return encode_plane_fixed(transform, step, rounding)
    return encode_plane_learned(transform, step, rounding, basis_precision)


def encode_plane_learned(transform, step, rounding, basis_precision):
    """Learned KLT -> quantized basis -> quantized coefficients: (CodedPlane, integers)."""
    mean = np.round(transform.mu).astype(np.int64)
    exponents = basis_exponents(transform.sigma, step, basis_precision)
    V_int = quantize_basis(transform.V, exponents)
    V_hat = dequantize_basis(V_int, exponents)
    Z = (transform.X - mean) @ V_hat.T  # z = V_hat (x - mu_hat), one row per block
    Q = quantize(Z, step, rounding)
    n = components_to_keep(Z, Q, step, exponents)
    # Gram-Schmidt: rows 0..n-1 of V_hat do not depend on the rows dropped after them.
    coded = CodedPlane(step, mean, exponents[:n], V_int[:n], Q[:, :n])
    return coded, coded.integers(transform.grid)


def encode_plane_fixed(transform, step, rounding):
    """The DCT (``dct_basis``) -> quantized coefficients, no rows sent: (CodedPlane, ints)."""
    mean = np.round(transform.mu).astype(np.int64)
    Z = (transform.X - mean) @ dct_basis(transform.block).T
    Q = quantize(Z, step, rounding)
    n = components_to_keep(Z, Q, step)
    empty = np.zeros((0, Z.shape[1]), dtype=np.int64)
    coded = CodedPlane(step, mean, empty[:, 0], empty, Q[:, :n])
    return coded, coded.integers(transform.grid)


def components_to_keep(Z, Q, step, exponents=None):
    """n = 1 + the last k with D_k > lambda R_k: component k buys more than it costs.

    D_k = sum_j z_jk^2 - (z_jk - Delta q_jk)^2, the squared error it removes;
    R_k = n_blocks H(q_k) + B^2 (e_k + 1) bits, its coefficients (order-0 entropy) and its
    basis row (no row with ``exponents`` None: a fixed basis); lambda from ``rate_lambda``.
    Later components are dropped, rows and all.
    """
    saved = np.sum(Z**2 - (Z - dequantize(Q, step)) ** 2, axis=0)  # D_k
    bits = np.array([entropy_bits(q_k) for q_k in Q.T])  # n_blocks H(q_k)
    if exponents is not None:
        bits += Z.shape[1] * (exponents + 1)  # + the basis row, B^2 entries
    pays = np.flatnonzero(saved > rate_lambda(step) * bits)
    return int(pays[-1]) + 1 if pays.size else 1


def entropy_bits(symbols):
    """n H(p_hat) = -sum_s c_s log2(c_s / n): bits of an ideal order-0 code for the symbols."""
    counts = symbol_counts(symbols)
    return float(-np.sum(counts * np.log2(counts / len(symbols))))


def symbol_counts(symbols):
    """c_s of every integer s that occurs, by increasing s: ``np.unique``'s counts.

    Counted by ``np.bincount`` when the symbols span a range not much longer than they
    are (the quantized coefficients always do), which needs no sort.
    """
    symbols = np.ravel(symbols)
    if symbols.size and np.issubdtype(symbols.dtype, np.integer):
        low = symbols.min()
        if int(symbols.max()) - int(low) < 4 * symbols.size + 256:
            counts = np.bincount(symbols - low)
            return counts[counts > 0]
    return np.unique(symbols, return_counts=True)[1]


def rate_lambda(step):
    """lambda = (ln 2 / 6) Delta^2, squared error per bit at step Delta.

    At high rate a coefficient costs D(R) = (Delta^2 / 12) 2^(-2 (R - R_0)) squared error,
    so -dD/dR = 2 ln 2 Delta^2 / 12: a bit is worth spending where it buys more than lambda.
    """
    return np.log(2) / 6 * step**2


def decode_plane(coded, grid, block, shape):
    """x_hat = mu_hat + V_hat^T (Delta q) per block, tiled back to a plane of ``shape``."""
    X_hat = dequantize(coded.coefficients, coded.step) @ coded.rows(block) + coded.mean
    return merge_blocks(X_hat, grid, block, shape)


def plane_shapes(height, width, channels, subsampled):
    """(H, W) of each plane: luma at full size, chroma at ceil(H/2) x ceil(W/2) if subsampled."""
    chroma = (-(-height // 2), -(-width // 2)) if subsampled else (height, width)
    return [(height, width)] + [chroma] * (channels - 1)


def image_planes(pixels, subsample_chroma):
    """The planes to code: the gray plane, or luma and (subsampled) chroma of an RGB image."""
    if pixels.shape[2] == 1:
        return [pixels[:, :, 0]]
    y = rgb_to_opponent(pixels)
    chroma = [downsample2(y[:, :, c]) if subsample_chroma else y[:, :, c] for c in (1, 2)]
    return [y[:, :, 0], *chroma]


def planes_to_image(planes, height, width):
    """The inverse of ``image_planes``: upsample chroma, back to RGB, (H, W, C) float."""
    if len(planes) == 1:
        return planes[0][:, :, np.newaxis]
    full = [p if p.shape == (height, width) else upsample2(p, (height, width)) for p in planes]
    return opponent_to_rgb(np.stack(full, axis=-1))


# -- the codec -----------------------------------------------------------------------------


def check_block(block):
    """ValueError unless ``block`` is an int in ``BLOCK_RANGE``."""
    low, high = BLOCK_RANGE
    if not isinstance(block, Integral) or isinstance(block, bool) or not low <= block <= high:
        raise ValueError(f"block must be an int in [{low}, {high}], got {block!r}")


def check_step(step):
    """ValueError unless the quantizer step is a finite number >= ``MIN_STEP``."""
    if not isinstance(step, Real) or not (np.isfinite(step) and step >= MIN_STEP):
        raise ValueError(f"step must be a finite number >= {MIN_STEP}, got {step!r}")


def check_options(block, subsample_chroma, rounding, basis_precision, basis="learned"):
    """Raise ValueError naming the first bad option of ``encode`` and its value."""
    check_block(block)
    if basis not in BASES:
        raise ValueError(f"basis must be one of {BASES}, got {basis!r}")
    if subsample_chroma not in SUBSAMPLE:
        raise ValueError(f"subsample_chroma must be one of {SUBSAMPLE}, got {subsample_chroma!r}")
    if not (isinstance(rounding, Real) and 0 < rounding <= 0.5):
        raise ValueError(f"rounding must be in (0, 0.5], got {rounding!r}")
    if not (isinstance(basis_precision, Real) and basis_precision > 0):
        raise ValueError(f"basis_precision must be > 0, got {basis_precision!r}")


def check_image(image):
    """Return the image as float64 (H, W, C), C in {1, 3}; raise ValueError otherwise."""
    pixels = np.asarray(image)
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (1, 3)):
        raise ValueError(f"image must be H x W, H x W x 1 or H x W x 3, got shape {pixels.shape}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ValueError(f"image is empty, got shape {pixels.shape}")
    if not np.issubdtype(pixels.dtype, np.number) or not np.all(np.isfinite(pixels)):
        raise ValueError("image must hold finite numbers on the 0..255 scale")
    return np.atleast_3d(pixels.astype(np.float64))


def encode(
    image,
    step,
    block=8,
    *,
    subsample_chroma="auto",
    rounding=ROUNDING,
    basis_precision=BASIS_PRECISION,
    basis="learned",
):
    """Compress an image (H x W, H x W x 1 or H x W x 3, 0..255) into self-contained bytes.

    ``step`` is the quantizer step Delta on the luma (or gray) coefficients: larger means
    fewer bytes and lower PSNR; chroma uses ``chroma_step``. The options are those of
    ``Encoder``, which codes one image at many steps and learns its transform once.
    """
    check_step(step)
    options = {"rounding": rounding, "basis_precision": basis_precision, "basis": basis}
    return Encoder(image, block, subsample_chroma=subsample_chroma, **options).encode(step)


class Encoder:
    """The codec for one image: each plane's KLT learned once, then coded at any step Delta.

    Each step's bytes are kept: a step asked for twice (rate searches for several targets
    start from the same bracket) is encoded once. ``subsample_chroma``: True (4:2:0),
    False (full-size chroma) or "auto", which encodes both ways and keeps the one with the
    lower ``lagrangian_cost``. ``rounding`` is the dead-zone offset r of ``quantize``;
    ``basis_precision`` the alpha of ``basis_exponents``. ``basis``: "learned" (each plane's
    KLT, its rows sent) or "fixed" (the DCT, ``dct_basis``, known to the decoder);
    ``rate_distortion.search_bases`` tries both at a target rate and keeps the better.

    Work the two ways share is done once: the luma plane (the same in both) is learned,
    coded and streamed once per step, and each candidate's distortion is measured on the
    image rebuilt from its coded planes, the pixels ``decode`` would return from its bytes.
    ``workers=2`` codes the two ways at once, in two threads (LZMA and NumPy's large array
    operations release the GIL): the same bytes, sooner on two free cores. ``encode`` may be
    called from several threads (``rate_distortion.search_steps``): each step is still
    encoded once, by the first thread that asks for it.
    """

    def __init__(
        self,
        image,
        block=8,
        *,
        subsample_chroma="auto",
        rounding=ROUNDING,
        basis_precision=BASIS_PRECISION,
        basis="learned",
        workers=1,
    ):
        check_options(block, subsample_chroma, rounding, basis_precision, basis)
        if not isinstance(workers, Integral) or workers < 1:
            raise ValueError(f"workers must be an int >= 1, got {workers!r}")
        self.pixels = check_image(image)  # (H, W, C) float64
        self.image, self.ndim = image, np.ndim(image)  # as given, for comparisons
        self.block, self.subsample_chroma = block, subsample_chroma
        self.rounding, self.basis_precision, self.basis = rounding, basis_precision, basis
        self.workers = workers
        self._transforms = {}  # (plane, at half size) -> its PlaneTransform
        self._bytes = {}  # step -> a Future of the bytes of encode(step)
        self._lock = threading.RLock()  # guards both dicts

    def with_basis(self, basis):
        """The same image coded in ``basis``: its transforms shared (learned once), its bytes
        its own."""
        check_options(self.block, self.subsample_chroma, self.rounding, self.basis_precision, basis)
        other = copy.copy(self)
        other.basis, other._bytes = basis, {}
        return other

    @property
    def shape(self):
        """(H, W) of the image."""
        return self.pixels.shape[:2]

    def plane_keys(self, subsampled):
        """(plane index, at half size) of each plane: the luma is never subsampled."""
        subsampled = subsampled and self.pixels.shape[2] == 3
        return [(i, subsampled and i > 0) for i in range(self.pixels.shape[2])]

    def transforms(self, subsampled):
        """The KLT of each plane: luma, chroma (at half size if subsampled); learned once."""
        keys = self.plane_keys(subsampled)
        with self._lock:
            missing = [key for key in keys if key not in self._transforms]
            if missing:
                planes = image_planes(self.pixels, any(half for _, half in keys))
                for key in missing:
                    self._transforms[key] = learn_transform(planes[key[0]], self.block)
            return [self._transforms[key] for key in keys]

    def encode(self, step):
        """The bytes of the image at step Delta; the same as ``encode(image, step, ...)``."""
        check_step(step)
        step = float(step)
        with self._lock:
            pending, first = self._bytes.get(step), step not in self._bytes
            if first:
                pending = self._bytes[step] = Future()
        if first:
            try:
                pending.set_result(self._encode(step))
            except BaseException as error:
                with self._lock:
                    del self._bytes[step]  # not kept: the next call tries again
                pending.set_exception(error)
                raise
        return pending.result()

    def _encode(self, step):
        if self.subsample_chroma != "auto" or self.pixels.shape[2] == 1:
            return self.encode_image(bool(self.subsample_chroma), step)
        shared = {}  # plane key -> (CodedPlane, its integers) at this step
        self.transforms(subsampled=True), self.transforms(subsampled=False)  # learned here
        self.code_planes([(0, False)], step, shared)  # the luma: the same in both

        def candidate(subsampled):
            coded = self.code_image(subsampled, step, shared)
            return coded, coded.cost(self.pixels, step)

        if self.workers > 1:
            with ThreadPoolExecutor(max_workers=1) as pool:
                full = pool.submit(candidate, False)  # chroma planes of its own
                candidates = [candidate(True), full.result()]
        else:
            candidates = [candidate(subsampled) for subsampled in (True, False)]
        return min(candidates, key=lambda c: c[1])[0].data  # the first if equal, as min does

    def encode_image(self, subsampled, step):
        """Header, plane headers, LZMA payload at step Delta, chroma subsampled or not."""
        return self.code_image(subsampled, step, {}).data

    def code_image(self, subsampled, step, shared):
        """The image coded at step Delta: its bytes and the coded planes they hold.

        ``shared`` keeps each plane's coding at this step for the next call (same step).
        """
        height, width, channels = self.pixels.shape
        keys = self.plane_keys(subsampled)
        subsampled = any(half for _, half in keys)
        self.code_planes(keys, step, shared)
        coded, streams = zip(*(shared[key] for key in keys), strict=True)
        fields = (height, width, self.ndim, channels, self.block, subsampled)
        grids = [t.grid for t in self.transforms(subsampled)]
        return CodedImage(to_bytes(coded, grids, fields, streams), coded, grids, fields)

    def code_planes(self, keys, step, shared):
        """Code each plane of ``keys`` not yet in ``shared`` at step Delta, into ``shared``."""
        for key in keys:
            if key not in shared:
                transform = self.transforms(key[1])[key[0]]  # learned once
                plane_step = chroma_step(step, key[1]) if key[0] else step
                options = (self.rounding, self.basis_precision, self.basis)
                shared[key] = encode_plane(transform, plane_step, *options)


@dataclass(frozen=True)
class CodedImage:
    """One way of coding an image: its bytes and the coded planes they were made from."""

    data: bytes
    planes: tuple  # CodedPlane of each plane
    grids: list  # blocks down and across each plane
    fields: tuple  # height, width, ndim, channels, block, subsampled

    def decoded(self):
        """The uint8 image ``decode(self.data)`` returns, rebuilt without reading the bytes."""
        height, width, ndim, channels, block, subsampled = self.fields
        shapes = plane_shapes(height, width, channels, subsampled)
        return rebuild(self.planes, self.grids, shapes, block, ndim)

    def cost(self, pixels, step):
        """``lagrangian_cost(pixels, self.data, step)``."""
        return lagrangian(pixels, self.decoded(), len(self.data), step)


def lagrangian_cost(pixels, data, step):
    """J = D + lambda R: D = ||x - x_hat||^2, R = 8 len(data) bits, lambda = ``rate_lambda``."""
    return lagrangian(pixels, decode(data), len(data), step)


def lagrangian(pixels, decoded, n_bytes, step):
    """J = ||x - x_hat||^2 + lambda 8 n_bytes for the decoded image x_hat."""
    distortion = np.sum((pixels - np.atleast_3d(decoded)) ** 2)
    return distortion + rate_lambda(step) * 8 * n_bytes


def to_bytes(coded, grids, fields, streams=None):
    """Header (``fields`` and bytes per symbol), plane headers, exponents, LZMA payload.

    ``streams``: each plane's ``integers(grid)``, when already at hand.
    """
    if streams is None:
        streams = [c.integers(grid) for c, grid in zip(coded, grids, strict=True)]
    ints = np.concatenate(streams)
    width_bytes = symbol_bytes(ints)
    body = b"".join(PLANE.pack(c.step, c.coefficients.shape[1], c.kind) for c in coded)
    body += b"".join(c.exponents.astype(np.uint8).tobytes() for c in coded)
    body += pack_ints(ints, width_bytes)
    tail = HEADER.pack(*fields, width_bytes) + body
    return MAGIC + CHECKSUM.pack(zlib.crc32(tail)) + tail


@dataclass(frozen=True)
class Header:
    """What ``decode`` reads before the payload."""

    height: int
    width: int
    ndim: int  # 2 for an H x W input, 3 for H x W x C
    channels: int  # C, 1 or 3
    block: int  # B
    subsampled: bool  # chroma planes at half size
    width_bytes: int  # bytes per symbol in the payload
    steps: list  # Delta of each plane
    counts: list  # n_k, the components of each plane
    exponents: list  # e_k of each plane, n_k of them (none for a plane in the fixed basis)
    payload_offset: int


def read_header(data):
    """Parse and check everything before the payload; ValueError on any inconsistency."""
    offset = len(MAGIC) + CHECKSUM.size
    if len(data) < offset + HEADER.size or not data.startswith(MAGIC):
        raise ValueError("not a patch-codec byte string (bad magic or too short)")
    (crc,) = CHECKSUM.unpack_from(data, len(MAGIC))
    if zlib.crc32(data[offset:]) != crc:
        raise ValueError("corrupted patch-codec byte string (checksum mismatch)")
    height, width, ndim, channels, block, subsampled, width_bytes = HEADER.unpack_from(data, offset)
    offset += HEADER.size
    if ndim not in (2, 3) or channels not in (1, 3) or (ndim == 2 and channels != 1):
        raise ValueError(f"corrupted header: ndim={ndim}, channels={channels}")
    if height == 0 or width == 0 or subsampled not in (0, 1) or not 1 <= width_bytes <= 8:
        raise ValueError(f"corrupted header: {height} x {width}, {width_bytes} bytes per symbol")
    check_block(block)
    steps, counts, kinds = [], [], []
    for _ in range(channels):
        if offset + PLANE.size > len(data):
            raise ValueError("truncated patch-codec header")
        step, n, kind = PLANE.unpack_from(data, offset)
        offset += PLANE.size
        if not (np.isfinite(step) and step > 0) or not 1 <= n <= block * block:
            raise ValueError(f"corrupted plane header: step={step}, n={n}")
        if kind not in (LEARNED, FIXED):
            raise ValueError(f"corrupted plane header: basis kind {kind}")
        steps.append(step)
        counts.append(n)
        kinds.append(kind)
    exponents = []
    for n, kind in zip(counts, kinds, strict=True):
        n = n if kind == LEARNED else 0  # the fixed basis sends no rows
        e = np.frombuffer(data[offset : offset + n], dtype=np.uint8).astype(np.int64)
        offset += n
        if len(e) != n or e.max(initial=0) > MAX_EXPONENT:
            raise ValueError(f"corrupted or truncated basis exponents: {e.tolist()}")
        exponents.append(e)
    fields = (height, width, ndim, channels, block, bool(subsampled), width_bytes)
    return Header(*fields, steps, counts, exponents, offset)


def decode(data):
    """Decompress bytes from ``encode`` into a uint8 image of the encoded shape."""
    data = bytes(data)
    header = read_header(data)
    B2 = header.block * header.block
    shapes = plane_shapes(header.height, header.width, header.channels, header.subsampled)
    grids = [split_grid(shape, header.block) for shape in shapes]
    # per plane: mean (B^2), basis (B^2 per row sent), coefficients (n_blocks n)
    sizes = [
        B2 + len(e) * B2 + gh * gw * n
        for n, e, (gh, gw) in zip(header.counts, header.exponents, grids, strict=True)
    ]
    ints = unpack_ints(data[header.payload_offset :], sum(sizes), header.width_bytes)
    coded = [
        CodedPlane.from_integers(chunk, step, exponents, grid, header.block, n)
        for chunk, step, exponents, grid, n in zip(
            np.split(ints, np.cumsum(sizes)[:-1]),
            header.steps,
            header.exponents,
            grids,
            header.counts,
            strict=True,
        )
    ]
    return rebuild(coded, grids, shapes, header.block, header.ndim)


def rebuild(coded, grids, shapes, block, ndim):
    """The coded planes back to a uint8 image: decode each plane, then back to RGB."""
    planes = [
        decode_plane(c, grid, block, shape)
        for c, grid, shape in zip(coded, grids, shapes, strict=True)
    ]
    image = planes_to_image(planes, *shapes[0])
    if not np.all(np.isfinite(image)):  # only a forged payload with a valid checksum gets here
        raise ValueError("corrupted patch-codec payload: non-finite pixels")
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    return image[:, :, 0] if ndim == 2 else image


def learned_basis(image, block=8, n_components=None):
    """The first n principal axes of the image's B x B luma (or gray) blocks, (n, B, B).

    For plotting: the first axis is nearly flat (the block mean), the next ones gradients,
    then ever finer, DCT-like patterns. None keeps all B^2.
    """
    check_block(block)
    pixels = check_image(image)
    X, _ = split_blocks(image_planes(pixels, subsample_chroma=False)[0], block)
    _, V, _ = learn_basis(X)
    return V[:n_components].reshape(-1, block, block)
