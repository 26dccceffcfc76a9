"""Work shared across steps and ranks changes no result: each fast route equals a slow one.

The slow routes here are written out in full, as the codec first was: the block PCA learned
again inside every call to the encoder (or the DCT), for each chroma choice, the activity of
each component summed again from scratch, each basis searched on its own, each choice priced
by decoding its bytes, LZMA with preset 9's own 64 MiB dictionary, the rate search over fresh
encodes, a full SVD per rank, every JPEG quality written and decoded again for
each question. The fast routes learn a transform once and reuse it, code the luma once for
both chroma choices (in two threads with ``workers=2``), price a choice from its coded
planes and keep the image it rebuilt for the curve's points, cut LZMA's dictionary to the
input, and keep each JPEG file. Tolerance: exact (the
same bytes, the same step, the same pixels, the same floats); the numbers a run logs come
from these values. The last tests run the pipeline itself: its metrics equal the slow
routes' numbers, with figures and without.

Data: a 64 x 96 crop of china.jpg, its gray version, an odd 37 x 53 crop; for the pipeline,
the 96 x 128 crop of the week-1 pipeline tests.
"""

import lzma
import math
import threading
import zlib

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_sample_image

from common.threads import InCaller
from common.tracking import run_tracked
from projects.week1_pca import (
    config,  # noqa: F401  (registers the schema)
    low_rank,
    pipeline,
)
from projects.week1_pca import patch_codec as pc
from projects.week1_pca import rate_distortion as rd
from projects.week1_pca.codec import byte_format, colour, entropy_coding, quantizer
from projects.week1_pca.codec.basis import (
    basis_exponents,
    dct_basis,
    dequantize_basis,
    learn_basis,
    quantize_basis,
)
from projects.week1_pca.codec.blocks import split_blocks
from tests.weeks import compose_config

CHINA = load_sample_image("china.jpg")
CROP = CHINA[150:214, 200:296]  # 64 x 96 x 3
GRAY = np.round(CROP @ [0.299, 0.587, 0.114]).astype(np.uint8)  # 64 x 96
ODD = CHINA[17:54, 301:354]  # 37 x 53 x 3: every edge needs padding
IMAGES = {"rgb": CROP, "gray": GRAY, "odd_rgb": ODD}


# -- the slow routes -----------------------------------------------------------------------


def slow_stream(Q, grid):
    """Coefficients in send order, activity a_j = sum_{0<i<k} |q_ji| summed anew for each k."""
    columns = [entropy_coding.dc_residual(Q[:, 0], grid)]
    for k in range(1, Q.shape[1]):
        activity = np.abs(Q[:, 1:k]).sum(axis=1)
        columns.append(Q[np.argsort(activity, kind="stable"), k])
    return np.concatenate(columns)


def slow_pack_ints(q, width):
    """LZMA of the byte planes with preset 9's filters as they are: a 64 MiB dictionary."""
    planes = entropy_coding.zigzag(q).astype("<u8").view(np.uint8).reshape(-1, 8)[:, :width].T
    return lzma.compress(
        planes.tobytes(), format=lzma.FORMAT_RAW, filters=entropy_coding.LZMA_FILTERS
    )


def slow_plane(plane, step, block, basis="learned"):
    """One plane coded with its PCA learned right here, at this step (or in the DCT)."""
    X, grid = split_blocks(plane, block)
    mu, V, sigma = learn_basis(X)
    mean = np.round(mu).astype(np.int64)
    if basis == "fixed":
        Z = (X - mean) @ dct_basis(block).T
        Q = quantizer.quantize(Z, step)
        n = quantizer.components_to_keep(Z, Q, step)
        ints = np.concatenate([mean, slow_stream(Q[:, :n], grid)])
        return byte_format.PLANE.pack(step, n, byte_format.FIXED), b"", ints
    exponents = basis_exponents(sigma, step)
    V_int = quantize_basis(V, exponents)
    Z = (X - mean) @ dequantize_basis(V_int, exponents).T
    Q = quantizer.quantize(Z, step)
    n = quantizer.components_to_keep(Z, Q, step, exponents)
    ints = np.concatenate([mean, V_int[:n].ravel(), slow_stream(Q[:, :n], grid)])
    return (
        byte_format.PLANE.pack(step, n, byte_format.LEARNED),
        exponents[:n].astype(np.uint8).tobytes(),
        ints,
    )


