"""The patch-PCA codec: real bytes round-trip, rate and distortion move the right way, every
small function is the exact inverse or invariant its docstring promises, bad input fails clearly.

Data: crops of scikit-learn's china.jpg (a 128 x 192 RGB crop, an odd 61 x 83 one, their gray
versions). Tolerances: block split/merge, zigzag, DC prediction and the entropy coder are exact;
orthonormality to 1e-12; the learned basis matches sklearn's PCA to 1e-8 (up to sign).
"""

import struct
import zlib

import numpy as np
import pytest
from sklearn import decomposition
from sklearn.datasets import load_sample_image
from threadpoolctl import threadpool_limits

from projects.week1_pca import patch_codec as pc
from projects.week1_pca.codec import basis, blocks, byte_format, colour, entropy_coding, quantizer

CHINA = load_sample_image("china.jpg")  # 427 x 640 x 3 uint8
CROP = CHINA[150:278, 200:392]  # 128 x 192 x 3: texture and sky edge
ODD = CHINA[17:78, 301:384]  # 61 x 83 x 3: every edge needs padding
GRAY = np.round(CROP @ [0.299, 0.587, 0.114]).astype(np.uint8)  # 128 x 192
IMAGES = {"rgb": CROP, "odd_rgb": ODD, "gray": GRAY, "gray_hw1": GRAY[:, :, np.newaxis]}


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    """Small matrices: BLAS threads only add contention on a busy machine."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def psnr(reference, test):
    mse = np.mean((reference.astype(float) - test.astype(float)) ** 2)
    return 10 * np.log10(255**2 / mse)


# -- the codec end to end ------------------------------------------------------------------


@pytest.mark.parametrize("name", IMAGES)
def test_round_trip_through_a_file(name, tmp_path):
    image = IMAGES[name]
    path = tmp_path / f"{name}.klt"
    path.write_bytes(pc.encode(image, step=16))
    decoded = pc.decode(path.read_bytes())
    assert decoded.shape == image.shape
    assert decoded.dtype == np.uint8
    assert psnr(image, decoded) > 30


@pytest.mark.parametrize("name", ["rgb", "gray"])
def test_smaller_step_gives_more_bytes_and_higher_psnr(name):
    image = IMAGES[name]
    steps = [96, 48, 24, 12, 6]
    sizes, dbs = [], []
    for step in steps:
        data = pc.encode(image, step)
        sizes.append(len(data))
        dbs.append(psnr(image, pc.decode(data)))
    assert np.all(np.diff(sizes) > 0), sizes
    assert np.all(np.diff(dbs) > 0), dbs


@pytest.mark.parametrize("name", ["rgb", "gray"])
def test_tiny_step_is_near_lossless(name):
    image = IMAGES[name]
    assert psnr(image, pc.decode(pc.encode(image, step=0.5))) > 45


def test_decoding_is_deterministic_and_bytes_are_self_contained():
    data = pc.encode(CROP, 20)
    assert pc.encode(CROP, 20) == data
    np.testing.assert_array_equal(pc.decode(data), pc.decode(bytearray(data)))


@pytest.mark.parametrize("subsample_chroma", [True, False])
def test_auto_keeps_the_lower_lagrangian_cost(subsample_chroma):
    step = 30.0
    fixed = pc.encode(CROP, step, subsample_chroma=subsample_chroma)
    auto = pc.encode(CROP, step)
    pixels = CROP.astype(float)
    assert pc.lagrangian_cost(pixels, auto, step) <= pc.lagrangian_cost(pixels, fixed, step)


def test_subsampled_chroma_costs_fewer_bytes_at_low_rate():
    sub = pc.encode(CROP, 60, subsample_chroma=True)
    full = pc.encode(CROP, 60, subsample_chroma=False)
    assert len(sub) < len(full)


@pytest.mark.parametrize("shape", [(1, 1, 3), (3, 5), (9, 17, 3), (8, 8)])
def test_tiny_images_round_trip(shape):
    image = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    decoded = pc.decode(pc.encode(image, step=1.0))
    assert decoded.shape == image.shape
    assert np.max(np.abs(decoded.astype(int) - image)) <= 2


def test_constant_image_is_exact():
    image = np.full((20, 30, 3), 77, dtype=np.uint8)
    np.testing.assert_array_equal(pc.decode(pc.encode(image, step=50)), image)


# -- the basis -----------------------------------------------------------------------------


def test_learned_basis_matches_sklearn_pca():
    """First 10 axes (distinct eigenvalues) agree with sklearn's to 1e-8, up to sign."""
    axes = pc.learned_basis(GRAY)
    assert axes.shape == (64, 8, 8)
    X, _ = blocks.split_blocks(GRAY.astype(float), 8)
    ref = decomposition.PCA(svd_solver="covariance_eigh").fit(X).components_
    ours = axes.reshape(64, 64)
    signs = np.sign(np.sum(ours * ref, axis=1, keepdims=True))
    np.testing.assert_allclose((ours * signs)[:10], ref[:10], rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours @ ours.T, np.eye(64), atol=1e-12)


