"""Rate and distortion: how many bytes a codec spends, how far its image is from the original.

Distortion is the peak signal-to-noise ratio over all pixels and channels,

    PSNR = 10 log10(peak^2 / MSE),  MSE = mean((x - x_hat)^2),

and rate is bits per pixel, bpp = 8 n_bytes / (H W). A codec is better than another at a
rate when its PSNR is higher there; the references are JPEG (Pillow's libjpeg, default
4:2:0 chroma subsampling and Huffman tables) and the truncated SVD of ``low_rank``.

Sources:
- D. Salomon, G. Motta, "Handbook of Data Compression", 5th ed. (2010), section 1.4 (PSNR).
- G. K. Wallace, "The JPEG still picture compression standard", Communications of the ACM
  34(4) (1991), 30-44.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from PIL import Image

from projects.week1_pca import patch_codec

DENSE_QUALITIES = tuple(range(1, 101))  # every Pillow quality: the grid of jpeg_psnr_at_bytes
STEP_BRACKET = (0.05, 5000.0)  # Delta range searched by step_for_bpp


def psnr(reference, test, peak=255.0):
    """PSNR = 10 log10(peak^2 / MSE) in dB, MSE over all pixels and channels; inf if equal."""
    reference = np.asarray(reference, dtype=np.float64)
    test = np.asarray(test, dtype=np.float64)
    if reference.shape != test.shape:
        raise ValueError(f"shapes differ: reference {reference.shape}, test {test.shape}")
    mse = np.mean((reference - test) ** 2)
    return np.inf if mse == 0 else float(10 * np.log10(peak**2 / mse))


def bits_per_pixel(n_bytes, height, width):
    """bpp = 8 n_bytes / (H W), whatever the number of channels."""
    return 8 * n_bytes / (height * width)


def compression_ratio(raw_bytes, n_bytes):
    """raw_bytes / n_bytes; raw_bytes = H W C for a uint8 image."""
    return raw_bytes / n_bytes


def point(codec, setting, n_bytes, image, approx):
    """One rate-distortion point as a dict: codec, setting, bytes, bpp, ratio, PSNR."""
    height, width = image.shape[:2]
    return {
        "codec": codec,
        "setting": setting,
        "bytes": int(n_bytes),
        "bpp": bits_per_pixel(n_bytes, height, width),
        "compression_ratio": compression_ratio(image.size, n_bytes),
        "psnr_db": psnr(image, approx),
    }


# -- JPEG ----------------------------------------------------------------------------------


def to_pil(image):
    """A uint8 H x W, H x W x 1 or H x W x 3 array as a Pillow image (L or RGB)."""
    pixels = np.asarray(image)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    return Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8))


def jpeg_bytes(image, quality):
    """The JPEG file Pillow writes at ``quality`` (1..100, default 4:2:0), in memory."""
    buffer = io.BytesIO()
    to_pil(image).save(buffer, format="JPEG", quality=int(quality))
    return buffer.getvalue()


def decode_jpeg(data, shape=None):
    """JPEG bytes -> uint8 array, H x W x C (C = 1 for gray) or ``shape`` when given."""
    with Image.open(io.BytesIO(data)) as img:
        pixels = np.asarray(img)
    pixels = np.atleast_3d(pixels)
    return pixels if shape is None else pixels.reshape(shape)


def jpeg_point(image, quality):
    """(bytes, PSNR) of JPEG at one quality."""
    data = jpeg_bytes(image, quality)
    return len(data), psnr(image, decode_jpeg(data, np.shape(image)))


class JpegLadder:
    """JPEG of one image at any quality: each file written once, decoded only when asked.

    ``jpeg_curve``, ``jpeg_bytes_near`` and ``jpeg_psnr_at_bytes`` share one ladder when
    given it: the sizes at every quality 1..100 are needed by the last two, but a PSNR only
    where it is read (the curve's qualities, the two sizes around a byte count).
    """

    def __init__(self, image):
        self.image = image
        self._data, self._psnr = {}, {}

    def data(self, quality):
        """The bytes of ``jpeg_bytes(image, quality)``."""
        if quality not in self._data:
            self._data[quality] = jpeg_bytes(self.image, quality)
        return self._data[quality]

    def psnr(self, quality):
        """PSNR of the decoded file at ``quality``: ``jpeg_point(image, quality)[1]``."""
        if quality not in self._psnr:
            decoded = decode_jpeg(self.data(quality), np.shape(self.image))
            self._psnr[quality] = psnr(self.image, decoded)
        return self._psnr[quality]


def jpeg_curve(image, qualities, ladder=None):
    """DataFrame with columns quality, bytes, bpp, psnr_db: JPEG's rate-distortion curve."""
    ladder = ladder or JpegLadder(image)
    height, width = np.shape(image)[:2]
    rows = []
    for quality in qualities:
        n_bytes, db = len(ladder.data(quality)), ladder.psnr(quality)
        rows.append((quality, n_bytes, bits_per_pixel(n_bytes, height, width), db))
    return pd.DataFrame(rows, columns=["quality", "bytes", "bpp", "psnr_db"])


@dataclass(frozen=True)
class JpegFile:
    quality: int
    data: bytes


def jpeg_bytes_near(image, n_bytes, ladder=None):
    """The JPEG (over qualities 1..100) whose size is closest to ``n_bytes``."""
    ladder = ladder or JpegLadder(image)
    files = [JpegFile(q, ladder.data(q)) for q in DENSE_QUALITIES]
    return min(files, key=lambda f: abs(len(f.data) - n_bytes))


def jpeg_psnr_at_bytes(image, n_bytes, qualities=DENSE_QUALITIES, ladder=None):
    """JPEG's PSNR at exactly ``n_bytes``: PSNR interpolated linearly in log(bytes).

    JPEG can only be asked for a quality, not a size, so its curve is sampled at every
    quality 1..100 and read at log(n_bytes) between the two neighbouring sizes (PSNR is
    close to affine in log-rate: about 6 dB per doubling of bits at high rate). Outside
    the sizes JPEG produced the answer is nan: no extrapolation. Only the files of those
    two sizes are decoded; the others' PSNR stays nan, and ``np.interp`` never reads it.
    """
    ladder = ladder or JpegLadder(image)
    sizes = pd.DataFrame({"quality": list(qualities)})
    sizes["bytes"] = [len(ladder.data(q)) for q in sizes["quality"]]
    sizes = sizes.sort_values("bytes")  # as the full curve is sorted: the same order
    log_bytes = np.log(sizes["bytes"].to_numpy())
    x = np.log(n_bytes)
    j = np.searchsorted(log_bytes, x, side="right") - 1  # log_bytes[j] <= x < log_bytes[j + 1]
    around = np.isin(log_bytes, log_bytes[max(j, 0) : j + 2]) if j >= 0 else []
    db = np.full(len(sizes), np.nan)
    for i in np.flatnonzero(around):  # every file of those two sizes (ties included)
        db[i] = ladder.psnr(int(sizes["quality"].iloc[i]))
    return float(np.interp(x, log_bytes, db, left=np.nan, right=np.nan))


# -- the patch codec at a target rate -------------------------------------------------------


def step_for_bpp(image, target_bpp, rtol=0.02, max_iter=40, **codec_kwargs):
    """Delta with bpp(encode(image, Delta, **codec_kwargs)) within rtol of the target.

    ``search_step`` with a new ``patch_codec.Encoder``; to search one image for several
    targets, make the encoder once and call ``search_step``.
    """
    check_target(target_bpp)
    return search_step(patch_codec.Encoder(image, **codec_kwargs), target_bpp, rtol, max_iter)


def check_target(target_bpp):
    """ValueError unless ``target_bpp`` is a finite number > 0."""
    if not np.isfinite(target_bpp) or target_bpp <= 0:
        raise ValueError(f"target_bpp must be a finite number > 0, got {target_bpp!r}")


def search_step(encoder, target_bpp, rtol=0.02, max_iter=40):
    """Delta with bpp(encoder.encode(Delta)) within rtol of the target, by bisection on log Delta.

    The size falls (almost) monotonically as Delta grows; the search halves a bracket in
    log Delta until the size is close enough, and returns the step whose size came closest
    if it never is (a rate beyond reach, such as far below the fixed overhead). Only the
    quantizer changes from step to step: the encoder learned the image's transform once.
    """
    check_target(target_bpp)
    height, width = encoder.shape
    low, high = np.log(STEP_BRACKET[0]), np.log(STEP_BRACKET[1])
    best_step, best_error = None, np.inf
    for _ in range(max_iter):
        step = float(np.exp((low + high) / 2))
        error = bits_per_pixel(len(encoder.encode(step)), height, width) / target_bpp - 1
        if abs(error) < best_error:
            best_step, best_error = step, abs(error)
        if abs(error) <= rtol:
            break
        low, high = (np.log(step), high) if error > 0 else (low, np.log(step))
    return best_step


def search_steps(encoder, targets, rtol=0.02, max_iter=40, workers=1, on_done=None):
    """``[search_step(encoder, t, rtol, max_iter) for t in targets]``, ``workers`` at a time.

    The searches share the encoder, so a step two of them visit is encoded once; in threads
    (``workers`` > 1) they run side by side, each the same bisection as alone. ``on_done()``,
    if given, is called as each search ends (the pipeline counts them in a progress bar).
    """

    def search(target):
        step = search_step(encoder, target, rtol, max_iter)
        if on_done is not None:
            on_done()
        return step

    if workers == 1 or len(targets) == 1:
        return [search(target) for target in targets]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(search, targets))


