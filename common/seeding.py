"""One ``seed`` key seeds every random number generator a run touches."""

import random
import sys

import numpy as np


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and, if loaded, torch's.

    torch is seeded only when the run has imported it (its pipeline modules import it
    before the run starts): importing it costs about 3 s, wasted on a week without torch.
    """
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (legacy global state, for libraries that read it)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
