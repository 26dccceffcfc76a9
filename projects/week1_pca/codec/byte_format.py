"""The byte format: magic, CRC-32, image header, plane headers, basis exponents, streams.

The payload is two LZMA streams, the luma's and the two chroma planes' (one for a gray
image), each with its bytes per symbol and its length in a stream header: the luma, most of
the bytes, is the same in both chroma choices of ``patch_codec.Encoder``, which so
compresses it once per step. ``to_bytes`` writes it and ``read_header`` checks everything
before the payload, so a corrupted or truncated file fails in one ValueError.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from common.validation import check_int
from projects.week1_pca.codec.entropy_coding import pack_ints, symbol_bytes

MAGIC = b"KLT3"  # KLT1: every plane in a learned basis; KLT2: one LZMA stream for all planes
CHECKSUM = struct.Struct("<I")  # crc32 of everything after it
HEADER = struct.Struct("<IIBBBB")  # height, width, ndim, channels, block, subsampled
PLANE = struct.Struct("<dHB")  # step Delta of the plane, n components kept, basis kind
STREAM = struct.Struct("<BI")  # bytes per symbol, length of the LZMA stream in bytes
LEARNED, FIXED = 0, 1  # basis kinds: the image's KLT (rows sent) or the DCT (rows known)
BLOCK_RANGE = (2, 32)
MAX_EXPONENT = 15  # the finest basis grid, 2^-15


def check_block(block):
    """ValueError unless ``block`` is an int in ``BLOCK_RANGE``."""
    low, high = BLOCK_RANGE
    check_int(block, "block", low, high)


def stream_planes(channels):
    """The planes each LZMA stream holds, in order: the luma (or gray) alone, then chroma."""
    return [[0], [1, 2]] if channels == 3 else [[0]]


def pack_stream(ints):
    """(bytes per symbol, LZMA bytes) of one stream's integers."""
    width = symbol_bytes(ints)
    return width, pack_ints(ints, width)


def to_bytes(coded, grids, fields, packed=None):
    """Header (``fields``), plane headers, exponents, stream headers, the LZMA streams.

    ``packed``: each stream's ``pack_stream`` of its planes' ``integers(grid)`` (in the
    order of ``stream_planes``), when already at hand.
    """
    if packed is None:
        ints = [c.integers(grid) for c, grid in zip(coded, grids, strict=True)]
        planes = stream_planes(len(coded))
        packed = [pack_stream(np.concatenate([ints[i] for i in p])) for p in planes]
    body = b"".join(PLANE.pack(c.step, c.coefficients.shape[1], c.kind) for c in coded)
    body += b"".join(c.exponents.astype(np.uint8).tobytes() for c in coded)
    body += b"".join(STREAM.pack(width, len(stream)) for width, stream in packed)
    tail = HEADER.pack(*fields) + body + b"".join(stream for _, stream in packed)
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
    steps: list  # Delta of each plane
    counts: list  # n_k, the components of each plane
    exponents: list  # e_k of each plane, n_k of them (none for a plane in the fixed basis)
    streams: list  # (bytes per symbol, offset, length) of each LZMA stream (``stream_planes``)


def read_header(data):
    """Parse and check everything before the payload; ValueError on any inconsistency."""
    offset = len(MAGIC) + CHECKSUM.size
    if len(data) < offset + HEADER.size or not data.startswith(MAGIC):
        raise ValueError("not a patch-codec byte string (bad magic or too short)")
    (crc,) = CHECKSUM.unpack_from(data, len(MAGIC))
    if zlib.crc32(data[offset:]) != crc:
        raise ValueError("corrupted patch-codec byte string (checksum mismatch)")
    height, width, ndim, channels, block, subsampled = HEADER.unpack_from(data, offset)
    offset += HEADER.size
    if ndim not in (2, 3) or channels not in (1, 3) or (ndim == 2 and channels != 1):
        raise ValueError(f"corrupted header: ndim={ndim}, channels={channels}")
    if height == 0 or width == 0 or subsampled not in (0, 1):
        raise ValueError(f"corrupted header: {height} x {width}, subsampled={subsampled}")
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
    fields = (height, width, ndim, channels, block, bool(subsampled))
    return Header(*fields, steps, counts, exponents, read_streams(data, offset, channels))


def read_streams(data, offset, channels):
    """(bytes per symbol, offset, length) of each stream; ValueError unless they fill data."""
    n_streams = len(stream_planes(channels))
    if offset + n_streams * STREAM.size > len(data):
        raise ValueError("truncated patch-codec header")
    headers = [STREAM.unpack_from(data, offset + i * STREAM.size) for i in range(n_streams)]
    payload = start = offset + n_streams * STREAM.size
    streams = []
    for width, length in headers:
        if not 1 <= width <= 8:
            raise ValueError(f"corrupted stream header: {width} bytes per symbol")
        streams.append((width, start, length))
        start += length
    if start != len(data):
        raise ValueError(
            f"corrupted or truncated patch-codec payload: {len(data) - payload} bytes, "
            f"the stream headers say {start - payload}"
        )
    return streams
