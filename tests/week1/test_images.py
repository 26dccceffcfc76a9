"""Any image path becomes an H x W x C uint8 tensor, and every bad input gets one clear error."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from common.paths import REPO_ROOT
from projects.week1_pca.images import available_memory, load_image, shrink_factor

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, size=(40, 60, 3), dtype=np.uint8)


def save(tmp_path, name, image: Image.Image, **kwargs):
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


def test_sklearn_samples_are_rgb_tensors():
    china = load_image("china.jpg")
    assert china.pixels.shape == (427, 640, 3)
    assert china.pixels.dtype == np.uint8
    assert china.name == "china"


def test_rgb_png_round_trips_exactly(tmp_path):
    path = save(tmp_path, "rgb.png", Image.fromarray(RGB))
    np.testing.assert_array_equal(load_image(str(path)).pixels, RGB)


def test_grayscale_has_one_channel(tmp_path):
    gray = RGB[:, :, 0]
    path = save(tmp_path, "gray.png", Image.fromarray(gray))
    pixels = load_image(str(path)).pixels
    assert pixels.shape == (40, 60, 1)
    np.testing.assert_array_equal(pixels[:, :, 0], gray)


def test_rgba_is_composited_over_white(tmp_path):
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., :3] = 10
    rgba[:2, :, 3] = 255  # top half opaque, bottom half transparent
    pixels = load_image(str(save(tmp_path, "a.png", Image.fromarray(rgba, "RGBA")))).pixels
    assert pixels.shape == (4, 4, 3)
    assert (pixels[:2] == 10).all()
    assert (pixels[2:] == 255).all()


def test_palette_png_is_expanded_to_rgb(tmp_path):
    palette = Image.fromarray(RGB).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pixels = load_image(str(save(tmp_path, "p.png", palette))).pixels
    np.testing.assert_array_equal(pixels, np.asarray(palette.convert("RGB")))


def test_jpeg_loads(tmp_path):
    path = save(tmp_path, "photo.jpg", Image.fromarray(RGB), quality=90)
    assert load_image(str(path)).pixels.shape == (40, 60, 3)


def test_missing_path_names_the_path():
    with pytest.raises(FileNotFoundError, match=r"image not found: .*nowhere\.png"):
        load_image("/nowhere.png")


def test_text_file_is_not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("hello")
    with pytest.raises(ValueError, match="not an image"):
        load_image(str(path))


def test_empty_file_is_not_an_image(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="not an image"):
        load_image(str(path))


def test_truncated_jpeg_is_reported(tmp_path):
    path = save(tmp_path, "full.jpg", Image.fromarray(RGB), quality=90)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ValueError, match="cannot decode image"):
        load_image(str(truncated))


@pytest.mark.parametrize(("size", "cap"), [((2000, 1500), 100_000), ((640, 427), 273_280 - 1)])
def test_large_images_are_shrunk_below_the_cap(tmp_path, size, cap):
    path = save(tmp_path, "big.jpg", Image.new("RGB", size, (120, 30, 200)), quality=80)
    pixels = load_image(str(path), max_pixels=cap).pixels
    assert pixels.shape[0] * pixels.shape[1] <= cap
    assert pixels.shape[0] * pixels.shape[1] >= cap / 4  # shrunk, not destroyed


def test_shrink_factor_is_the_smallest_that_fits():
    assert shrink_factor(100, 100, 10_000) == 1
    assert shrink_factor(100, 100, 9_999) == 2
    assert shrink_factor(8000, 8000, 4_000_000) == 4


PEAK_MEMORY = """
import resource, sys
from projects.week1_pca.images import load_image
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
image = load_image(sys.argv[1])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(image.pixels.shape[0] * image.pixels.shape[1], (after - before) // 1024)
"""


@pytest.mark.slow
def test_an_8000_by_8000_jpeg_loads_in_bounded_memory(tmp_path):
    """Decoding at reduced scale: the peak grows by far less than the 192 MB full image."""
    huge = tmp_path / "huge.jpg"
    Image.new("RGB", (8000, 8000), (10, 200, 30)).save(huge, quality=90)  # in this process
    result = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY, str(huge)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    pixels, growth_mb = map(int, result.stdout.split())
    assert pixels <= 4_000_000
    assert growth_mb < 100, f"loading grew the peak RSS by {growth_mb} MB"


def test_directory_says_it_is_a_directory(tmp_path):
    with pytest.raises(IsADirectoryError, match=rf"image is a directory, not a file: {tmp_path}"):
        load_image(str(tmp_path))


def test_animated_gif_warns_with_its_frame_count_and_keeps_the_first(tmp_path, caplog):
    frames = [Image.fromarray(np.full((8, 8), 40 * i, dtype=np.uint8)) for i in range(3)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    pixels = load_image(str(path)).pixels
    assert pixels.shape[:2] == (8, 8)
    assert (pixels == 0).all()  # frame 0, not frames 1 (40) or 2 (80)
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning.startswith("anim.gif has 3 frames: only the first is compressed")


def test_still_gif_loads_without_a_warning(tmp_path, caplog):
    path = save(tmp_path, "still.gif", Image.fromarray(RGB[:, :, 0]))
    assert load_image(str(path)).pixels.shape[:2] == (40, 60)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def write_flat_png(path, width, height, value, rows_per_block=64):
    """An 8-bit gray PNG of one value at any size, cheaply: the deflate output of a block of
    rows, ended by a full flush, is the same bytes every time, so it is written once and
    repeated (the zlib stream's Adler-32 is still computed over every row)."""
    raw = (b"\x00" + bytes([value]) * width) * rows_per_block  # filter byte 0, then the row
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: header and checksum below
    block = deflate.compress(raw) + deflate.flush(zlib.Z_FULL_FLUSH)
    blocks, rest = divmod(height, rows_per_block)
    tail = raw[: (width + 1) * rest]
    end = deflate.compress(tail) + deflate.flush()
    checksum = 1
    for _ in range(blocks):
        checksum = zlib.adler32(raw, checksum)
    checksum = zlib.adler32(tail, checksum)
    stream = b"\x78\xda" + block * blocks + end + struct.pack(">I", checksum)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", stream)
        + png_chunk(b"IEND", b"")
    )


def test_flat_png_writer_writes_the_image_pillow_reads(tmp_path):
    path = tmp_path / "flat.png"
    write_flat_png(path, 30, 70, 77, rows_per_block=16)  # 4 blocks and a tail of 6 rows
    np.testing.assert_array_equal(np.asarray(Image.open(path)), np.full((70, 30), 77))


def test_image_above_pillows_bomb_limit_is_shrunk_to_max_pixels(tmp_path):
    """14000 x 13000 = 182 MP, above Pillow's 179 MP DecompressionBombError: a file the
    user names is trusted, decoded (182 MB) and shrunk below max_pixels."""
    path = tmp_path / "huge.png"
    write_flat_png(path, 14000, 13000, 128)
    assert 2 * Image.MAX_IMAGE_PIXELS < 14000 * 13000  # Pillow alone refuses it
    image = load_image(str(path), max_pixels=4_000_000)
    height, width, _ = image.pixels.shape
    assert 1_000_000 <= height * width <= 4_000_000
    assert image.original_size == (14000, 13000)
    assert (image.pixels == 128).all()
    assert Image.MAX_IMAGE_PIXELS is not None  # the limit is back for everything else


def test_image_too_big_for_memory_is_refused_before_decoding(tmp_path):
    """A 200000 x 200000 RGBA header: 4 bytes a pixel, 149 GiB decoded. Only the header is read."""
    path = tmp_path / "vast.png"
    header = struct.pack(">IIBBBBB", 200_000, 200_000, 8, 6, 0, 0, 0)  # 8-bit RGBA
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IEND", b""))
    if available_memory() is None:
        pytest.skip("this system does not report its available memory")
    with pytest.raises(
        MemoryError,
        match=r"vast\.png \(200000 x 200000 pixels decoded\) needs 149\.0 GiB to decode, more than",
    ):
        load_image(str(path))


def test_available_memory_is_the_containers_headroom_when_that_is_smaller(tmp_path):
    """cgroup v2: memory.max - memory.current, when below the machine's MemAvailable."""
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       8000000 kB\nMemAvailable:   2000000 kB\n")
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    assert available_memory(meminfo, cgroup) == 2_048_000_000  # no cgroup files
    (cgroup / "memory.max").write_text("1073741824\n")
    (cgroup / "memory.current").write_text("73741824\n")
    assert available_memory(meminfo, cgroup) == 1_000_000_000
    (cgroup / "memory.max").write_text("max\n")  # a cgroup without a limit
    assert available_memory(meminfo, cgroup) == 2_048_000_000
    assert available_memory(tmp_path / "absent", tmp_path / "absent") is None


def test_a_16_bit_gray_png_is_scaled_to_8_bits_not_clipped(tmp_path, caplog):
    """Pillow's convert("L") clips a 16-bit image at 255: this one would become all 255."""
    levels = np.linspace(1000, 65535, 40 * 50).reshape(40, 50).astype(np.uint16)
    Image.fromarray(levels).save(tmp_path / "g16.png")
    with Image.open(tmp_path / "g16.png") as opened:
        assert opened.mode.startswith("I")  # what Pillow makes of a 16-bit PNG
    pixels = load_image(str(tmp_path / "g16.png")).pixels
    expected = np.rint(levels.astype(np.float64) * 255 / 65535).astype(np.uint8)
    np.testing.assert_array_equal(pixels[:, :, 0], expected)  # the image the user gave
    assert np.unique(pixels).size > 200
    assert "16-bit gray image: values scaled to 8 bits (x * 255 / 65535)" in caplog.text


def test_a_32_bit_image_of_8_bit_values_and_a_float_image_in_0_1_keep_their_values(tmp_path):
    small = np.arange(0, 256, dtype=np.int32).reshape(16, 16)
    Image.fromarray(small, mode="I").save(tmp_path / "i32.tif")
    np.testing.assert_array_equal(load_image(str(tmp_path / "i32.tif")).pixels[:, :, 0], small)
    unit = np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16)
    Image.fromarray(unit, mode="F").save(tmp_path / "f.tif")
    scaled = np.rint(unit.astype(np.float64) * 255).astype(np.uint8)
    np.testing.assert_array_equal(load_image(str(tmp_path / "f.tif")).pixels[:, :, 0], scaled)


def test_a_one_pixel_image_is_refused_in_one_line_and_two_pixels_load(tmp_path):
    Image.fromarray(np.array([[[200, 30, 90]]], dtype=np.uint8)).save(tmp_path / "one.png")
    with pytest.raises(ValueError, match=r"^image is 1 x 1 pixel: its colour statistics need at "
                       r"least 2 pixels; pass a larger image: .*one\.png$"):  # fmt: skip
        load_image(str(tmp_path / "one.png"))
    Image.fromarray(np.zeros((1, 2, 3), dtype=np.uint8)).save(tmp_path / "two.png")
    assert load_image(str(tmp_path / "two.png")).pixels.shape == (1, 2, 3)
