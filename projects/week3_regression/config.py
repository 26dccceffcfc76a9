"""The typed schema of ``configs/week3.yaml``: a typo or a wrong type fails at composition."""

from dataclasses import dataclass, field

from common.config import BaseConfig, register_schema


@dataclass
class DataConfig:
    test_size: float = 0.2  # held-out share (stratified for the classification task)
    standardize: bool = True  # z-score the features on the training part


@dataclass
class OptimizerConfig:
    name: str = "lbfgs"  # gd | sgd | momentum | rmsprop | adam | lbfgs | newton
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
    device: str = "cpu"  # cpu | auto (CUDA when available) | cuda (fails at once without a GPU)


register_schema("week3_schema", Week3Config)
