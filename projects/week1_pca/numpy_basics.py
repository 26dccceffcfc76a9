"""NumPy basics (W1.P4): the codec's block split by slicing in a loop, beside its reshapes.

``codec.blocks.split_blocks`` cuts a plane into B x B blocks without a loop: pad, reshape
(H, W) -> (H/B, B, W/B, B), swap the two middle axes, reshape to (n_blocks, B^2). Each
step only rewrites the strides of a view until the last reshape copies once. The loop below
does the same by indexing: block (i, j) is rows iB..iB+B-1, columns jB..jB+B-1, with indices
past the edge clamped to the last row or column (edge replication without ``np.pad``).

Sources:
- NumPy documentation, "Indexing on ndarrays" and "Broadcasting"; "Internal memory layout
  of an ndarray" (strides, views and copies).
- S. van der Walt, S. C. Colbert, G. Varoquaux, "The NumPy array: a structure for efficient
  numerical computation", Computing in Science & Engineering 13(2) (2011).
"""

import numpy as np

from common.exercises import exercise


@exercise(
    "W1.P4",
    hint="slice plane[i:i+B, j:j+B] per block; repeat the last row/column at the edges",
)
def split_blocks_by_slicing(plane, block):
    """X[j] = block j in raster order, flattened, one slice per block; shape (n_blocks, B^2).

    Block (r, c) holds plane[min(rB + a, H - 1), min(cB + b, W - 1)] for a, b in 0..B-1.
    """
    plane = np.asarray(plane)
    height, width = plane.shape
    n_rows, n_cols = -(-height // block), -(-width // block)  # ceil(H / B), ceil(W / B)
    X = np.empty((n_rows * n_cols, block * block), dtype=plane.dtype)
    for r in range(n_rows):  # the loop is the lesson
        rows = np.minimum(np.arange(r * block, (r + 1) * block), height - 1)
        for c in range(n_cols):
            cols = np.minimum(np.arange(c * block, (c + 1) * block), width - 1)
            X[r * n_cols + c] = plane[np.ix_(rows, cols)].ravel()
    return X
