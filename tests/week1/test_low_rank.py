"""Truncated SVD meets the Eckart-Young bound, beats other rank-k matrices, and fails clearly.

Tolerances: ||A - A_k||_F equals sqrt(sum_{i>k} s_i^2) to rtol 1e-10; images round-trip
through float64 exactly (uint8 rounding) when k is full.
"""

import re

import numpy as np
import pytest
from sklearn.datasets import load_sample_image

from common.grading import grades
from projects.week1_pca.low_rank import (
    check_rank,
    clip_ranks,
    eckart_young_error,
    max_rank,
    rank_k_approximation,
    rank_k_image,
    rank_k_storage_bytes,
    truncated_product,
)

CHINA = load_sample_image("china.jpg")  # 427 x 640 x 3 uint8
GRAY = CHINA @ np.array([0.299, 0.587, 0.114])  # 427 x 640 float64
SMALL = np.random.default_rng(0).standard_normal((40, 30))


def frobenius_error(A, B):
    return np.linalg.norm(A - B, "fro")


@grades(truncated_product)
@pytest.mark.parametrize("k", [1, 5, 20, 100])
def test_error_equals_eckart_young_bound_on_image(k):
    singular_values = np.linalg.svd(GRAY, compute_uv=False)
    error = frobenius_error(GRAY, rank_k_approximation(GRAY, k))
    np.testing.assert_allclose(error, eckart_young_error(singular_values, k), rtol=1e-10)


@grades(truncated_product)
@pytest.mark.parametrize("k", [1, 7])
def test_truncated_product_of_a_stack_is_each_matrix_times_an_explicit_diagonal(k):
    stack = np.random.default_rng(1).standard_normal((3, 12, 9))  # three channels, 12 x 9
    U, s, Vt = np.linalg.svd(stack, full_matrices=False)
    for c in range(3):
        expected = U[c][:, :k] @ np.diag(s[c][:k]) @ Vt[c][:k]
        np.testing.assert_allclose(truncated_product(U, s, Vt, k)[c], expected, atol=1e-12)
    np.testing.assert_allclose(truncated_product(U, s, Vt, 9), stack, atol=1e-12)  # k = r


@grades(truncated_product)
@pytest.mark.parametrize("k", [1, 3, 10])
def test_approximation_has_rank_k(k):
    assert np.linalg.matrix_rank(rank_k_approximation(SMALL, k)) == k


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [1, 5, 20])
def test_truncated_svd_beats_a_random_rank_k_projection(seed, k):
    # A Q Q^T with Q a random orthonormal W x k basis is another rank-k matrix.
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((GRAY.shape[1], k)))
    best = frobenius_error(GRAY, rank_k_approximation(GRAY, k))
    assert best < frobenius_error(GRAY, GRAY @ Q @ Q.T)


def test_error_is_non_increasing_in_k_and_zero_at_full_rank():
    singular_values = np.linalg.svd(SMALL, compute_uv=False)
    errors = [frobenius_error(SMALL, rank_k_approximation(SMALL, k)) for k in range(1, 31)]
    assert np.all(np.diff(errors) <= 1e-12)
    bounds = [eckart_young_error(singular_values, k) for k in range(0, 31)]
    assert np.all(np.diff(bounds) <= 0)
    assert bounds[0] == pytest.approx(np.linalg.norm(SMALL, "fro"), rel=1e-12)
    assert errors[-1] < 1e-12 * np.linalg.norm(SMALL, "fro")


def test_image_is_compressed_channel_by_channel():
    k = 10
    compressed = rank_k_image(CHINA, k)
    assert compressed.shape == CHINA.shape
    assert compressed.dtype == np.uint8
    for c in range(3):
        channel = rank_k_approximation(CHINA[..., c].astype(np.float64), k)
        expected = np.clip(np.rint(channel), 0, 255)
        np.testing.assert_array_equal(compressed[..., c], expected)


def test_image_at_full_rank_round_trips_and_grayscale_works():
    tile = CHINA[:40, :50]
    np.testing.assert_array_equal(rank_k_image(tile, 40), tile)
    np.testing.assert_array_equal(rank_k_image(tile.astype(np.float32), 40), tile)
    gray = rank_k_image(GRAY, 5)
    assert gray.shape == GRAY.shape
    assert gray.dtype == np.uint8


def test_image_values_are_clipped_to_uint8_range():
    # The rank-1 approximation of [[255, 255], [255, 0]] is 255 [[1.17, 0.72], [0.72, 0.45]]:
    # its top-left entry overshoots to about 299.
    blocks = np.kron([[255.0, 255.0], [255.0, 0.0]], np.ones((4, 4)))
    raw = rank_k_approximation(blocks, 1)
    assert raw.max() > 290
    compressed = rank_k_image(blocks, 1)
    assert compressed.max() == 255
    np.testing.assert_array_equal(compressed, np.clip(np.rint(raw), 0, 255))


def test_storage_bytes_counts_float16_factors():
    # C k (H + W + 1) b: 3 channels x 20 x (427 + 640 + 1) x 2 bytes.
    assert rank_k_storage_bytes(427, 640, 20, 3) == 3 * 20 * 1068 * 2 == 128_160
    assert rank_k_storage_bytes(427, 640, 20, 1, bytes_per_value=4) == 20 * 1068 * 4


@pytest.mark.parametrize("k", [0, 428, 2.0, True])
def test_invalid_k_raises_with_the_valid_range(k):
    rule = r"^k must be an int in \[1, 427\] for a 427 x 640 "
    with pytest.raises(ValueError, match=rf"{rule}matrix, got {re.escape(repr(k))}$"):
        rank_k_approximation(GRAY, k)
    for call in (
        lambda: rank_k_image(CHINA, k),
        lambda: rank_k_storage_bytes(427, 640, k, 3),
        lambda: check_rank(CHINA, 20, 427, k),
    ):
        with pytest.raises(ValueError, match=rf"{rule}image, got {re.escape(repr(k))}$"):
            call()


def test_check_rank_accepts_valid_ranks():
    check_rank(CHINA, 1, 20, 427)
    check_rank(GRAY)


def test_invalid_shapes_and_eckart_young_k_raise():
    rule = r"^k must be an int in \[1, 427\] for a 427 x 640 image, got 0$"
    with pytest.raises(ValueError, match=rule):
        rank_k_image(CHINA, 0)
    with pytest.raises(ValueError, match=r"matrix must be 2-D, got shape \(427, 640, 3\)"):
        rank_k_approximation(CHINA, 5)
    with pytest.raises(ValueError, match=r"image must be H x W or H x W x C, got shape \(5,\)"):
        rank_k_image(np.zeros(5), 1)
    rule = r"^k must be an int in \[0, 3\] for 3 singular values, got 4$"
    with pytest.raises(ValueError, match=rule):
        eckart_young_error([3.0, 2.0, 1.0], 4)


def test_clip_ranks_keeps_the_distinct_ranks_up_to_the_shorter_side():
    image = np.zeros((30, 50, 3), dtype=np.uint8)
    assert max_rank(image) == 30 == max_rank(image[:, :, 0])
    kept, dropped = clip_ranks([5, 10, 20, 40, 80, 160, 30, 10], image)
    assert kept == [5, 10, 20, 30]
    assert dropped == [40, 80, 160]
    rank_k_image(image, kept[-1])  # the largest kept rank is a valid k