def slow_encode_image(image, subsampled, step, block, basis="learned"):
    """Header, plane headers, exponents and the LZMA payload, every plane learned anew."""
    pixels = np.atleast_3d(np.asarray(image, dtype=np.float64))
    height, width, channels = pixels.shape
    subsampled = subsampled and channels == 3
    planes = colour.image_planes(pixels, subsampled)
    steps = [step] + [colour.chroma_step(step, subsampled)] * (channels - 1)
    heads, exponents, ints = zip(
        *(slow_plane(p, s, block, basis) for p, s in zip(planes, steps, strict=True)), strict=True
    )
    ints = np.concatenate(ints)
    width_bytes = entropy_coding.symbol_bytes(ints)
    fields = (height, width, np.ndim(image), channels, block, subsampled, width_bytes)
    tail = byte_format.HEADER.pack(*fields) + b"".join(heads) + b"".join(exponents)
    tail += slow_pack_ints(ints, width_bytes)
    return byte_format.MAGIC + byte_format.CHECKSUM.pack(zlib.crc32(tail)) + tail


def slow_encode(image, step, block=8, basis="learned"):
    """Both chroma choices encoded from scratch; the one with the lower D + lambda R."""
    pixels = np.atleast_3d(np.asarray(image, dtype=np.float64))
    if pixels.shape[2] == 1:
        return slow_encode_image(image, False, step, block, basis)
    candidates = [slow_encode_image(image, s, step, block, basis) for s in (True, False)]
    return min(candidates, key=lambda data: pc.lagrangian_cost(pixels, data, step))


class FreshEncodes:
    """What the rate search asks of an encoder (``shape``, ``encode``), each step coded anew
    by ``slow_encode``: nothing learned once, nothing kept."""

    def __init__(self, image, basis="learned"):
        self.image, self.basis, self.shape = image, basis, np.shape(image)[:2]

    def encode(self, step):
        return slow_encode(self.image, step, basis=self.basis)


def slow_search_steps(image, targets, basis="learned"):
    """``rd.search_step`` over fresh encodes for each target, one ``known`` carried along."""
    known = {}
    return [rd.search_step(FreshEncodes(image, basis), t, known=known) for t in targets]


def slow_best_bases(image, targets, rtol=0.02):
    """(basis, Delta, bytes) per target: each basis searched over fresh encodes; of those
    within rtol of the target, the one of highest PSNR (the learned basis if equal), else
    the closest in rate."""
    steps = {basis: slow_search_steps(image, targets, basis) for basis in pc.BASES}
    best = []
    for i, target_bpp in enumerate(targets):
        points = []
        for basis in pc.BASES:
            data = slow_encode(image, steps[basis][i], basis=basis)
            miss = abs(rd.bits_per_pixel(len(data), *np.shape(image)[:2]) / target_bpp - 1)
            db = rd.psnr(image, pc.decode(data))
            points.append(((0, -db) if miss <= rtol else (1, miss), basis, steps[basis][i], data))
        best.append(min(points, key=lambda p: p[0])[1:])
    return best


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


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_two_threads_give_the_bytes_of_the_codec_relearned_from_scratch(name):
    encoder = pc.Encoder(IMAGES[name], workers=2)
    for step in [11.0, 2.0, 60.0]:
        assert encoder.encode(step) == slow_encode(IMAGES[name], step)


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_the_fixed_basis_gives_the_bytes_of_the_dct_coded_from_scratch(name):
    encoder = pc.Encoder(IMAGES[name]).with_basis("fixed")  # transforms shared, bytes its own
    for step in [11.0, 2.0, 60.0]:
        assert encoder.encode(step) == slow_encode(IMAGES[name], step, basis="fixed")


@pytest.mark.parametrize("subsampled", [True, False])
def test_a_choice_priced_from_its_coded_planes_costs_what_its_decoded_bytes_cost(subsampled):
    encoder = pc.Encoder(CROP)
    for step in [2.0, 11.0, 60.0]:
        coded = encoder.code_image(subsampled, step, {})
        np.testing.assert_array_equal(coded.decoded(), pc.decode(coded.data))
        assert coded.cost(encoder.pixels, step) == pc.lagrangian_cost(
            encoder.pixels, coded.data, step
        )


@pytest.mark.parametrize("name", sorted(IMAGES))
@pytest.mark.parametrize(
    "options", [{}, {"subsample_chroma": True}, {"basis": "fixed"}, {"workers": 2}]
)
def test_the_image_an_encoder_keeps_for_a_step_is_the_decoding_of_its_bytes(name, options):
    encoder = pc.Encoder(IMAGES[name], **options)
    for step in [11.0, 60.0, 11.0]:  # one step twice: kept, not made again
        decoded = encoder.decoded(step)
        np.testing.assert_array_equal(decoded, pc.decode(encoder.encode(step)))
        assert decoded.dtype == np.uint8
        assert not decoded.flags.writeable
    assert encoder.decoded(11.0) is encoder.decoded(11.0)


