"""The ``device`` setting of the torch weeks: where tensors live.

- ``cpu`` (the default): the same numbers on every machine;
- ``auto``: CUDA when this machine has a usable GPU, else the CPU;
- ``cuda``: the GPU, or a one-line error before any work when there is none.
"""

from __future__ import annotations

DEVICES = ("cpu", "auto", "cuda")


def torch_device(name: str):
    """``torch.device`` for the setting ``name``; ValueError naming the fix if unusable."""
    import torch

    if name not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {name!r}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device=cuda but torch sees no CUDA GPU on this machine "
            f"(torch {torch.__version__}): use device=cpu or device=auto"
        )
    return torch.device(name)
