"""The schema of ``configs/week1/week1.yaml`` and its groups: a typo or bad value stops it."""

from dataclasses import dataclass, field
from enum import StrEnum

from common.config import BaseConfig, register_schema


class Solver(StrEnum):
    """How :class:`projects.week1_pca.pca.PCA` finds the principal axes."""

    covariance_eigh = "covariance_eigh"  # eigenvectors of the p x p covariance matrix
    svd = "svd"  # right singular vectors of the centred n x p data
    randomized = "randomized"  # a randomized range finder (Halko et al. 2011)


class CodecBasis(StrEnum):
    """The basis the patch codec codes its blocks in."""

    auto = "auto"  # learned or fixed, whichever gives the higher PSNR at each rate
    learned = "learned"  # the image's KLT (PCA of its blocks), its rows sent
    fixed = "fixed"  # the 2-D DCT, known to both sides: no rows sent


@dataclass
class PCAConfig:
    solver: Solver = Solver.covariance_eigh  # the group pca/: make week1 ARGS="pca=svd"
    n_components: int = 20  # components kept when comparing with scikit-learn on digits


@dataclass
class LowRankConfig:
    # the curve's ranks; these defaults are clipped to each image's min(H, W)
    ranks: list[int] = field(default_factory=lambda: [5, 10, 20, 40, 80, 160])
    rank: int = 40  # the setting shown in the reconstruction grid and logged as svd_*


@dataclass
class PatchCodecConfig:
    block: int = 8  # B: the codec works on B x B blocks
    target_bpp: float = 1.0  # the chosen setting: the quantization step is searched to hit it
    curve_bpp: list[float] = field(default_factory=lambda: [0.25, 0.5, 1.5, 2.0, 3.0])
    basis: CodecBasis = CodecBasis.auto


@dataclass
class JpegConfig:
    qualities: list[int] = field(default_factory=lambda: list(range(5, 100, 5)))


@dataclass
class Week1Config(BaseConfig):
    images: list[str] = field(default_factory=lambda: ["china.jpg", "flower.jpg"])
    max_pixels: int = 4_000_000  # larger images are shrunk while decoding
    pca: PCAConfig = field(default_factory=PCAConfig)
    low_rank: LowRankConfig = field(default_factory=LowRankConfig)
    patch_codec: PatchCodecConfig = field(default_factory=PatchCodecConfig)
    jpeg: JpegConfig = field(default_factory=JpegConfig)


register_schema("week1_schema", Week1Config)