def test_first_component_is_nearly_the_block_mean():
    first = pc.learned_basis(CROP)[0].ravel()
    assert abs(first @ np.full(64, 1 / 8)) > 0.95


@pytest.mark.parametrize("exponent", [0, 1, 3, 7, 15])
def test_dequantized_basis_is_orthonormal(exponent):
    _, V, _ = basis.learn_basis(blocks.split_blocks(GRAY.astype(float), 8)[0])
    exponents = np.full(64, exponent)
    V_hat = basis.dequantize_basis(basis.quantize_basis(V, exponents), exponents)
    np.testing.assert_allclose(V_hat @ V_hat.T, np.eye(64), atol=1e-12)
    if exponent == 15:  # a fine grid changes almost nothing
        np.testing.assert_allclose(V_hat, V, atol=1e-3)


def test_gram_schmidt_keeps_leading_spans():
    V = np.random.default_rng(1).standard_normal((6, 10))
    Q = basis.gram_schmidt(V)
    np.testing.assert_allclose(Q @ Q.T, np.eye(6), atol=1e-12)
    for k in range(1, 7):  # V[:k] lies in span(Q[:k])
        np.testing.assert_allclose(V[:k] @ Q[:k].T @ Q[:k], V[:k], atol=1e-10)


@pytest.mark.parametrize("block", [2, 8, 16])
def test_dct_basis_rows_are_scipys_orthonormal_dct_images_lowest_frequency_first(block):
    from scipy.fft import dctn

    order = []
    for row in basis.dct_basis(block):  # scipy's DCT-II of each row: one unit coefficient (u, v)
        coefficients = dctn(row.reshape(block, block), norm="ortho")
        u, v = np.unravel_index(np.argmax(np.abs(coefficients)), coefficients.shape)
        unit = np.zeros((block, block))
        unit[u, v] = 1.0
        np.testing.assert_allclose(coefficients, unit, atol=1e-12)
        order.append((u + v, u))
    assert order == sorted(set(order))
    assert len(order) == block * block


def test_basis_exponents_follow_sigma():
    sigma = np.array([800.0, 100.0, 10.0, 1.0, 0.0])
    e = basis.basis_exponents(sigma, step=20, alpha=0.05)
    np.testing.assert_array_equal(e, [10, 7, 3, 0, 0])  # round(log2(sigma / 1)), clipped


def test_components_to_keep_drops_silent_tail():
    Z = np.zeros((100, 8))
    Z[:, :3] = np.random.default_rng(2).normal(scale=50, size=(100, 3))
    Q = quantizer.quantize(Z, 5.0)
    assert quantizer.components_to_keep(Z, Q, 5.0, np.full(8, 4)) == 3


# -- blocks, colour, resampling --------------------------------------------------------------


