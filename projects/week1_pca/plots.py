"""The figures of a week-1 run: what a learner looks at in the MLflow UI.

Each function draws onto axes it is given and returns nothing; the pipeline
opens, logs and closes the figure (``common.plotting.figure``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CODEC_STYLE = {"svd": "o-", "patch_pca": "s-", "jpeg": "^-"}


def singular_value_spectrum(ax, singular_values: dict[str, np.ndarray]) -> None:
    """sigma_i per channel on a log axis, and the energy share of the top k (W1.5)."""
    energy_ax = ax.twinx()
    for channel, s in singular_values.items():
        i = np.arange(1, len(s) + 1)
        ax.semilogy(i, s, label=f"sigma_i ({channel})")
        energy_ax.plot(i, np.cumsum(s**2) / np.sum(s**2), "--", alpha=0.6)
    ax.set(xlabel="i", ylabel="singular value sigma_i (log)", title="Singular-value spectrum")
    energy_ax.set(ylabel="energy kept by rank k (dashed)", ylim=(0, 1.02))
    energy_ax.grid(False)
    ax.legend(loc="center right")


def cumulative_explained_variance(ax, ratios: dict[str, np.ndarray]) -> None:
    """sum_{i<=k} lambda_i / sum_i lambda_i against k, one curve per dataset (W1.4)."""
    for label, ratio in ratios.items():
        ax.plot(np.arange(1, len(ratio) + 1), np.cumsum(ratio), marker=".", label=label)
    ax.axhline(0.95, color="grey", linestyle=":", label="95%")
    ax.set(xlabel="components k", ylabel="cumulative explained variance", ylim=(0, 1.02))
    ax.set_title("PCA: variance kept by the first k components")
    ax.legend()


def rate_distortion(ax, curves: pd.DataFrame, title: str, chosen=None) -> None:
    """PSNR (dB) against bits per pixel, one line per codec (columns codec, bpp, psnr_db).

    The log x-axis is labelled at 1, 2 and 5 of each decade (0.2, 0.5, 1, 2, ...);
    ``chosen``, a (bpp, psnr_db, label) point, is starred: the setting the run reports.
    """
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    for codec, points in curves.groupby("codec", sort=False):
        points = points.sort_values("bpp")
        ax.plot(points["bpp"], points["psnr_db"], CODEC_STYLE.get(codec, "o-"), label=codec)
    if chosen is not None:
        bpp, psnr_db, label = chosen
        ax.plot([bpp], [psnr_db], "*", color="black", markersize=14, zorder=3, label=label)
    ax.set(xlabel="bits per pixel", ylabel="PSNR (dB)", title=title, xscale="log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.legend()


def drawable(image: np.ndarray) -> np.ndarray:
    """H x W x 1 as H x W (gray), anything else as it is; never ``squeeze``, which would
    also drop a side of 1 pixel (a 3 x 1 image is not a vector)."""
    return image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image


def image_grid(axes, images: dict[str, np.ndarray]) -> None:
    """One image per axis, titled with its caption."""
    for ax, (caption, image) in zip(np.ravel(axes), images.items(), strict=False):
        shown = drawable(image)
        ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None)
        ax.set_title(caption, fontsize=9)
    for ax in np.ravel(axes):
        ax.axis("off")


def patch_basis(ax, basis: np.ndarray) -> None:
    """The learned B x B basis images tiled into one picture, row by row, first component
    top left (diverging colour map, white gaps); row label + column offset = component."""
    n, block, _ = basis.shape
    side = int(np.ceil(np.sqrt(n)))
    pitch = block + 1  # a tile and its gap
    mosaic = np.full((side * pitch - 1, side * pitch - 1), np.nan)  # nan: drawn blank
    for i, tile in enumerate(basis):
        row, col = divmod(i, side)
        mosaic[row * pitch : row * pitch + block, col * pitch : col * pitch + block] = tile
    limit = np.abs(basis).max()
    ax.imshow(mosaic, cmap="RdBu_r", vmin=-limit, vmax=limit)
    centres = np.arange(side) * pitch + (block - 1) / 2
    ax.set_xticks(centres, [f"+{c}" for c in range(side)], fontsize=7)
    ax.set_yticks(centres, [str(r * side + 1) for r in range(side)], fontsize=7)
    ax.tick_params(length=0)
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set(ylabel="component (row's first, + column)", title=f"{block} x {block} basis images")
