"""Week 1 recipe: linear-algebra drills, PCA beside scikit-learn, then three image codecs.

Each image goes through, and onto one rate-distortion plot:
1. rank-k truncated SVD per channel (Eckart-Young),
2. the patch-PCA codec (block Karhunen-Loeve transform, quantized, entropy-coded),
3. JPEG (Pillow), the reference, compared at the patch codec's byte count.
"""

from __future__ import annotations

import logging
import tempfile
import time
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
from common.steps import step
from common.threads import ContextThreadPool, InCaller, limited_threads
from common.tracking import hydra_context
from projects.week1_pca import (
    linalg_drills,
    linear_maps,
    low_rank,
    lu,
    numpy_basics,
    patch_codec,
    plots,
)
from projects.week1_pca import rate_distortion as rd
from projects.week1_pca.codec import byte_format, colour
from projects.week1_pca.config import LowRankConfig
from projects.week1_pca.images import LoadedImage, load_image
from projects.week1_pca.pca import PCA, SKLEARN_SOLVER

log = logging.getLogger(__name__)

DIGITS_FEATURES = 64  # 8 x 8 pixels: the most components the PCA check can compare
JPEG_MAX_QUALITY = 100  # Pillow's scale (above 95 it stops compressing much)
CODEC_SUFFIX = ".klt"  # the patch codec's files
HILBERT_SIZE = 12  # H_ij = 1 / (i + j + 1), cond ~ 1.6e16: LU keeps the residual, inv does not
WELL_CONDITIONED = 1e12  # cond(A) below this: LU factors agree with scipy's to ~cond eps
TIMING_REPEATS = 3  # block split and solves: the best of this many calls
RATE_RTOL = 0.02  # rd.search_step's tolerance: a larger miss is a target out of reach
CURVE_RTOL = 0.1  # ... and for the points of the rate-distortion curve
RATE_MISSED_TAG = "rate_target.missed"  # the images whose chosen rate is off target
CODEC_BASES = {"auto": patch_codec.BASES, **{b: (b,) for b in patch_codec.BASES}}
PROGRESS_DELAY_S = 2.0  # a step shorter than this shows no progress bar (as week 3's loops)
DEFAULT_RANKS = LowRankConfig().ranks  # clipped to each image; ranks a user sets are checked


def run(cfg: DictConfig) -> float:
    """The drills and the PCA and LU checks (beside the first image's rate search), every
    image through every codec; returns the mean PSNR.

    ``figures=false`` (a sweep's jobs) skips the figures, the rate-distortion curves drawn
    in them, the tables and the compressed files; every metric stays the same.
    """
    check_settings(cfg)
    with step("load the images"):  # first: a wrong path fails before any work
        images = [load_image(source, cfg.max_pixels) for source in cfg.images]
        for image in images:
            check_ranks(image, cfg.low_rank.rank, cfg.low_rank.ranks)
    summary = pd.DataFrame(compress_images(images, cfg, meanwhile=lambda: log_checks(images, cfg)))
    if cfg.figures:
        mlflow.log_table(summary, "tables/summary.json")
    headline = summary.drop(columns="image").mean()
    mlflow.log_metrics(headline.to_dict())
    log.info("per image:\n%s", summary.round(3).to_string(index=False))
    return float(headline["psnr_db"])