@pytest.mark.parametrize("block", [2, 4, 8, 16])
@pytest.mark.parametrize("shape", [(61, 83), (64, 64), (1, 1)])
def test_split_merge_is_an_exact_inverse(block, shape):
    plane = np.random.default_rng(3).standard_normal(shape)
    X, grid = blocks.split_blocks(plane, block)
    assert X.shape == (grid[0] * grid[1], block * block)
    np.testing.assert_array_equal(blocks.merge_blocks(X, grid, block, shape), plane)


def test_split_blocks_is_raster_order():
    plane = np.arange(16 * 24, dtype=float).reshape(16, 24)
    X, grid = blocks.split_blocks(plane, 8)
    assert grid == (2, 3)
    np.testing.assert_array_equal(X[1], plane[0:8, 8:16].ravel())
    np.testing.assert_array_equal(X[3], plane[8:16, 0:8].ravel())


def test_split_blocks_pads_by_replication():
    plane = np.arange(15, dtype=float).reshape(3, 5)
    X, _ = blocks.split_blocks(plane, 4)
    tiles = X.reshape(-1, 4, 4)
    np.testing.assert_array_equal(tiles[0][3], tiles[0][2])  # last row repeated
    np.testing.assert_array_equal(tiles[1][:, 1:], np.repeat(tiles[1][:, :1], 3, axis=1))


def test_colour_transform_is_orthonormal():
    np.testing.assert_allclose(colour.COLOUR @ colour.COLOUR.T, np.eye(3), atol=1e-15)
    pixels = CROP.astype(float)
    np.testing.assert_allclose(
        colour.opponent_to_rgb(colour.rgb_to_opponent(pixels)), pixels, atol=1e-12
    )
    # squared error is preserved: ||M e|| = ||e||
    error = np.random.default_rng(4).standard_normal((5, 7, 3))
    np.testing.assert_allclose(np.sum(colour.rgb_to_opponent(error) ** 2), np.sum(error**2))


def test_resampling_keeps_constants_and_shapes():
    plane = np.full((61, 83), 3.5)
    small = colour.downsample2(plane)
    assert small.shape == (31, 42)
    up = colour.upsample2(small, plane.shape)
    np.testing.assert_allclose(up, plane)


def test_chroma_step_matches_the_upsampler_energy_gain():
    """g = sum of squared weights of one chroma sample through upsample2 (interior)."""
    impulse = np.zeros((9, 9))
    impulse[4, 4] = 1.0
    g = np.sum(colour.upsample2(impulse, (18, 18)) ** 2)
    assert g == pytest.approx(1.5625)
    assert colour.chroma_step(10.0, subsampled=True) == pytest.approx(10 / np.sqrt(g))
    assert colour.chroma_step(10.0, subsampled=False) == 10.0


# -- quantization and entropy coding ---------------------------------------------------------


def test_quantization_error_is_at_most_half_a_step():
    z = np.random.default_rng(5).normal(scale=40, size=10_000)
    error = quantizer.dequantize(quantizer.quantize(z, 7.0, rounding=0.5), 7.0) - z
    assert np.max(np.abs(error)) <= 3.5 + 1e-12


def test_rate_lambda_is_the_slope_of_the_measured_distortion_rate_curve():
    """lambda(Delta) = -dD/dR of a uniform quantizer at high rate, measured, not recalled.

    A Gaussian coefficient (sigma = 40 >> Delta) quantized at steps Delta 2^(-+1/8): D is the
    measured mean squared error, R the measured entropy of the integers in bits. The secant
    slope -(D_2 - D_1) / (R_2 - R_1) is the squared error one more bit buys back; it must be
    rate_lambda(Delta) to 3% (sampling noise on 400,000 draws is ~0.5%; ln 2 / 12 is 50% off).
    """
    z = np.random.default_rng(11).normal(scale=40.0, size=400_000)
    step = 4.0
    points = []
    for s in (step * 2**-0.125, step * 2**0.125):
        q = quantizer.quantize(z, s, rounding=0.5)  # plain rounding: the textbook quantizer
        p = np.unique(q, return_counts=True)[1] / q.size
        points.append((np.mean((quantizer.dequantize(q, s) - z) ** 2), -np.sum(p * np.log2(p))))
    (d_fine, r_fine), (d_coarse, r_coarse) = points
    slope = -(d_coarse - d_fine) / (r_coarse - r_fine)
    assert quantizer.rate_lambda(step) == pytest.approx(slope, rel=0.03)
    assert quantizer.rate_lambda(2 * step) == pytest.approx(
        4 * quantizer.rate_lambda(step), rel=1e-12
    )


