"""Week 1 recipe: linear-algebra drills, PCA beside scikit-learn, then three image codecs.

Each image goes through, and onto one rate-distortion plot:
1. rank-k truncated SVD per channel (Eckart-Young),
2. the patch-PCA codec (block Karhunen-Loeve transform, quantized, entropy-coded),
3. JPEG (Pillow), the reference, compared at the patch codec's byte count.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from omegaconf import DictConfig
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA as SklearnPCA

from common.plotting import figure
from common.tracking import hydra_context
from projects.week1_pca import linalg_drills, low_rank, patch_codec, plots
from projects.week1_pca import rate_distortion as rd
from projects.week1_pca.images import LoadedImage, load_image
from projects.week1_pca.pca import PCA

log = logging.getLogger(__name__)

SKLEARN_SOLVER = {"covariance_eigh": "covariance_eigh", "svd": "full", "randomized": "randomized"}
CODEC_SUFFIX = ".klt"  # the patch codec's files


def run(cfg: DictConfig) -> float:
    """Drills, the PCA check, then every image through every codec; returns the mean PSNR."""
    log_drills(linalg_drills.drill_table(np.random.default_rng(cfg.seed)))
    log_pca_against_sklearn(cfg.pca, cfg.seed)
    images = [load_image(source, cfg.max_pixels) for source in cfg.images]  # fail before work
    for image in images:
        low_rank.check_rank(image.pixels, cfg.low_rank.rank, *cfg.low_rank.ranks)
    summary = pd.DataFrame([compress(image, cfg) for image in images])
    mlflow.log_table(summary, "tables/summary.json")
    headline = summary.drop(columns="image").mean()
    mlflow.log_metrics(headline.to_dict())
    log.info("per image:\n%s", summary.round(3).to_string(index=False))
    return float(headline["psnr_db"])


def log_drills(table: pd.DataFrame) -> None:
    """W1.P1, W1.P2, W1.X1: each hand-written result beside NumPy's, as a table."""
    mlflow.log_table(table, "tables/linalg_drills.json")
    mlflow.log_metrics(
        {
            "drills_passed": float(table["passed"].sum()),
            "drills_max_abs_error": float(table["abs_error"].max()),
        }
    )
    if not table["passed"].all():
        failed = ", ".join(table.loc[~table["passed"], "check"])
        raise ArithmeticError(f"linear-algebra drills disagree with NumPy: {failed}")


def log_pca_against_sklearn(pca_cfg: DictConfig, seed: int) -> None:
    """W1.P3: the from-scratch PCA beside scikit-learn's on the digits (1797 x 64)."""
    X = load_digits().data
    ours = PCA(n_components=pca_cfg.n_components, solver=pca_cfg.solver, random_state=seed)
    Z_ours = ours.fit_transform(X)  # first: it validates the solver and n_components
    ref = SklearnPCA(
        pca_cfg.n_components, svd_solver=SKLEARN_SOLVER[pca_cfg.solver], random_state=seed
    )
    Z_ref = ref.fit_transform(X)
    V = ours.components_
    mlflow.log_metrics(
        {
            "pca_explained_variance_max_rel_diff": float(
                np.max(np.abs(ours.explained_variance_ / ref.explained_variance_ - 1))
            ),
            "pca_reconstruction_max_abs_diff": float(
                np.max(np.abs(ours.inverse_transform(Z_ours) - ref.inverse_transform(Z_ref)))
            ),
            "pca_orthonormality_error": float(np.max(np.abs(V @ V.T - np.eye(len(V))))),
            "pca_variance_kept": float(ours.explained_variance_ratio_.sum()),
        }
    )
    full = PCA(solver=pca_cfg.solver, random_state=seed).fit(X)
    with figure("pca_cumulative_explained_variance") as (_, ax):
        plots.cumulative_explained_variance(ax, {"digits, 8 x 8": full.explained_variance_ratio_})