def test_images_past_the_encoders_budget_are_decoded_again_and_equal(monkeypatch):
    monkeypatch.setattr(pc, "KEPT_IMAGES_BYTES", CROP.nbytes)  # room for one image
    encoder = pc.Encoder(CROP)
    kept = encoder.decoded(11.0)
    assert encoder.decoded(11.0) is kept  # the first step's image is kept...
    for step in [60.0, 60.0, 2.0]:  # ... the others are decoded on each call
        decoded = encoder.decoded(step)
        np.testing.assert_array_equal(decoded, pc.decode(encoder.encode(step)))
        assert encoder.decoded(step) is not decoded


def test_lzma_with_its_dictionary_cut_to_the_input_writes_preset_9s_bytes():
    rng = np.random.default_rng(5)
    streams = [  # sparse coefficients, runs, wide values, tiny inputs, one past a power of 2
        np.round(rng.laplace(scale=[40, 6, 2, 0.5], size=(5000, 4))).astype(np.int64).ravel(),
        np.repeat(rng.integers(-3, 4, 300), rng.integers(1, 400, 300)),
        rng.integers(-40000, 40000, 30000),
        np.array([0, 1, -1, 2]),
        rng.integers(0, 3, 4097),
    ]
    for q in streams:
        width = entropy_coding.symbol_bytes(q)
        assert entropy_coding.pack_ints(q, width) == slow_pack_ints(q, width)


@pytest.mark.parametrize("dtype", [np.int64, np.uint8, np.float64])
def test_symbol_counts_are_the_counts_of_np_unique(dtype):
    rng = np.random.default_rng(2)
    for symbols in [rng.integers(-5, 9, 500), np.array([7, 7, 7]), rng.integers(0, 10**9, 50)]:
        symbols = (np.abs(symbols) % 256 if dtype is np.uint8 else symbols).astype(dtype)
        expected = np.unique(symbols, return_counts=True)[1]
        np.testing.assert_array_equal(quantizer.symbol_counts(symbols), expected)


def test_activity_order_is_the_stable_argsort_of_the_activity():
    rng = np.random.default_rng(4)
    for high in (3, 60000, 10**7):  # uint16 (radix sort) up to 65535, int64 beyond
        activity = rng.integers(0, high, 3000)
        expected = np.argsort(activity.astype(np.int64), kind="stable")
        np.testing.assert_array_equal(entropy_coding.activity_order(activity), expected)


def test_coefficient_stream_equals_activity_summed_anew_per_component():
    rng = np.random.default_rng(3)
    Q = np.round(rng.laplace(scale=[30, 9, 9, 4, 2, 1, 0.4], size=(8 * 5, 7))).astype(np.int64)
    np.testing.assert_array_equal(
        entropy_coding.coefficient_stream(Q, (8, 5)), slow_stream(Q, (8, 5))
    )


# -- the rate search -----------------------------------------------------------------------


@pytest.mark.parametrize("target_bpp", [0.5, 2.0])
def test_rate_search_finds_the_step_of_a_search_over_fresh_encodes(target_bpp):
    assert rd.step_for_bpp(CROP, target_bpp) == slow_search_steps(CROP, [target_bpp])[0]


def test_one_encoder_shared_by_searches_finds_the_steps_of_searches_over_fresh_encodes():
    targets = [2.0, 0.5, 1.0]  # the pipeline's order: the chosen rate, then the curve
    assert rd.search_steps(pc.Encoder(CROP), targets) == slow_search_steps(CROP, targets)


def test_bases_searched_side_by_side_in_threads_find_the_points_of_fresh_encodes():
    targets = [1.0, 0.5, 3.0]
    found = rd.search_bases(pc.Encoder(CROP, workers=2), targets, workers=2)
    points = [(chosen.basis, step, chosen.encode(step)) for chosen, step in found]
    assert points == slow_best_bases(CROP, targets)


# -- the truncated SVD ---------------------------------------------------------------------


