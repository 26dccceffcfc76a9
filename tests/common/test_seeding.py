"""``seed_everything``: the same draws for the same seed, and no torch import of its own."""

import random
import subprocess
import sys

import numpy as np

from common.paths import REPO_ROOT
from common.seeding import seed_everything


def test_the_same_seed_gives_the_same_draws_from_random_numpy_and_torch():
    import torch

    def draws():
        return random.random(), np.random.rand(), torch.rand(1).item()  # noqa: NPY002

    seed_everything(3)
    first = draws()
    seed_everything(3)
    assert draws() == first
    seed_everything(4)
    assert draws() != first


def test_seeding_does_not_import_torch_for_a_run_that_does_not_use_it():
    code = (
        "import sys; from common.seeding import seed_everything; "
        "seed_everything(0); print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