def test_default_rounding_gives_the_lowest_lagrangian_cost_of_its_neighbours():
    """The default dead-zone offset r is the one a rate-distortion search picks on the crop.

    J = D + lambda R with the codec's own lambda, at a step of 40 (about 0.5 bpp on the
    crop): the default must cost no more than any r on a 0.05 grid from 0.3 to 0.5 (0.5 is
    plain rounding: the dead zone must pay for itself). Measured: the neighbours of the best
    r cost 0.5% to 0.6% more, far above the bytes' rounding (a byte is lambda 8 ~ 4.4e3 of
    J ~ 1.8e7).
    """
    step, pixels = 40.0, CROP.astype(float)
    costs = {r: pc.lagrangian_cost(pixels, pc.encode(CROP, step, rounding=r), step)
             for r in (0.3, 0.35, 0.4, 0.45, 0.5)}  # fmt: skip
    default = pc.lagrangian_cost(pixels, pc.encode(CROP, step), step)
    assert default <= min(costs.values()), (default, costs)


def test_dead_zone_widens_only_the_zero_bin():
    step, r = 10.0, 0.4
    z = np.array([-6.1, -5.9, 0.0, 5.9, 6.1, 15.9, 16.1])  # zero bin |z| < (1 - r) step = 6
    np.testing.assert_array_equal(quantizer.quantize(z, step, r), [-1, 0, 0, 0, 1, 1, 2])