def compress(image: LoadedImage, cfg: DictConfig) -> dict[str, float | str]:
    """Every codec on one image: curves, chosen settings, figures; returns its summary row."""
    pixels, name = image.pixels, image.name
    log_dataset(image)
    log.info("%s: %s", name, linalg_drills.describe_image(pixels))
    log_spectrum(pixels, name)

    svd_curve, svd_images = truncated_svd_curve(pixels, {*cfg.low_rank.ranks, cfg.low_rank.rank})
    encoder = patch_codec.Encoder(pixels, cfg.patch_codec.block)  # the KLT, learned once
    chosen, decoded = write_and_read_back(encoder, name, cfg.patch_codec)
    codec_curve = pd.DataFrame(
        [codec_point(encoder, bpp) for bpp in cfg.patch_codec.curve_bpp] + [chosen]
    )
    jpeg_curve = rd.jpeg_curve(pixels, cfg.jpeg.qualities).assign(codec="jpeg")
    curves = pd.concat([svd_curve, codec_curve, jpeg_curve], ignore_index=True)
    mlflow.log_table(curves, f"tables/{name}/rate_distortion.json")
    with figure(f"{name}/rate_distortion", figsize=(7, 5)) as (_, ax):
        plots.rate_distortion(ax, curves, f"{name}: three codecs")

    svd = svd_curve.set_index("setting").loc[f"k={cfg.low_rank.rank}"]
    smallest_rank = min(svd_images)
    jpeg = rd.jpeg_bytes_near(pixels, chosen["bytes"])
    jpeg_image = rd.decode_jpeg(jpeg.data, pixels.shape)
    jpeg_bpp = rd.bits_per_pixel(len(jpeg.data), *pixels.shape[:2])
    log_reconstructions(
        name,
        {
            "original": pixels,
            f"SVD k={smallest_rank}, {svd_curve['psnr_db'].iloc[0]:.1f} dB": svd_images[
                smallest_rank
            ],
            f"SVD k={cfg.low_rank.rank}, {svd['psnr_db']:.1f} dB": svd_images[cfg.low_rank.rank],
            f"patch PCA {chosen['bpp']:.2f} bpp, {chosen['psnr_db']:.1f} dB": decoded,
            f"JPEG q={jpeg.quality} {jpeg_bpp:.2f} bpp, {rd.psnr(pixels, jpeg_image):.1f} dB": (
                jpeg_image
            ),
        },
    )
    log_patch_basis(pixels, name, cfg.patch_codec.block)

    jpeg_psnr = rd.jpeg_psnr_at_bytes(pixels, chosen["bytes"])
    if np.isnan(jpeg_psnr):
        log.warning(
            "%s: JPEG cannot reach %d bytes: codec_vs_jpeg_db is nan", name, chosen["bytes"]
        )
    summary = {
        "psnr_db": chosen["psnr_db"],
        "bpp": chosen["bpp"],
        "compression_ratio": chosen["compression_ratio"],
        "jpeg_psnr_db": jpeg_psnr,
        "codec_vs_jpeg_db": chosen["psnr_db"] - jpeg_psnr,
        "svd_psnr_db": svd["psnr_db"],
        "svd_bpp": svd["bpp"],
        "svd_compression_ratio": svd["compression_ratio"],
    }
    mlflow.log_metrics({f"{name}.{key}": float(value) for key, value in summary.items()})
    return {"image": name, **summary}


def truncated_svd_curve(pixels: np.ndarray, ranks) -> tuple[pd.DataFrame, dict]:
    """Codec 1 at each rank k: its rate-distortion points and reconstructions (W1.5)."""
    height, width, channels = pixels.shape
    images = low_rank.rank_k_images(pixels, ranks)  # one SVD per channel for every k
    points = [
        rd.point(
            "svd",
            f"k={k}",
            low_rank.rank_k_storage_bytes(height, width, k, channels),
            pixels,
            approx,
        )
        for k, approx in images.items()
    ]
    return pd.DataFrame(points), images


def log_dataset(image: LoadedImage) -> None:
    """The input image as an MLflow dataset: its source path and digest, shown with the run."""
    with warnings.catch_warnings():  # MLflow registers two local-file sources under one name
        warnings.filterwarnings("ignore", "The specified dataset source", UserWarning)
        dataset = mlflow.data.from_numpy(image.pixels, source=image.source, name=image.name)
    mlflow.log_input(dataset, context="compression")


def codec_point(encoder: patch_codec.Encoder, bpp: float) -> dict:
    """The patch codec tuned to ``bpp``: its rate-distortion point."""
    step = rd.search_step(encoder, bpp)
    data = encoder.encode(step)  # kept from the search
    decoded = patch_codec.decode(data)
    return rd.point("patch_pca", f"step={step:.3g}", len(data), encoder.image, decoded)


def write_and_read_back(encoder: patch_codec.Encoder, name: str, codec_cfg: DictConfig):
    """The chosen setting as real files: encode, write, read back, decode, log both.

    Returns its rate-distortion point and the decoded image.
    """
    step = rd.search_step(encoder, codec_cfg.target_bpp)
    with tempfile.TemporaryDirectory(prefix="week1-") as scratch:  # used only without Hydra
        folder = (hydra_context()[1] or Path(scratch)) / "compressed"
        folder.mkdir(parents=True, exist_ok=True)
        compressed, png = folder / f"{name}{CODEC_SUFFIX}", folder / f"{name}_decoded.png"
        compressed.write_bytes(encoder.encode(step))
        decoded = patch_codec.decode(compressed.read_bytes())
        Image.fromarray(decoded.squeeze()).save(png)
        for path in (compressed, png):
            mlflow.log_artifact(str(path), "compressed")
        n_bytes = compressed.stat().st_size
    point = rd.point("patch_pca", f"step={step:.3g}", n_bytes, encoder.image, decoded)
    return point, decoded


def log_spectrum(pixels: np.ndarray, name: str) -> None:
    """W1.5: the singular values of each channel, and the energy the top k keep."""
    channels = "RGB" if pixels.shape[2] == 3 else "Y"
    sigma = {
        c: np.linalg.svd(pixels[:, :, i].astype(float), compute_uv=False)
        for i, c in enumerate(channels)
    }
    with figure(f"{name}/singular_values", figsize=(7, 4)) as (_, ax):
        plots.singular_value_spectrum(ax, sigma)


def log_patch_basis(pixels: np.ndarray, name: str, block: int) -> None:
    """The B x B basis images the patch codec learns from the image (W1.4)."""
    basis = patch_codec.learned_basis(pixels, block=block)
    side = int(np.ceil(np.sqrt(len(basis))))
    with figure(f"{name}/patch_basis", nrows=side, ncols=side, figsize=(side, side)) as (_, axes):
        plots.patch_basis(axes, basis)


def log_reconstructions(name: str, images: dict[str, np.ndarray]) -> None:
    """The original and every codec's reconstruction, side by side."""
    with figure(f"{name}/reconstructions", ncols=len(images), figsize=(3.6 * len(images), 3.2)) as (
        _,
        axes,
    ):
        plots.image_grid(axes, images)
