"""Work shared across steps and ranks changes no result: each fast route equals a slow one.

The slow routes here are written out in full, as the codec first was: the block PCA learned
again inside every call to the encoder, the activity of each component summed again from
scratch, the rate search bisecting over fresh encodes, a full SVD per rank. The fast routes
learn a transform once and reuse it. Tolerance: exact (the same bytes, the same step, the same
pixels); the numbers a run logs come from these values.

Data: a 64 x 96 crop of china.jpg, its gray version, an odd 37 x 53 crop.
"""

import zlib

import numpy as np
import pytest
from sklearn.datasets import load_sample_image

from projects.week1_pca import low_rank
from projects.week1_pca import patch_codec as pc
from projects.week1_pca import rate_distortion as rd

CHINA = load_sample_image("china.jpg")
CROP = CHINA[150:214, 200:296]  # 64 x 96 x 3
GRAY = np.round(CROP @ [0.299, 0.587, 0.114]).astype(np.uint8)  # 64 x 96
ODD = CHINA[17:54, 301:354]  # 37 x 53 x 3: every edge needs padding
IMAGES = {"rgb": CROP, "gray": GRAY, "odd_rgb": ODD}


# -- the slow routes -----------------------------------------------------------------------


def slow_stream(Q, grid):
    """Coefficients in send order, activity a_j = sum_{0<i<k} |q_ji| summed anew for each k."""
    columns = [pc.dc_residual(Q[:, 0], grid)]
    for k in range(1, Q.shape[1]):
        activity = np.abs(Q[:, 1:k]).sum(axis=1)
        columns.append(Q[np.argsort(activity, kind="stable"), k])
    return np.concatenate(columns)


def slow_plane(plane, step, block):
    """One plane coded with its PCA learned right here, at this step."""
    X, grid = pc.split_blocks(plane, block)
    mu, V, sigma = pc.learn_basis(X)
    mean = np.round(mu).astype(np.int64)
    exponents = pc.basis_exponents(sigma, step)
    V_int = pc.quantize_basis(V, exponents)
    Z = (X - mean) @ pc.dequantize_basis(V_int, exponents).T
    Q = pc.quantize(Z, step)
    n = pc.components_to_keep(Z, Q, step, exponents)
    ints = np.concatenate([mean, V_int[:n].ravel(), slow_stream(Q[:, :n], grid)])
    return pc.PLANE.pack(step, n), exponents[:n].astype(np.uint8).tobytes(), ints


def slow_encode_image(image, subsampled, step, block):
    """Header, plane headers, exponents and the LZMA payload, every plane learned anew."""
    pixels = np.atleast_3d(np.asarray(image, dtype=np.float64))
    height, width, channels = pixels.shape
    subsampled = subsampled and channels == 3
    planes = pc.image_planes(pixels, subsampled)
    steps = [step] + [pc.chroma_step(step, subsampled)] * (channels - 1)
    heads, exponents, ints = zip(
        *(slow_plane(p, s, block) for p, s in zip(planes, steps, strict=True)), strict=True
    )
    ints = np.concatenate(ints)
    width_bytes = pc.symbol_bytes(ints)
    fields = (height, width, np.ndim(image), channels, block, subsampled, width_bytes)
    tail = pc.HEADER.pack(*fields) + b"".join(heads) + b"".join(exponents)
    tail += pc.pack_ints(ints, width_bytes)
    return pc.MAGIC + pc.CHECKSUM.pack(zlib.crc32(tail)) + tail


def slow_encode(image, step, block=8):
    """Both chroma choices encoded from scratch; the one with the lower D + lambda R."""
    pixels = np.atleast_3d(np.asarray(image, dtype=np.float64))
    if pixels.shape[2] == 1:
        return slow_encode_image(image, False, step, block)
    candidates = [slow_encode_image(image, s, step, block) for s in (True, False)]
    return min(candidates, key=lambda data: pc.lagrangian_cost(pixels, data, step))


def slow_step_for_bpp(image, target_bpp, rtol=0.02, max_iter=40):
    """Bisection on log Delta with a fresh ``slow_encode`` at every step."""
    height, width = np.shape(image)[:2]
    low, high = np.log(rd.STEP_BRACKET[0]), np.log(rd.STEP_BRACKET[1])
    best_step, best_error = None, np.inf
    for _ in range(max_iter):
        step = float(np.exp((low + high) / 2))
        n_bytes = len(slow_encode(image, step))
        error = rd.bits_per_pixel(n_bytes, height, width) / target_bpp - 1
        if abs(error) < best_error:
            best_step, best_error = step, abs(error)
        if abs(error) <= rtol:
            break
        low, high = (np.log(step), high) if error > 0 else (low, np.log(step))
    return best_step


# -- the codec -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(IMAGES))
@pytest.mark.parametrize("step", [2.0, 11.0, 60.0])
def test_encode_gives_the_bytes_of_the_codec_relearned_from_scratch(name, step):
    assert pc.encode(IMAGES[name], step) == slow_encode(IMAGES[name], step)


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_one_encoder_at_many_steps_gives_the_bytes_of_the_codec_relearned_each_time(name):
    encoder = pc.Encoder(IMAGES[name])
    for step in [11.0, 2.0, 60.0, 11.0, 0.7]:  # out of order, one step twice
        assert encoder.encode(step) == slow_encode(IMAGES[name], step)


def test_coefficient_stream_equals_activity_summed_anew_per_component():
    rng = np.random.default_rng(3)
    Q = np.round(rng.laplace(scale=[30, 9, 9, 4, 2, 1, 0.4], size=(8 * 5, 7))).astype(np.int64)
    np.testing.assert_array_equal(pc.coefficient_stream(Q, (8, 5)), slow_stream(Q, (8, 5)))


# -- the rate search -----------------------------------------------------------------------


@pytest.mark.parametrize("target_bpp", [0.5, 2.0])
def test_rate_search_finds_the_step_of_a_search_over_fresh_encodes(target_bpp):
    assert rd.step_for_bpp(CROP, target_bpp) == slow_step_for_bpp(CROP, target_bpp)


def test_one_encoder_shared_by_searches_finds_the_steps_of_searches_over_fresh_encodes():
    encoder = pc.Encoder(CROP)
    for target_bpp in [2.0, 0.5, 1.0]:  # the pipeline's order: the chosen rate, then the curve
        assert rd.search_step(encoder, target_bpp) == slow_step_for_bpp(CROP, target_bpp)


# -- the truncated SVD ---------------------------------------------------------------------


def test_rank_k_image_equals_a_rank_k_approximation_of_each_channel():
    for k in (1, 5, 30):
        slow = np.stack([low_rank.rank_k_approximation(c, k) for c in CROP.transpose(2, 0, 1)], -1)
        expected = np.clip(np.rint(slow), 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(low_rank.rank_k_image(CROP, k), expected)


def test_rank_k_images_from_one_svd_equal_a_full_svd_per_rank():
    ranks = [30, 1, 5, 64]
    images = low_rank.rank_k_images(CROP, ranks)
    assert list(images) == sorted(ranks)
    for k in ranks:
        np.testing.assert_array_equal(images[k], low_rank.rank_k_image(CROP, k))