def check_settings(cfg: DictConfig) -> None:
    """Fail before any work, in one line naming the key, on a setting no step can use."""
    if not 1 <= cfg.pca.n_components <= DIGITS_FEATURES:
        raise ValueError(
            f"pca.n_components must be in [1, {DIGITS_FEATURES}] (the digits have "
            f"{DIGITS_FEATURES} features), got {cfg.pca.n_components}"
        )
    if not cfg.images:
        raise ValueError("images is empty: pass images='[china.jpg]' or paths of your own")
    if cfg.max_pixels < 1:
        raise ValueError(f"max_pixels must be >= 1, got {cfg.max_pixels}")
    checks = {"patch_codec.block": (byte_format.check_block, [cfg.patch_codec.block])}
    checks["patch_codec.target_bpp"] = (rd.check_target, [cfg.patch_codec.target_bpp])
    checks["patch_codec.curve_bpp"] = (rd.check_target, list(cfg.patch_codec.curve_bpp))
    for key, (check, values) in checks.items():
        for value in values:
            try:
                check(value)
            except ValueError as error:
                raise ValueError(f"{key}: {error}") from None
    bad = [q for q in cfg.jpeg.qualities if not 1 <= q <= JPEG_MAX_QUALITY]
    if bad or not cfg.jpeg.qualities:
        raise ValueError(
            f"jpeg.qualities must be a non-empty list of Pillow qualities in "
            f"[1, {JPEG_MAX_QUALITY}], got {list(cfg.jpeg.qualities)}"
        )


def log_drills(table: pd.DataFrame, tables: bool = True) -> None:
    """W1.P1, W1.P2, W1.X1: each hand-written result beside NumPy's, as a table."""
    if tables:
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


def log_pca_against_sklearn(pca_cfg: DictConfig, seed: int, figures: bool = True) -> None:
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
    if not figures:
        return
    full = PCA(solver=pca_cfg.solver, random_state=seed).fit(X)
    with figure("pca_cumulative_explained_variance") as (_, ax):
        plots.cumulative_explained_variance(ax, {"digits, 8 x 8": full.explained_variance_ratio_})


def log_checks(images: list[LoadedImage], cfg: DictConfig) -> None:
    """The drills, the PCA check and the LU solves (W1.P1-P3, W1.X1-X2)."""
    with step("drills: linear algebra by hand vs NumPy"):
        log_drills(linalg_drills.drill_table(np.random.default_rng(cfg.seed)), cfg.figures)
    with step("PCA on the digits vs scikit-learn"):
        log_pca_against_sklearn(cfg.pca, cfg.seed, cfg.figures)
    with step("LU solves: Hilbert matrix and block covariances"):
        log_lu_solves(images, cfg.patch_codec.block, cfg.figures)


def compress_images(images: list[LoadedImage], cfg: DictConfig, meanwhile=lambda: None) -> list:
    """Every image through every codec (``compress``); returns their summary rows, in order.

    Each image's rate search runs in a background thread from the moment its encoder is
    learned (``prepare``, one image ahead), queued behind the image before it: it runs
    beside the main thread's steps (``meanwhile()``, once the first image's search has
    started; the next image's linear maps and SVD; the previous one's JPEG and figures;
    LZMA and NumPy release the GIL), so both cores stay busy. One BLAS thread per pool
    meanwhile: the threads are the searches. With one thread (``MATH4ML_THREADS=1``) each
    search runs where it is submitted. The same numbers either way.
    """
    threads = thread_budget()  # before the limit below
    background = ContextThreadPool(max_workers=1) if threads > 1 else InCaller()
    with background, limited_threads(1):
        try:
            following, rows = prepare(images[0], cfg, threads, background), []
            meanwhile()
            for i, image in enumerate(images):
                work = following
                if i + 1 < len(images):
                    following = prepare(images[i + 1], cfg, threads, background)
                rows.append(compress(image, cfg, *work))
            return rows
        finally:
            background.shutdown(cancel_futures=True)  # on an error: no search left to wait for


def prepare(image: LoadedImage, cfg: DictConfig, threads: int, background) -> tuple:
    """One image's encoder and truncated SVD, its rate search submitted to ``background``:
    (encoder, the SVD's curve, images and singular values, the search's Future)."""
    with step(f"{image.name}: linear maps and block split"):
        encoder = learn_codec(image, cfg.patch_codec.block, workers=min(2, threads))
    with step(f"{image.name}: truncated SVD"):  # small: one BLAS thread
        curve = low_rank.clip_ranks(cfg.low_rank.ranks, image.pixels)[0] if cfg.figures else []
        svd = truncated_svd_curve(image.pixels, {*curve, cfg.low_rank.rank})
    search = background.submit(
        search_rates, encoder, cfg.patch_codec, cfg.figures, threads, image.name
    )
    return encoder, svd, search


