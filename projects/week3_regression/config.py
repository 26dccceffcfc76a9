"""The schema of ``configs/week3/week3.yaml`` and its groups: a typo or bad value stops it."""

from dataclasses import dataclass, field
from enum import StrEnum

from common.config import BaseConfig, Device, register_schema


@dataclass
class DataConfig:
    test_size: float = 0.2  # held-out share (stratified for the classification task)
    standardize: bool = True  # z-score the features on the training part


class Optimizer(StrEnum):
    """What trains the weights: a hand-written loop, torch.optim, L-BFGS or Newton."""

    gd = "gd"  # gradient descent, the hand-written loop
    sgd = "sgd"  # torch.optim.SGD (full batch unless batch_size is set)
    momentum = "momentum"  # SGD with heavy-ball momentum 0.9
    rmsprop = "rmsprop"
    adam = "adam"
    lbfgs = "lbfgs"  # our L-BFGS with a strong-Wolfe line search
    newton = "newton"  # Newton's method: one solve with the Hessian per step


@dataclass
class OptimizerConfig:
    name: Optimizer = Optimizer.lbfgs  # the group optimizer/: make week3 ARGS="optimizer=adam"
    lr: float | None = None  # None: 1/L for gd, sgd, momentum (L: largest Hessian eigenvalue)
    max_steps: int = 20_000  # step cap
    tol: float = 1e-6  # stop when the full-batch gradient norm is below this
    batch_size: int | None = None  # None: full batch; else mini-batches (not for lbfgs, newton)


@dataclass
class PenaltyConfig:
    l1: float = 0.0  # lam_1 ||w||_1
    l2: float = 0.0  # (lam_2 / 2) ||w||^2


@dataclass
class Week3Config(BaseConfig):
    tasks: list[str] = field(default_factory=lambda: ["linear", "logistic"])
    data: DataConfig = field(default_factory=DataConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    linear: PenaltyConfig = field(default_factory=PenaltyConfig)
    logistic: PenaltyConfig = field(default_factory=lambda: PenaltyConfig(l2=1e-2))
    compare_steps: int = 3000  # step cap of each optimizer in the comparison plot
    progress: bool = True  # a progress bar on long training loops
    device: Device = Device.cpu


register_schema("week3_schema", Week3Config)
