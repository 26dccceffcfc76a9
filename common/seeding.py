"""One ``seed`` key seeds every random number generator a run touches."""

import random

import numpy as np


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch's CPU generator."""
    import torch  # imported here: about 2 s, and only runs need it

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (legacy global state, for libraries that read it)
    torch.manual_seed(seed)