def compress(image: LoadedImage, cfg: DictConfig, encoder, svd, search) -> dict[str, float | str]:
    """Every codec on one image: curves, chosen settings, figures; returns its summary row.

    ``encoder``, ``svd`` and the rate ``search`` (a Future) come from ``prepare``; the step
    "rate search" is the wait for what the search has left to do.
    """
    pixels, name, figures = image.pixels, image.name, cfg.figures
    svd_curve, svd_images, sigma = svd
    with step(f"{name}: rate search"):
        found = search.result()
        target = [(basis_encoder, steps[0]) for basis_encoder, steps in found]
        best = rd.best_point(target, cfg.patch_codec.target_bpp, RATE_RTOL)
    with step(f"{name}: write, read back, decode"):
        chosen, decoded = write_and_read_back(*best, name, files=figures)
    log_rate_miss(name, chosen, cfg.patch_codec.target_bpp)
    with step(f"{name}: JPEG at the same bytes"):
        jpeg_files = rd.JpegLadder(pixels)  # each quality's file written once, for all below
        jpeg_psnr = rd.jpeg_psnr_at_bytes(pixels, chosen["bytes"], ladder=jpeg_files)
    svd = svd_curve.set_index("setting").loc[f"k={cfg.low_rank.rank}"]
    if figures:
        with step(f"{name}: rate-distortion curves and figures"):
            points = [codec_point(e, step) for e, steps in found for step in steps[1:]]
            codec_curve = pd.DataFrame([*rd.upper_envelope(points), chosen])
            jpeg_curve = rd.jpeg_curve(pixels, cfg.jpeg.qualities, jpeg_files)
            curves = pd.concat(
                [svd_curve, codec_curve, jpeg_curve.assign(codec="jpeg")], ignore_index=True
            )
            log_figures(
                name, encoder, curves, sigma, svd_images, cfg.low_rank.rank, jpeg_files, decoded
            )
    return log_image_summary(name, chosen, jpeg_psnr, svd)


def search_rates(encoder, codec_cfg, figures: bool, threads: int, name: str) -> list:
    """[(encoder in a basis, its steps)] for each basis of ``patch_codec.basis``: the step of
    ``target_bpp`` first (within ``RATE_RTOL``), then, with figures, of each of ``curve_bpp``
    (within ``CURVE_RTOL``: a curve's point is drawn at the rate it reached)."""
    targets = [codec_cfg.target_bpp, *(codec_cfg.curve_bpp if figures else [])]
    rtols = [RATE_RTOL] + [CURVE_RTOL] * (len(targets) - 1)
    bases = CODEC_BASES[codec_cfg.basis]
    with search_progress(name, len(targets) * len(bases)) as bar:
        return rd.search_each_basis(
            encoder, targets, rtols, workers=threads, on_done=bar.update, bases=bases
        )


def learn_codec(image: LoadedImage, block: int, workers: int) -> patch_codec.Encoder:
    """The image as a dataset and as linear maps, its block split, and the codec's encoder
    (the KLT of its blocks, learned once for every rate)."""
    log_dataset(image)
    log.info("%s: %s", image.name, linalg_drills.describe_image(image.pixels))
    encoder = patch_codec.Encoder(image.pixels, block, workers=workers)
    log_linear_maps(image.pixels, image.name, encoder.transforms(subsampled=False)[0])
    log_block_split(image.pixels, image.name, block)
    return encoder


def log_image_summary(name: str, chosen: dict, jpeg_psnr: float, svd) -> dict[str, float | str]:
    """``<image>.*`` metrics: the codec's chosen point against JPEG at the same bytes and the
    rank-k SVD; the image's summary row."""
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


