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
from dataclasses import dataclass

import numpy as np
import pandas as pd
from PIL import Image

from common.threads import ContextThreadPool
from projects.week1_pca import patch_codec

DENSE_QUALITIES = tuple(range(1, 101))  # every Pillow quality: the grid of jpeg_psnr_at_bytes
STEP_BRACKET = (0.05, 5000.0)  # Delta range searched by step_for_bpp
SAFEGUARD = 0.05  # next_log_step keeps this share of a bracket between a guess and its ends
MIN_BRACKET = 1e-3  # ... and stops in a bracket this narrow in log Delta (0.1% in Delta)
MAX_LEAP = 1.0  # ... and extrapolates at most this far in log Delta (a factor e = 2.7)


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


def search_step(encoder, target_bpp, rtol=0.02, max_iter=40, known=None):
    """Delta with bpp(encoder.encode(Delta)) within rtol of the target: regula falsi on
    log bpp against log Delta (``next_log_step``), each new step encoded once.

    log bpp falls almost linearly in log Delta (about one octave of rate per octave of
    step), so a line through two coded steps lands close to the target and a few encodes
    suffice; the Illinois rule (``illinois_weights``) keeps a curved stretch from being
    approached from one side only. It stops when the bracket is narrower than ``MIN_BRACKET``
    in log Delta: the rate jumps past the target there (the codec changes its chroma or
    component choice). If no step is close enough (a rate out of reach, such as far below
    the fixed overhead), the step whose rate came closest is returned. ``known`` ({Delta:
    bpp}, filled as steps are coded) carries what earlier searches learned to the next:
    ``search_steps`` passes one dict along its targets.
    """
    check_target(target_bpp)
    known = {} if known is None else known
    sides = []  # +1 or -1: whether each step this search coded gave too many bits or too few
    for _ in range(max_iter):
        points = log_points(known, target_bpp)
        ends = bracket(points)
        if reached(known, target_bpp, rtol) or (ends and ends[1][0] - ends[0][0] < MIN_BRACKET):
            break
        step = float(np.exp(next_log_step(points, illinois_weights(sides))))
        if step in known:  # the end of STEP_BRACKET, already coded: nothing nearer to try
            break
        known[step] = bits_per_pixel(len(encoder.encode(step)), *encoder.shape)
        sides.append(1 if known[step] > target_bpp else -1)
    return closest_step(known, target_bpp)


def illinois_weights(sides):
    """(w0, w1), the weights of m at the bracket's left and right ends (the Illinois rule).

    After k >= 2 guesses in a row on one side, the m of the end kept on the other side is
    weighted by 2^-(k-1), so the next line's zero moves towards it and past the target.
    ``sides`` holds +1 (too many bits: the guess became the left end) or -1 per guess.
    """
    if not sides:
        return 1.0, 1.0
    run = next((i for i, side in enumerate(reversed(sides)) if side != sides[-1]), len(sides))
    weight = 0.5 ** max(run - 1, 0)
    return (weight, 1.0) if sides[-1] < 0 else (1.0, weight)


def reached(known, target_bpp, rtol):
    """Whether a coded step's rate is within rtol of the target: |bpp / target - 1| <= rtol."""
    return any(abs(bpp / target_bpp - 1) <= rtol for bpp in known.values())


def closest_step(known, target_bpp):
    """The coded step whose rate misses the target by the least |bpp / target - 1|."""
    return min(known, key=lambda step: abs(known[step] / target_bpp - 1))


def log_points(known, target_bpp):
    """The coded steps as (u, m) = (log Delta, log(bpp / target)), by u; m > 0: too many bits."""
    return sorted((float(np.log(s)), float(np.log(b / target_bpp))) for s, b in known.items())


def bracket(points):
    """The nearest pair (u, m > 0), (u', m' < 0) with u < u' around the target, or None.

    The right end is the finest step with too few bits; the left the coarsest step with too
    many bits left of it (a rate that is not monotone never makes a bracket inside out).
    """
    too_few = [p for p in points if p[1] < 0]
    too_many = [p for p in points if p[1] > 0 and too_few and p[0] < too_few[0][0]]
    return (too_many[-1], too_few[0]) if too_many else None


def next_log_step(points, weights=(1.0, 1.0)):
    """The next log Delta to code, from the coded (u, m) ``points`` (``log_points``).

    Around a bracket: the zero of the line through its ends (u0, w0 m0) and (u1, w1 m1),
    kept ``SAFEGUARD`` of its width inside them. Otherwise the zero of the line through the
    two points nearest the target (slope -1 through one), at most ``MAX_LEAP`` from the
    nearer and never beyond ``STEP_BRACKET``. With nothing coded, the bracket's middle.
    """
    bounds = np.log(STEP_BRACKET)
    if not points:
        return float(bounds.mean())
    ends = bracket(points)
    if ends:
        (u0, m0), (u1, m1) = ends
        m0, m1 = weights[0] * m0, weights[1] * m1
        gap = SAFEGUARD * (u1 - u0)
        return float(np.clip(u0 + m0 * (u1 - u0) / (m0 - m1), u0 + gap, u1 - gap))
    nearest = sorted(points, key=lambda p: abs(p[1]))[:2]
    (u0, m0), slope = nearest[0], secant_slope(nearest)
    return float(np.clip(np.clip(u0 - m0 / slope, u0 - MAX_LEAP, u0 + MAX_LEAP), *bounds))


