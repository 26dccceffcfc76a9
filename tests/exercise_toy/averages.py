"""One formula, an exercise of a second module (W9.2)."""

import numpy as np

from common.exercises import exercise


@exercise("W9.2", hint="add them up, divide by how many")
def mean(x):
    """x_bar = (1/n) sum_i x_i, for a non-empty 1-D array."""
    x = np.asarray(x, dtype=float)
    return float(x.sum() / x.size)