def search_progress(name: str, total: int):
    """A progress bar "<image>: rate search 3/10" on stderr, shown only once the search has
    run ``PROGRESS_DELAY_S``: a search that ends sooner draws none."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"{name}: rate search", delay=PROGRESS_DELAY_S, leave=False)


def log_figures(name, encoder, curves, sigma, svd_images, rank, jpeg_files, decoded) -> None:
    """One image's rate-distortion table and plot, spectrum, reconstructions, basis images.

    ``curves``: every codec's points, the patch codec's chosen setting last.
    """
    pixels = encoder.image
    mlflow.log_table(curves, f"tables/{name}/rate_distortion.json")
    chosen = curves[curves["codec"] == "patch_pca"].iloc[-1]
    star = (chosen["bpp"], chosen["psnr_db"], f"chosen (target_bpp): {chosen['bpp']:.2f} bpp")
    with figure(f"{name}/rate_distortion", figsize=(7, 5)) as (_, ax):
        plots.rate_distortion(ax, curves, f"{name}: three codecs", chosen=star)
    log_spectrum(sigma, name)
    jpeg = rd.jpeg_bytes_near(pixels, chosen["bytes"], jpeg_files)
    jpeg_bpp = rd.bits_per_pixel(len(jpeg.data), *pixels.shape[:2])
    svd_db = curves[curves["codec"] == "svd"].set_index("setting")["psnr_db"]
    k_low = min(svd_images)
    images = {
        "original": pixels,
        f"SVD k={k_low}, {svd_db[f'k={k_low}']:.1f} dB": svd_images[k_low],
        f"SVD k={rank}, {svd_db[f'k={rank}']:.1f} dB": svd_images[rank],
        f"patch PCA {chosen['bpp']:.2f} bpp, {chosen['psnr_db']:.1f} dB": decoded,
        f"JPEG q={jpeg.quality} {jpeg_bpp:.2f} bpp, {jpeg_files.psnr(jpeg.quality):.1f} dB": (
            rd.decode_jpeg(jpeg.data, pixels.shape)
        ),
    }
    log_reconstructions(name, images)
    log_patch_basis(encoder, name)


def truncated_svd_curve(pixels: np.ndarray, ranks) -> tuple[pd.DataFrame, dict, np.ndarray]:
    """Codec 1 at each rank k: its rate-distortion points, reconstructions and the
    singular values of each channel, shape (C, min(H, W)), from one SVD (W1.5)."""
    height, width, channels = pixels.shape
    svd = low_rank.channel_svd(pixels)
    images = low_rank.rank_k_images(pixels, ranks, svd)  # every k from that one SVD
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
    return pd.DataFrame(points), images, svd[1]


def log_dataset(image: LoadedImage) -> None:
    """The input image as an MLflow dataset: its source path and digest, shown with the run."""
    with warnings.catch_warnings():  # MLflow registers two local-file sources under one name
        warnings.filterwarnings("ignore", "The specified dataset source", UserWarning)
        dataset = mlflow.data.from_numpy(image.pixels, source=image.source, name=image.name)
    mlflow.log_input(dataset, context="compression")


def codec_point(encoder: patch_codec.Encoder, step: float) -> dict:
    """The patch codec at a step the rate search found: its rate-distortion point."""
    data, decoded = encoder.encode(step), encoder.decoded(step)  # kept from the search
    return rd.point("patch_pca", codec_setting(encoder, step), len(data), encoder.image, decoded)


def codec_setting(encoder: patch_codec.Encoder, step: float) -> str:
    """How a codec point was made, for the tables: ``step=31.2 learned``."""
    return f"step={step:.3g} {encoder.basis}"


def write_and_read_back(encoder: patch_codec.Encoder, step: float, name: str, files: bool = True):
    """The chosen setting as real files: encode, write, read back, decode, log both.

    Returns its rate-distortion point and the decoded image. ``files=False`` takes the image
    the encoder kept (``Encoder.decoded``) and logs no files (the same bytes, the same point).
    """
    if not files:
        data, decoded = encoder.encode(step), encoder.decoded(step)  # = decode(data)
        setting = codec_setting(encoder, step)
        return rd.point("patch_pca", setting, len(data), encoder.image, decoded), decoded
    with tempfile.TemporaryDirectory(prefix="week1-") as scratch:  # used only without Hydra
        folder = (hydra_context()[1] or Path(scratch)) / "compressed"
        folder.mkdir(parents=True, exist_ok=True)
        compressed, png = folder / f"{name}{CODEC_SUFFIX}", folder / f"{name}_decoded.png"
        compressed.write_bytes(encoder.encode(step))
        decoded = patch_codec.decode(compressed.read_bytes())
        Image.fromarray(plots.drawable(decoded)).save(png)
        for path in (compressed, png):
            mlflow.log_artifact(str(path), "compressed")
        n_bytes = compressed.stat().st_size
    point = rd.point("patch_pca", codec_setting(encoder, step), n_bytes, encoder.image, decoded)
    return point, decoded


def log_spectrum(sigma: np.ndarray, name: str) -> None:
    """W1.5: the singular values of each channel (rows of ``sigma``), and the energy the
    top k keep."""
    channels = "RGB" if len(sigma) == 3 else "Y"
    with figure(f"{name}/singular_values", figsize=(7, 4)) as (_, ax):
        plots.singular_value_spectrum(ax, dict(zip(channels, sigma, strict=True)))


def log_patch_basis(encoder: patch_codec.Encoder, name: str) -> None:
    """The B x B basis images the patch codec learns from the image's luma (W1.4)."""
    V, block = encoder.transforms(subsampled=False)[0].V, encoder.block
    basis = V.reshape(-1, block, block)  # = patch_codec.learned_basis(image, block)
    with figure(f"{name}/patch_basis", figsize=(6, 6.4)) as (_, ax):
        plots.patch_basis(ax, basis)