def secant_slope(points):
    """dm/du of the line through two (u, m) points; -1 if there is one, or it does not fall."""
    if len(points) < 2 or points[0][0] == points[1][0]:
        return -1.0
    (u0, m0), (u1, m1) = points
    slope = (m1 - m0) / (u1 - u0)
    return slope if slope < 0 else -1.0


def search_steps(encoder, targets, rtol=0.02, max_iter=40, on_done=None):
    """``[search_step(encoder, t, r, max_iter, known) for t, r in zip(targets, rtols)]``.

    One ``known`` for all: each search starts from every step the searches before it coded
    (in the order of ``targets``), so the later ones need an encode or two. ``rtol`` is one
    tolerance or one per target. ``on_done()``, if given, is called as each search ends
    (the pipeline counts them in a progress bar).
    """
    known, steps = {}, []
    for target, target_rtol in zip(targets, np.broadcast_to(rtol, len(targets)), strict=True):
        steps.append(search_step(encoder, target, float(target_rtol), max_iter, known))
        if on_done is not None:
            on_done()
    return steps


def search_each_basis(
    encoder, targets, rtol=0.02, max_iter=40, workers=1, on_done=None, bases=patch_codec.BASES
):
    """[(encoder in basis b, its steps for ``targets``) for b in ``bases``].

    ``search_steps`` on ``encoder.with_basis(b)`` (``encoder`` itself for its own basis),
    ``workers`` bases at a time in threads: each basis's searches are its own, so the steps
    are the same however many run at once. ``on_done()`` is called as each of the
    len(bases) x len(targets) searches ends.
    """
    encoders = [encoder if b == encoder.basis else encoder.with_basis(b) for b in bases]

    def search(basis_encoder):
        return search_steps(basis_encoder, targets, rtol, max_iter, on_done)

    with ContextThreadPool(max_workers=max(1, min(workers, len(encoders)))) as pool:
        return list(zip(encoders, pool.map(search, encoders), strict=True))


def search_bases(
    encoder, targets, rtol=0.02, max_iter=40, workers=1, on_done=None, bases=patch_codec.BASES
):
    """For each target, (encoder, Delta) of the higher PSNR among ``bases`` at that rate.

    ``search_each_basis``, then at each target the point within ``rtol`` of it with the
    highest PSNR (``best_point``). Each basis alone gives a curve whose rate grows smoothly
    as Delta falls, so each search can hit the target; the learned basis wins where its rows
    are cheap (large images, low rates), the DCT where they are not.
    """
    found = search_each_basis(encoder, targets, rtol, max_iter, workers, on_done, bases)
    return [
        best_point([(e, steps[i]) for e, steps in found], target, rtol)
        for i, target in enumerate(targets)
    ]


def upper_envelope(points):
    """The rate-distortion points (dicts with ``bytes`` and ``psnr_db``) that no other beats:
    none has as few bytes or fewer and a PSNR as high or higher, one of the two strictly.

    Of several codecs' (or bases') points, these are the curve of a codec free to choose
    among them at each rate: PSNR rises with the bytes along it.
    """

    def beaten(p):
        return any(
            q["bytes"] <= p["bytes"]
            and q["psnr_db"] >= p["psnr_db"]
            and (q["bytes"], q["psnr_db"]) != (p["bytes"], p["psnr_db"])
            for q in points
        )

    return [p for p in points if not beaten(p)]


def best_point(candidates, target_bpp, rtol):
    """The (encoder, Delta) of highest PSNR within rtol of the target, else the closest rate."""

    def rank(candidate):
        encoder, step = candidate
        data = encoder.encode(step)
        miss = abs(bits_per_pixel(len(data), *encoder.shape) / target_bpp - 1)
        db = psnr(encoder.image, encoder.decoded(step))  # = decode(data), kept
        return (0, -db) if miss <= rtol else (1, miss)

    return min(candidates, key=rank)  # the first (the learned basis) if equal


def rate_miss(reached_bpp, target_bpp):
    """The relative miss of a rate target: bpp_reached / bpp_target - 1 (> 0: over it).

    ``search_step`` stops within its ``rtol`` (2%) of a target it can reach; a miss beyond
    that is a target out of the codec's reach (a tiny image's fixed header and tables, or
    more bits than even the finest step spends).
    """
    return reached_bpp / target_bpp - 1
