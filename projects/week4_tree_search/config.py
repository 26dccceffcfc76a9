"""The schema of ``configs/week4/week4.yaml`` and its groups: a typo or bad value stops it."""

from dataclasses import dataclass, field
from enum import StrEnum

from common.config import BaseConfig, Device, register_schema


class Criterion(StrEnum):
    """The impurity a split lowers."""

    entropy = "entropy"  # information gain
    gini = "gini"


class Metric(StrEnum):
    """How the search scores a database row against a query."""

    cosine = "cosine"
    euclidean = "euclidean"
    manhattan = "manhattan"


@dataclass
class TreeConfig:
    datasets: list[str] = field(default_factory=lambda: ["iris", "wine", "breast_cancer"])
    criterion: Criterion = Criterion.entropy  # the group tree/: make week4 ARGS="tree=gini"
    max_depth: int | None = None  # None: grow until pure or a minimum below stops it
    min_samples_split: int = 2
    min_samples_leaf: int = 1
    min_impurity_decrease: float = 0.0
    test_size: float = 0.3  # held-out share, stratified
    boundary_dataset: str = "iris"  # the decision-boundary plot: a tree on two features
    boundary_features: list[int] = field(default_factory=lambda: [2, 3])
    drawn_depth: int = 3  # levels of the tree drawn in the figure


@dataclass
class SearchConfig:
    metric: Metric = Metric.cosine  # the group search/: make week4 ARGS="search=euclidean"
    k: int = 10  # neighbours per query
    block_size: int = 4096  # database rows scored at once (bounds the memory)
    test_size: float = 0.2  # digits held out as queries
    gallery_queries: int = 6  # query images shown with their neighbours
    heatmap_samples: int = 200  # digits in the similarity heatmap


@dataclass
class CurseConfig:
    dims: list[int] = field(default_factory=lambda: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000])
    n_points: int = 1000  # uniform points in the unit cube per dimension
    n_queries: int = 20  # the relative contrast is averaged over these queries


@dataclass
class SvmConfig:
    dataset: str = "iris"  # a linear SVM on two classes and two features of this set
    features: list[int] = field(default_factory=lambda: [2, 3])
    classes: list[int] = field(default_factory=lambda: [1, 2])  # y = -1, y = +1
    C: float = 10.0  # weight of the hinge losses against ||w||^2 / 2
    max_iter: int = 100  # L-BFGS iterations per smoothing stage


@dataclass
class EmbeddingConfig:
    dim: int = 16  # PCA dimension of the digits embedding k-means runs in
    n_clusters: int = 10
    search_dims: list[int] = field(default_factory=lambda: [2, 8, 16, 32, 64])


@dataclass
class GraphConfig:
    source: int = 0  # training digit the shortest paths start from
    component_ks: list[int] = field(default_factory=lambda: [1, 2, 3])  # each <= search.k


@dataclass
class SelectionConfig:
    dataset: str = "breast_cancer"  # features ranked by mutual information with the label
    n_bins: int = 8  # quantile bins per feature
    top_k: int = 3  # features the selected tree keeps


@dataclass
class Week4Config(BaseConfig):
    device: Device = Device.cpu  # where the similarity search runs (common.devices)
    tree: TreeConfig = field(default_factory=TreeConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    curse: CurseConfig = field(default_factory=CurseConfig)
    svm: SvmConfig = field(default_factory=SvmConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)


register_schema("week4_schema", Week4Config)