def log_reconstructions(name: str, images: dict[str, np.ndarray]) -> None:
    """The original and every codec's reconstruction, side by side."""
    with figure(f"{name}/reconstructions", ncols=len(images), figsize=(3.6 * len(images), 3.2)) as (
        _,
        axes,
    ):
        plots.image_grid(axes, images)


def thread_budget() -> int:
    """Threads the run may use: its BLAS pools' limit, set around the pipeline (common.threads)."""
    from threadpoolctl import threadpool_info

    blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return max(1, min(blas, default=1))


def best_seconds(function, repeats=TIMING_REPEATS) -> float:
    """The fastest of ``repeats`` calls of ``function()``, in seconds (time.perf_counter)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def luma_blocks(pixels: np.ndarray, block: int) -> np.ndarray:
    """The B x B blocks of the luma (or gray) plane the codec codes, one per row."""
    plane = colour.image_planes(patch_codec.check_image(pixels), subsample_chroma=False)[0]
    return patch_codec.split_blocks(plane, block)[0]


def log_linear_maps(pixels: np.ndarray, name: str, luma: patch_codec.PlaneTransform) -> None:
    """W1.6 on the image: the colour map and its inverse, the PCA basis as a change of
    basis, centring by broadcasting; W1.7: the third colour axis is +-(v1 x v2).

    ``luma``: the codec's transform of the luma blocks X (``luma_blocks``), its mean and
    all B^2 principal axes, a basis of R^(B^2).
    """
    X, mean, V = luma.X, luma.mu, luma.V
    Z = linear_maps.coordinates(X, mean, V)
    metrics = {
        "change_of_basis_error": np.max(np.abs(linear_maps.from_coordinates(Z, mean, V) - X)),
        "centring_broadcast_vs_outer_error": np.max(
            np.abs(linear_maps.centre(X) - linear_maps.centre_by_outer_product(X))
        ),
    }
    if pixels.shape[2] == 3:
        M, rgb = colour.COLOUR, pixels.reshape(-1, 3)  # y = M x, M^-1 = M^T
        axes = linear_maps.colour_axes(pixels)
        v1_x_v2 = linear_maps.cross(axes[:, 0], axes[:, 1])
        metrics |= {
            "colour_round_trip_error": linear_maps.round_trip_error(M, M.T, rgb),
            "colour_composition_error": linear_maps.composition_error(M.T, M, rgb),
            "cross_vs_numpy_error": np.max(np.abs(v1_x_v2 - np.cross(axes[:, 0], axes[:, 1]))),
            "cross_alignment": linear_maps.third_axis_alignment(axes),
        }
    mlflow.log_metrics({f"{name}.{key}": float(value) for key, value in metrics.items()})


def log_block_split(pixels: np.ndarray, name: str, block: int) -> None:
    """W1.P4: the codec's reshape/swapaxes block split beside a slicing loop, equal and timed."""
    plane = colour.image_planes(patch_codec.check_image(pixels), subsample_chroma=False)[0]
    by_reshape = patch_codec.split_blocks(plane, block)[0]
    by_slicing = numpy_basics.split_blocks_by_slicing(plane, block)
    reshape_s = best_seconds(lambda: patch_codec.split_blocks(plane, block))
    loop_s = best_seconds(lambda: numpy_basics.split_blocks_by_slicing(plane, block))
    mlflow.log_metrics(
        {
            f"{name}.block_split_max_abs_diff": float(np.max(np.abs(by_reshape - by_slicing))),
            f"{name}.block_split_reshape_seconds": reshape_s,
            f"{name}.block_split_loop_seconds": loop_s,
            f"{name}.block_split_speedup": loop_s / reshape_s,
        }
    )


