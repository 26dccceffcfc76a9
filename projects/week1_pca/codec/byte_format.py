"""The byte format: magic, CRC-32, image header, plane headers, basis exponents, payload.

``to_bytes`` writes it and ``read_header`` checks everything before the payload, so a
corrupted or truncated file fails in one ValueError.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from common.validation import check_int
from projects.week1_pca.codec.entropy_coding import pack_ints, symbol_bytes

MAGIC = b"KLT2"  # KLT1: every plane in a learned basis
CHECKSUM = struct.Struct("<I")  # crc32 of everything after it
HEADER = struct.Struct("<IIBBBBB")  # height, width, ndim, channels, block, subsampled, bytes/symbol
PLANE = struct.Struct("<dHB")  # step Delta of the plane, n components kept, basis kind
LEARNED, FIXED = 0, 1  # basis kinds: the image's KLT (rows sent) or the DCT (rows known)
BLOCK_RANGE = (2, 32)
MAX_EXPONENT = 15  # the finest basis grid, 2^-15


def check_block(block):
    """ValueError unless ``block`` is an int in ``BLOCK_RANGE``."""
    low, high = BLOCK_RANGE
    check_int(block, "block", low, high)


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
