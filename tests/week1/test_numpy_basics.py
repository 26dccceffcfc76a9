"""The block split by a slicing loop (W1.P4) equals the codec's reshapes exactly, and both
equal a strided window view of the padded plane (an independent reference)."""

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from common.grading import grades
from projects.week1_pca.codec.blocks import split_blocks
from projects.week1_pca.numpy_basics import split_blocks_by_slicing

RNG = np.random.default_rng(0)


def windows_every_block(plane, block):
    """Every B-th B x B window of the edge-padded plane, raster order, flattened."""
    pad = [(0, -n % block) for n in plane.shape]
    windows = sliding_window_view(np.pad(plane, pad, mode="edge"), (block, block))
    return windows[::block, ::block].reshape(-1, block * block)


@grades(split_blocks_by_slicing)
@pytest.mark.parametrize(
    ("shape", "block"), [((16, 24), 8), ((17, 30), 8), ((5, 3), 4), ((1, 1), 2)]
)
def test_slicing_loop_equals_reshape_split_and_strided_windows(shape, block):
    plane = RNG.integers(0, 256, size=shape).astype(np.float64)
    by_slicing = split_blocks_by_slicing(plane, block)
    np.testing.assert_array_equal(by_slicing, split_blocks(plane, block)[0])
    np.testing.assert_array_equal(by_slicing, windows_every_block(plane, block))


def test_slicing_loop_keeps_the_dtype_and_reads_blocks_in_raster_order():
    plane = np.arange(4 * 6, dtype=np.uint8).reshape(4, 6)
    X = split_blocks_by_slicing(plane, 2)
    assert X.dtype == np.uint8
    assert X.shape == (6, 4)
    np.testing.assert_array_equal(X[1], [2, 3, 8, 9])  # block (0, 1): rows 0-1, columns 2-3
    np.testing.assert_array_equal(X[3], [12, 13, 18, 19])  # block (1, 0)