def log_lu_solves(images: list[LoadedImage], block: int, tables: bool = True) -> None:
    """W1.X2: A x = b by LU (ours, scipy's) and by inv(A) b, on a Hilbert matrix and on each
    image's block covariance (when invertible): residual, forward error and time per method."""
    from scipy import linalg

    matrices = {f"hilbert_{HILBERT_SIZE}": linalg.hilbert(HILBERT_SIZE)}
    for image in images:
        X = luma_blocks(image.pixels, block)  # n x B^2
        if len(X) <= X.shape[1]:  # rank C <= n - 1 < B^2: singular (one block: C is nan)
            continue
        C = np.cov(X, rowvar=False)  # B^2 x B^2
        if np.linalg.matrix_rank(C) == len(C):  # a flat image's C is singular
            matrices[f"{image.name}_block_covariance"] = C
    with warnings.catch_warnings():  # scipy warns that H_12 is ill-conditioned: it is
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        table = pd.DataFrame([row for name, A in matrices.items() for row in solve_rows(name, A)])
    if tables:
        mlflow.log_table(table, "tables/lu_solve.json")
        # log_table's JSON keeps 10 decimals: a residual of 5e-15 reads 0.0 there, not here.
        mlflow.log_text(table.to_csv(index=False, float_format="%.6e"), "tables/lu_solve.csv")
    hilbert = table[table["matrix"] == f"hilbert_{HILBERT_SIZE}"].set_index("method")
    # Where cond(A) ~ 1 / eps (Hilbert) both P L U reproduce A to round-off, but L and U
    # themselves are determined only to cond(A) eps: compare factors on the others.
    well_conditioned = table["condition_number"] < WELL_CONDITIONED
    metrics = {
        "lu_reconstruction_error": table["lu_reconstruction_error"].max(),
        "hilbert_lu_residual": hilbert.loc["lu (lu.py)", "relative_residual"],
        "hilbert_inverse_residual": hilbert.loc["inv(A) @ b", "relative_residual"],
    }
    if well_conditioned.any():
        metrics["lu_vs_scipy_max_rel_diff"] = table.loc[well_conditioned, "lu_vs_scipy"].max()
    mlflow.log_metrics({key: float(value) for key, value in metrics.items()})


