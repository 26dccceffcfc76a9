"""Lossless coding of the quantized integers: prediction, ordering, zigzag, byte planes, LZMA.

The first coefficient is sent as a difference to the left block (Wallace 1991); every other
component with its blocks sorted by the activity of the earlier ones; integers zigzagged to
unsigned, split into byte planes and compressed by LZMA.
"""

from __future__ import annotations

import lzma

import numpy as np

LZMA_FILTERS = [
    # lc=lp=pb=0: symbols are bytes of small integers, not text; no byte-position context.
    {"id": lzma.FILTER_LZMA1, "preset": 9 | lzma.PRESET_EXTREME, "lc": 0, "lp": 0, "pb": 0}
]
LZMA_DICT_RANGE = (1 << 12, 1 << 26)  # 4 KiB (liblzma's least) .. 64 MiB (preset 9's)


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
