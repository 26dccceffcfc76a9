"""The schema of ``configs/week2/week2.yaml`` and its groups: a typo or bad value stops it."""

from dataclasses import dataclass, field
from enum import StrEnum

from common.config import BaseConfig, register_schema


@dataclass
class DataConfig:
    path: str | None = None  # None: the SMS Spam Collection; a label<TAB>text file, or a .csv
    label_column: str = "label"  # the columns of a .csv file (with a header row)
    text_column: str = "text"
    test_size: float = 0.2  # held-out share for eval=holdout (stratified, seeded)


@dataclass
class FeaturesConfig:
    lowercase: bool = True
    word_ngrams: list[int] | None = field(default_factory=lambda: [1, 1])  # [min_n, max_n]
    char_ngrams: list[int] | None = field(default_factory=lambda: [2, 4])  # char_wb; None: none
    min_df: int = 2  # a term must occur in at least this many training messages
    binary: bool = False  # presence (1) instead of counts


class Model(StrEnum):
    """Which naive Bayes event model (projects/week2_spam/naive_bayes.py)."""

    bernoulli = "bernoulli"  # presence and absence of each term
    multinomial = "multinomial"  # term counts
    complement = "complement"  # weights from the other class (Rennie et al. 2003)


class Evaluation(StrEnum):
    """How the filter is scored."""

    holdout = "holdout"  # one stratified train/test split
    cv = "cv"  # stratified k-fold


@dataclass
class ModelConfig:
    name: Model = Model.bernoulli  # the group model/: make week2 ARGS="model=complement"
    alpha: float = 0.01  # Lidstone pseudo-count; 1: Laplace, 0: the unsmoothed MLE


class Calibration(StrEnum):
    """How P(spam) is recalibrated from the filter's log-odds z (calibration.py)."""

    none = "none"  # the filter's own P(spam)
    temperature = "temperature"  # sigmoid(z / T), T fitted on out-of-fold z
    isotonic = "isotonic"  # a monotone step map of z (pool-adjacent-violators)


@dataclass
class CalibrationConfig:
    method: Calibration = Calibration.none
    folds: int = 5  # out-of-fold log-odds z of the training messages, to fit the map on


@dataclass
class ExplainConfig:
    n_misclassified: int = 3  # misclassified test messages explained token by token
    n_tokens: int = 15  # most spam- and ham-indicative tokens shown


@dataclass
class Week2Config(BaseConfig):
    data: DataConfig = field(default_factory=DataConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    eval: Evaluation = Evaluation.holdout
    cv_folds: int = 10  # k for eval=cv
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    explain: ExplainConfig = field(default_factory=ExplainConfig)
    drill_samples: int = 10_000  # draws per distribution in the probability drills


register_schema("week2_schema", Week2Config)
