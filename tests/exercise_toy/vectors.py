"""Two small formulas, each an exercise (W9.1)."""

import numpy as np

from common.exercises import exercise


@exercise("W9.1", hint="sum the products of matching entries")
def dot(a, b):
    """a . b = sum_i a_i b_i, for 1-D arrays of one length."""
    return float(np.sum(np.asarray(a, dtype=float) * np.asarray(b, dtype=float)))


@exercise("W9.1", hint="the square root of a . a")
def norm(a):
    """||a||_2 = sqrt(a . a)."""
    return float(np.sqrt(dot(a, a)))


def cosine(a, b):
    """What the 'capstone' calls: a . b / (||a|| ||b||), through the two exercises."""
    return dot(a, b) / (norm(a) * norm(b))