def search_bases(
    encoder, targets, rtol=0.02, max_iter=40, workers=1, on_done=None, bases=patch_codec.BASES
):
    """For each target, (encoder, Delta) of the higher PSNR among ``bases`` at that rate.

    ``search_steps`` on ``encoder.with_basis(b)`` for each basis b (``encoder`` itself for its
    own); at each target, the point within ``rtol`` of it with the highest PSNR (the closest
    in rate if none is; the first basis if equal). Each basis alone gives a curve whose rate
    grows smoothly as Delta falls, so each search can hit the target; the learned basis wins
    where its rows are cheap (large images, low rates), the DCT where they are not.
    ``on_done()`` is called as each of the len(bases) x len(targets) searches ends.
    """
    encoders = [encoder if b == encoder.basis else encoder.with_basis(b) for b in bases]
    found = [search_steps(e, targets, rtol, max_iter, workers, on_done) for e in encoders]
    return [
        best_point([(e, steps[i]) for e, steps in zip(encoders, found, strict=True)], target, rtol)
        for i, target in enumerate(targets)
    ]


def best_point(candidates, target_bpp, rtol):
    """The (encoder, Delta) of highest PSNR within rtol of the target, else the closest rate."""

    def rank(candidate):
        encoder, step = candidate
        data = encoder.encode(step)
        miss = abs(bits_per_pixel(len(data), *encoder.shape) / target_bpp - 1)
        db = psnr(encoder.image, patch_codec.decode(data))
        return (0, -db) if miss <= rtol else (1, miss)

    return min(candidates, key=rank)  # the first (the learned basis) if equal


def rate_miss(reached_bpp, target_bpp):
    """The relative miss of a rate target: bpp_reached / bpp_target - 1 (> 0: over it).

    ``search_step`` stops within its ``rtol`` (2%) of a target it can reach; a miss beyond
    that is a target out of the codec's reach (a tiny image's fixed header and tables, or
    more bits than even the finest step spends).
    """
    return reached_bpp / target_bpp - 1
