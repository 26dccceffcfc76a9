"""Any image path becomes an H x W x C uint8 tensor, and every bad input gets one clear error."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from common.paths import REPO_ROOT
from projects.week1_pca.images import load_image, shrink_factor

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