def test_rank_k_image_equals_a_rank_k_approximation_of_each_channel():
    for k in (1, 5, 30):
        slow = np.stack([low_rank.rank_k_approximation(c, k) for c in CROP.transpose(2, 0, 1)], -1)
        expected = np.clip(np.rint(slow), 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(low_rank.rank_k_image(CROP, k), expected)


def test_rank_k_images_from_a_given_svd_equal_those_from_their_own():
    ranks = [1, 8, 40]
    given = low_rank.rank_k_images(CROP, ranks, low_rank.channel_svd(CROP))
    for k, image in low_rank.rank_k_images(CROP, ranks).items():
        np.testing.assert_array_equal(given[k], image)


def test_the_encoders_luma_transform_is_the_pca_of_the_luma_blocks():
    for image in IMAGES.values():  # the pipeline's linear maps read it from the encoder
        luma = pc.Encoder(image).transforms(subsampled=False)[0]
        X = pipeline.luma_blocks(image, 8)
        mean, V, sigma = learn_basis(X)
        for fast, slow in [(luma.X, X), (luma.mu, mean), (luma.V, V), (luma.sigma, sigma)]:
            np.testing.assert_array_equal(fast, slow)
        np.testing.assert_array_equal(luma.V.reshape(-1, 8, 8), pc.learned_basis(image))


def test_rank_k_images_from_one_svd_equal_a_full_svd_per_rank():
    ranks = [30, 1, 5, 64]
    images = low_rank.rank_k_images(CROP, ranks)
    assert list(images) == sorted(ranks)
    for k in ranks:
        np.testing.assert_array_equal(images[k], low_rank.rank_k_image(CROP, k))


# -- JPEG ----------------------------------------------------------------------------------


def slow_jpeg_curve(image, qualities):
    """Every quality encoded and decoded anew (``jpeg_point``)."""
    rows = [(q, *rd.jpeg_point(image, q)) for q in qualities]
    return [(q, n, rd.bits_per_pixel(n, *np.shape(image)[:2]), db) for q, n, db in rows]


def slow_jpeg_psnr_at_bytes(image, n_bytes, qualities=rd.DENSE_QUALITIES):
    """The whole curve, every file decoded, sorted by size and interpolated in log(bytes)."""
    import pandas as pd

    curve = pd.DataFrame(slow_jpeg_curve(image, qualities), columns=["q", "bytes", "bpp", "db"])
    curve = curve.sort_values("bytes")
    log_bytes, db = np.log(curve["bytes"].to_numpy()), curve["db"].to_numpy()
    return float(np.interp(np.log(n_bytes), log_bytes, db, left=np.nan, right=np.nan))


def test_jpeg_read_off_one_ladder_equals_every_file_written_and_decoded_anew():
    ladder = rd.JpegLadder(CROP)
    sizes = sorted({len(rd.jpeg_bytes(CROP, q)) for q in rd.DENSE_QUALITIES})
    questions = [sizes[0] - 1, sizes[0], sizes[3], (sizes[10] + sizes[11]) / 2, 2900, sizes[-1]]
    for n_bytes in [*questions, sizes[-1] + 1]:  # below, at nodes, between, at and past the top
        fast, slow = (
            rd.jpeg_psnr_at_bytes(CROP, n_bytes, ladder=ladder),
            slow_jpeg_psnr_at_bytes(CROP, n_bytes),
        )
        assert fast == slow or (math.isnan(fast) and math.isnan(slow)), n_bytes
        near = rd.jpeg_bytes_near(CROP, n_bytes, ladder)
        slow_near = min(
            rd.DENSE_QUALITIES, key=lambda q: abs(len(rd.jpeg_bytes(CROP, q)) - n_bytes)
        )
        assert (near.quality, near.data) == (slow_near, rd.jpeg_bytes(CROP, slow_near))
    curve = rd.jpeg_curve(CROP, [20, 50, 80], ladder)
    assert list(curve.itertuples(index=False, name=None)) == slow_jpeg_curve(CROP, [20, 50, 80])
    assert ladder.psnr(50) == rd.jpeg_point(CROP, 50)[1]


def test_jpeg_psnr_at_bytes_reads_the_tied_sizes_as_the_whole_curve_does():
    qualities = [10, 10, 30, 30, 30, 60]  # every size twice or more: ties on both sides
    sizes = sorted({len(rd.jpeg_bytes(CROP, q)) for q in qualities})
    for n_bytes in [sizes[0], (sizes[0] + sizes[1]) / 2, sizes[1], sizes[2]]:
        fast = rd.jpeg_psnr_at_bytes(CROP, n_bytes, qualities)
        assert fast == slow_jpeg_psnr_at_bytes(CROP, n_bytes, qualities)


# -- the pipeline --------------------------------------------------------------------------

SMALL = [  # tests/week1/test_pipeline.py's quick settings
    "low_rank.ranks=[2,8]",
    "low_rank.rank=8",
    "patch_codec.curve_bpp=[2.0]",
    "jpeg.qualities=[20,50,80]",
    "pca.n_components=5",
]
TIMINGS = ("_seconds", "_speedup")  # wall-clock measurements: never equal twice


@pytest.fixture(scope="module")
def crop_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("images") / "crop.png"
    Image.fromarray(load_sample_image("china.jpg")[150:246, 250:378]).save(path)
    return path


@pytest.fixture(scope="module")
def petals_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("images") / "petals.png"
    Image.fromarray(load_sample_image("flower.jpg")[100:164, 200:296]).save(path)
    return path


def logged_metrics(image_files, tracking_uri, runs_of, *overrides):
    """The metrics (timings aside) and the run of the pipeline on the files, in a list or one."""
    files = ",".join(map(str, np.atleast_1d(image_files)))
    cfg = compose_config(
        "week1", f"images=[{files}]", *SMALL, *overrides, f"tracking.uri={tracking_uri}"
    )
    run_tracked(cfg, "week1", pipeline.run)
    run = runs_of("week1")[0]
    assert run.info.status == "FINISHED"
    return {k: v for k, v in run.data.metrics.items() if not k.endswith(TIMINGS)}, run


def test_the_pipelines_metrics_are_the_slow_routes_and_equal_without_figures(
    crop_file, tracking_uri, runs_of
):
    with_figures, run = logged_metrics(crop_file, tracking_uri, runs_of)
    without, bare = logged_metrics(crop_file, tracking_uri, runs_of, "figures=false")
    assert with_figures == without  # every metric, exactly (timings aside)
    drawn = [a.path for a in runs_of.client.list_artifacts(run.info.run_id, "figures")]
    assert "figures/crop" in drawn  # the figures were there to skip
    assert runs_of.client.list_artifacts(bare.info.run_id, "figures") == []
    image = np.asarray(Image.open(crop_file))
    _, _, data = slow_best_bases(image, [1.0])[0]  # patch_codec.target_bpp
    point = rd.point("patch_pca", "", len(data), image, pc.decode(data))
    rank_8 = np.stack([low_rank.rank_k_approximation(c, 8) for c in image.transpose(2, 0, 1)], -1)
    svd_bytes = low_rank.rank_k_storage_bytes(96, 128, 8, 3)
    svd = rd.point("svd", "", svd_bytes, image, np.clip(np.rint(rank_8), 0, 255).astype(np.uint8))
    jpeg_db = slow_jpeg_psnr_at_bytes(image, len(data))
    expected = {
        "psnr_db": point["psnr_db"],
        "bpp": point["bpp"],
        "compression_ratio": point["compression_ratio"],
        "jpeg_psnr_db": jpeg_db,
        "codec_vs_jpeg_db": point["psnr_db"] - jpeg_db,
        "svd_psnr_db": svd["psnr_db"],
        "svd_bpp": svd["bpp"],
        "svd_compression_ratio": svd["compression_ratio"],
    }
    for key, value in expected.items():
        assert with_figures[f"crop.{key}"] == value, key
        assert with_figures[key] == value, key  # the mean over one image


# four further whole runs; the searches in threads alone: the test of the bases above
@pytest.mark.slow
def test_images_searched_beside_each_other_log_what_each_logs_alone(
    crop_file, petals_file, tracking_uri, runs_of, monkeypatch
):
    both, _ = logged_metrics([crop_file, petals_file], tracking_uri, runs_of, "figures=false")
    monkeypatch.setenv("MATH4ML_THREADS", "1")  # no background thread: one step after another
    one, run = logged_metrics([crop_file, petals_file], tracking_uri, runs_of, "figures=false")
    assert run.data.tags["threads"] == "1"
    assert one == both
    alone = {}
    for name, path in [("crop", crop_file), ("petals", petals_file)]:
        metrics, _ = logged_metrics(path, tracking_uri, runs_of, "figures=false")
        alone |= {k: v for k, v in metrics.items() if k.startswith(f"{name}.")}
    assert {k: v for k, v in both.items() if k.startswith(("crop.", "petals."))} == alone
    for key in ("psnr_db", "bpp", "codec_vs_jpeg_db"):  # the headline: the mean of the two
        assert both[key] == pytest.approx((alone[f"crop.{key}"] + alone[f"petals.{key}"]) / 2)


def test_the_executor_without_threads_runs_each_call_at_once_in_the_callers_thread():
    calls = []
    with InCaller() as background:
        future = background.submit(lambda x: calls.append(threading.get_ident()) or x + 1, 41)
        assert calls == [threading.get_ident()]  # already run, here
        assert future.done()
        assert future.result() == 42
