"""The ``device`` setting: cpu, auto, cuda, and one line when the GPU is missing."""

import pytest
import torch

from common.devices import torch_device

NO_GPU = not torch.cuda.is_available()


def test_cpu_is_the_cpu_and_auto_takes_cuda_only_when_present():
    assert torch_device("cpu") == torch.device("cpu")
    assert torch_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(not NO_GPU, reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_fails_in_one_line_naming_the_fix():
    with pytest.raises(
        ValueError,
        match=r"^device=cuda but torch sees no CUDA GPU .*use device=cpu or device=auto$",
    ):
        torch_device("cuda")


@pytest.mark.skipif(NO_GPU, reason="no CUDA GPU on this machine")
def test_cuda_with_a_gpu_is_the_gpu():
    assert torch_device("cuda").type == "cuda"


def test_an_unknown_device_names_the_choices():
    with pytest.raises(ValueError, match=r"device must be one of cpu, auto, cuda, got 'tpu'"):
        torch_device("tpu")
