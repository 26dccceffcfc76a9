"""Blocks: a plane cut into B x B tiles, the rows x_j of X (n_blocks x B^2), and put back.

The edges are padded by replication to multiples of B, so every block is whole;
``merge_blocks`` crops the padding again. No loop: pad, reshape to
(rows, B, columns, B), swap the two middle axes (``numpy_basics`` shows the loop it replaces).
"""

from __future__ import annotations

import numpy as np


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