def solve_rows(matrix: str, A: np.ndarray) -> list[dict]:
    """A x = b with x = (1, ..., 1) by each method: one row per method for tables/lu_solve."""
    from scipy import linalg

    methods = {
        "lu (lu.py)": lambda b: lu.lu_solve(*lu.lu_decompose(A), b),
        "scipy lu_factor + lu_solve": lambda b: linalg.lu_solve(linalg.lu_factor(A), b),
        "inv(A) @ b": lambda b: np.linalg.inv(A) @ b,
    }
    x_true = np.ones(len(A))
    b = A @ x_true
    P, L, U = lu.lu_decompose(A)
    factors = {
        "condition_number": float(np.linalg.cond(A)),
        "lu_reconstruction_error": float(np.max(np.abs(P @ L @ U - A)) / np.max(np.abs(A))),
        "lu_vs_scipy": max(  # max |ours - scipy's| / max |scipy's| over P, L, U
            float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))
            for ours, theirs in zip((P, L, U), linalg.lu(A), strict=True)
        ),
    }
    rows = []
    for method, solve in methods.items():
        x = solve(b)
        rows.append(
            {
                "matrix": matrix,
                "n": len(A),
                **factors,
                "method": method,
                "relative_residual": lu.relative_residual(A, x, b),
                "forward_error": float(np.linalg.norm(x - x_true) / np.linalg.norm(x_true)),
                "seconds": best_seconds(lambda solve=solve: solve(b)),
            }
        )
    return rows


def check_ranks(image: LoadedImage, rank: int, ranks) -> None:
    """``low_rank.rank`` and ``low_rank.ranks`` against the image: k in [1, min(H, W)].

    A rank outside fails in one line naming the key and the largest valid value, except
    the default curve ranks: those above min(H, W) are dropped, in a log line.
    """
    high, (height, width) = low_rank.max_rank(image.pixels), image.pixels.shape[:2]
    where = f"must be in [1, {high}] for {image.name} ({width} x {height} pixels)"
    if not 1 <= rank <= high:
        fix = f"={high} or smaller" if rank > high else f" between 1 and {high}"
        raise ValueError(f"low_rank.rank {where}, got {rank}; pass low_rank.rank{fix}")
    dropped = low_rank.clip_ranks(ranks, image.pixels)[1]
    if list(ranks) == DEFAULT_RANKS:
        if dropped:
            log.info(
                "%s: the default low_rank.ranks %s are above its largest rank %d: "
                "dropped from the curve",
                image.name, dropped, high,
            )  # fmt: skip
        return
    bad = sorted({k for k in ranks if not 1 <= k <= high})
    if bad:
        raise ValueError(
            f"low_rank.ranks {where}, got {bad}; drop them (the largest valid value is "
            f"{high}) or leave low_rank.ranks at its default, clipped to each image"
        )


def log_rate_miss(name: str, chosen: dict, target_bpp: float) -> None:
    """``<image>.rate_target_miss``, the chosen point's relative miss of the target rate;
    beyond the search's tolerance, a warning and the tag ``rate_target.missed`` too."""
    miss = rd.rate_miss(chosen["bpp"], target_bpp)
    mlflow.log_metric(f"{name}.rate_target_miss", miss)
    if abs(miss) <= RATE_RTOL:
        return
    bigger = ", larger than the raw pixels" if chosen["compression_ratio"] < 1 else ""
    what = (
        f"{name}: {chosen['bpp']:.3g} bpp for patch_codec.target_bpp={target_bpp:g} ({miss:+.0%})"
    )
    log.warning(
        "%s: the patch codec cannot reach patch_codec.target_bpp=%g: its closest is %.3g bpp "
        "(%+.0f%%, compression ratio %.2f%s); every metric of %s is at that rate",
        name, target_bpp, chosen["bpp"], 100 * miss, chosen["compression_ratio"], bigger, name,
    )  # fmt: skip
    run = mlflow.active_run()
    earlier = mlflow.get_run(run.info.run_id).data.tags.get(RATE_MISSED_TAG) if run else None
    mlflow.set_tag(RATE_MISSED_TAG, f"{earlier}; {what}" if earlier else what)
