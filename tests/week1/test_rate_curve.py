"""The patch codec's rate-distortion curve: PSNR never falls as the rate rises, and the codec
stays level with JPEG at high rates, on images unlike the two sample photographs.

The images are made here: a grayscale document scan (text drawn with Pillow's own font on
paper noise), a high-contrast photograph (china.jpg's crop under a steep gamma), a smooth
colour gradient and white noise. Each is small (64 x 96 to 96 x 128): few blocks share each
basis row the codec sends, the case where a learned basis costs the most (issue 13).

Tolerances: PSNR may fall by at most ``FLAT_DB`` = 0.05 dB between two rates of one curve
(the search stops within 2% of each target, so two points may be 4% apart in rate and
noise-like images gain little there); at the same bytes the codec is at least JPEG's PSNR
(``BEHIND_JPEG_DB`` = 0; measured 1.4 to 8 dB ahead at 1 to 4 bpp, where before the DCT
basis it was up to 3 dB behind at 4 bpp), and with 16 x 16 blocks at most
``LARGE_BLOCKS_BEHIND_DB`` = 0.5 dB behind (measured 0.1; before, 2.1 to 3.7 dB behind).
"""

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from sklearn.datasets import load_sample_image
from threadpoolctl import threadpool_limits

from projects.week1_pca import patch_codec
from projects.week1_pca import rate_distortion as rd

TARGETS = (0.5, 1.0, 2.0, 4.0)  # bpp
FLAT_DB = 0.05
BEHIND_JPEG_DB = 0.0
LARGE_BLOCKS_BEHIND_DB = 0.5
WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "0123456789"]


def document_scan(height=96, width=128, seed=0):
    """Dark glyphs of Pillow's default font on light paper with Gaussian grain (sigma 6)."""
    rng = np.random.default_rng(seed)
    paper = np.clip(235 + rng.normal(0, 6, (height, width)), 0, 255).astype(np.uint8)
    page = Image.fromarray(paper)
    draw, font = ImageDraw.Draw(page), ImageFont.load_default()
    for y in range(4, height - 10, 12):
        x = 4
        while x < width - 30:
            word = WORDS[rng.integers(len(WORDS))]
            draw.text((x, y), word, fill=int(rng.integers(10, 50)), font=font)
            x += 6 * len(word) + 6
    return np.asarray(page)


def high_contrast_photo():
    """china.jpg's 64 x 96 crop under x -> 1.8 * 255 (x / 255)^0.4 - 120, clipped to 0..255."""
    crop = load_sample_image("china.jpg")[100:164, 200:296].astype(np.float64)
    return np.clip(1.8 * 255 * (crop / 255) ** 0.4 - 120, 0, 255).round().astype(np.uint8)


def smooth_gradient():
    """Three linear ramps, one per channel, 64 x 96."""
    y, x = np.mgrid[0:64, 0:96]
    return np.stack([2 * x, 3 * y, x + y], axis=-1).astype(np.uint8)


def white_noise():
    """Uniform noise on 0..255, 64 x 64 gray: no transform can compact it."""
    return np.random.default_rng(1).integers(0, 256, (64, 64)).astype(np.uint8)


IMAGES = {
    "document_scan": document_scan,
    "high_contrast_photo": high_contrast_photo,
    "smooth_gradient": smooth_gradient,
    "white_noise": white_noise,
}


def curve(image, block=8):
    """(bpp, PSNR, JPEG's PSNR at the same bytes) at each of ``TARGETS``, one encoder.

    20 encodes per search (not 40): enough for each reachable target, and a
    target out of reach (the gradient's, past lossless) stops there.
    """
    encoder, ladder = patch_codec.Encoder(image, block), rd.JpegLadder(image)
    points = []
    for chosen, step in rd.search_bases(encoder, list(TARGETS), max_iter=20):
        data = chosen.encode(step)
        bpp = rd.bits_per_pixel(len(data), *image.shape[:2])
        jpeg = rd.jpeg_psnr_at_bytes(image, len(data), ladder=ladder)
        points.append((bpp, rd.psnr(image, patch_codec.decode(data)), jpeg))
    return np.array(points)


@pytest.fixture(scope="module")
def curves():
    with threadpool_limits(limits=1, user_api="blas"):
        return {name: curve(make()) for name, make in IMAGES.items()}


@pytest.mark.parametrize("name", IMAGES)
def test_psnr_never_falls_as_the_rate_rises(curves, name):
    points = curves[name][np.argsort(curves[name][:, 0])]
    finite = np.minimum(points[:, 1], 1e3)  # a lossless point is inf dB
    assert np.all(np.diff(finite) >= -FLAT_DB), points


@pytest.mark.parametrize("name", ["document_scan", "high_contrast_photo", "white_noise"])
def test_codec_keeps_level_with_jpeg_at_every_rate(curves, name):
    _, db, jpeg = curves[name].T
    reached = ~np.isnan(jpeg)  # JPEG cannot go below its headers' size
    assert reached.sum() >= 2, curves[name]
    assert np.all(db[reached] >= jpeg[reached] - BEHIND_JPEG_DB), curves[name]


def test_large_blocks_stay_within_half_a_db_of_jpeg_on_the_scan():
    """B = 16 on a 96 x 128 scan: 48 blocks for 256-entry basis rows (JPEG's blocks are 8)."""
    with threadpool_limits(limits=1, user_api="blas"):
        bpp, db, jpeg = curve(document_scan(), block=16).T
    reached = ~np.isnan(jpeg)
    assert np.all(db[reached] >= jpeg[reached] - LARGE_BLOCKS_BEHIND_DB), (bpp, db, jpeg)