def test_zigzag_maps_signed_to_unsigned_and_back():
    q = np.array([0, -1, 1, -2, 2, -(2**40), 2**40])
    np.testing.assert_array_equal(entropy_coding.zigzag(q)[:5], [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(entropy_coding.unzigzag(entropy_coding.zigzag(q)), q)


def test_dc_prediction_is_exactly_invertible():
    first = np.random.default_rng(6).integers(-500, 500, size=7 * 11)
    residual = entropy_coding.dc_residual(first, (7, 11))
    np.testing.assert_array_equal(entropy_coding.dc_restore(residual, (7, 11)), first)


def test_coefficient_stream_is_exactly_invertible():
    rng = np.random.default_rng(7)
    Q = np.round(rng.laplace(scale=[20, 5, 5, 2, 1, 0.3], size=(6 * 9, 6))).astype(np.int64)
    stream = entropy_coding.coefficient_stream(Q, (6, 9))
    np.testing.assert_array_equal(entropy_coding.coefficients_from_stream(stream, (6, 9), 6), Q)


@pytest.mark.parametrize("scale", [1, 300, 2**20, 2**40])
def test_entropy_coder_is_lossless_on_random_integers(scale):
    q = np.round(np.random.default_rng(8).laplace(scale=scale, size=5000)).astype(np.int64)
    width = entropy_coding.symbol_bytes(q)
    np.testing.assert_array_equal(
        entropy_coding.unpack_ints(entropy_coding.pack_ints(q, width), q.size, width), q
    )


def test_entropy_coder_beats_order_zero_entropy_on_sorted_zeros():
    """A long run of zeros then values: LZMA (adaptive) spends less than n H(p) bits."""
    q = np.concatenate([np.zeros(20_000, dtype=np.int64), np.arange(-50, 50).repeat(10)])
    assert 8 * len(entropy_coding.pack_ints(q, 1)) < quantizer.entropy_bits(q)


# -- failures ------------------------------------------------------------------------------


def with_crc(tail):
    """A byte string with a valid checksum around an arbitrary tail."""
    return byte_format.MAGIC + struct.pack("<I", zlib.crc32(tail)) + tail


@pytest.fixture(scope="module")
def encoded():
    return pc.encode(CROP, 20)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: d[: len(d) // 2],  # truncated
        lambda d: d[:-1],  # one byte short
        lambda d: d[:6],  # shorter than the header
        lambda d: b"",
        lambda d: b"GIF89a" + d[6:],  # wrong magic
        lambda d: d[:40] + bytes([d[40] ^ 0xFF]) + d[41:],  # one flipped byte
        lambda d: with_crc(d[8:-50]),  # valid checksum, payload cut short
        lambda d: with_crc(d[8:200] + b"\x00" * (len(d) - 200)),  # valid checksum, junk payload
        lambda d: with_crc(byte_format.HEADER.pack(10, 10, 3, 2, 8, 1, 1)),  # two channels
        lambda d: with_crc(byte_format.HEADER.pack(10, 10, 3, 3, 8, 1, 1)),  # plane headers missing
        lambda d: with_crc(
            byte_format.HEADER.pack(10, 10, 2, 1, 8, 0, 1) + byte_format.PLANE.pack(-1.0, 3, 0)
        ),
        lambda d: with_crc(
            byte_format.HEADER.pack(10, 10, 2, 1, 8, 0, 1)
            + byte_format.PLANE.pack(1, 3, 0)
            + b"\x30"
        ),
        lambda d: with_crc(
            byte_format.HEADER.pack(10, 10, 2, 1, 8, 0, 1) + byte_format.PLANE.pack(1.0, 3, 7)
        ),
    ],
)
def test_decode_rejects_corrupted_bytes(encoded, mangle):
    with pytest.raises(ValueError, match=r"patch-codec|corrupted|truncated"):
        pc.decode(mangle(encoded))


@pytest.mark.parametrize("step", [0, -1.0, float("nan"), float("inf"), 1e-9, "8"])
def test_invalid_step_is_rejected_with_its_value(step):
    with pytest.raises(ValueError, match=f"step must be .*got {step!r}"):
        pc.encode(CROP, step)


@pytest.mark.parametrize("block", [0, 1, 33, 8.0, True])
def test_invalid_block_is_rejected_with_its_value(block):
    with pytest.raises(ValueError, match=f"block must be .*got {block!r}"):
        pc.encode(CROP, 10, block=block)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rounding": 0.0}, r"^rounding must be a finite number in \(0, 0.5\], got 0.0$"),
        ({"rounding": 0.7}, r"^rounding must be a finite number in \(0, 0.5\], got 0.7$"),
        ({"basis_precision": 0}, r"^basis_precision must be a finite number > 0, got 0$"),
        (
            {"subsample_chroma": "yes"},
            r"^subsample_chroma must be one of \('auto', True, False\), got 'yes'$",
        ),
    ],
)
def test_invalid_options_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pc.encode(CROP, 10, **kwargs)


BAD_SHAPE = r"^image must be H x W, H x W x 1 or H x W x 3, got shape "


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((4, 4, 4)), BAD_SHAPE + r"\(4, 4, 4\)$"),
        (np.zeros((4, 4, 2)), BAD_SHAPE + r"\(4, 4, 2\)$"),
        (np.zeros(10), BAD_SHAPE + r"\(10,\)$"),
        (np.zeros((0, 5)), r"^image is empty, got shape \(0, 5\)$"),
        (np.full((4, 4), np.nan), r"^image must hold finite numbers on the 0..255 scale$"),
    ],
)  # fmt: skip
def test_invalid_images_are_rejected_with_what_is_wrong(image, message):
    with pytest.raises(ValueError, match=message):
        pc.encode(image, 10)
