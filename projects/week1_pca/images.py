"""Images in, tensors out (W1.1): any image file becomes an H x W x C uint8 array.

A source is either the name of an image scikit-learn ships (``china.jpg``,
``flower.jpg``) or a path to any file Pillow reads: RGB, grayscale, RGBA and
palette PNGs, JPEGs. Alpha is composited onto white and palettes are expanded,
so every image arrives with C = 1 (grayscale) or C = 3 (RGB).

Images above ``max_pixels`` are shrunk while decoding (JPEG draft mode, then
``Image.reduce``), so an 8000 x 8000 photograph never has to sit in memory at
full size as floats. A file the user names is trusted: Pillow's decompression-bomb
limit (about 179 megapixels) does not apply, but an image whose decoded pixels would
not fit in the memory available is refused before decoding, in one line. An animated
image keeps its first frame, with a warning.
"""

from __future__ import annotations

import logging
import math
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

log = logging.getLogger(__name__)

SKLEARN_SAMPLES = ("china.jpg", "flower.jpg")
MIN_PIXELS = 2  # one pixel has no colour covariance (W1.6, W1.7)
ONE_BYTE_MODES = ("1", "L", "P")  # Pillow holds these in 1 byte a pixel, I;16 in 2, others in 4


@dataclass(frozen=True)
class LoadedImage:
    name: str  # file stem: names metrics and artifacts
    source: str  # the absolute path it came from
    pixels: np.ndarray  # uint8, shape (H, W, C) with C in {1, 3}
    original_size: tuple[int, int]  # (width, height) before any shrinking


def sample_image_path(name: str) -> Path:
    """Path of an image scikit-learn ships with its datasets."""
    import sklearn.datasets

    return Path(sklearn.datasets.__file__).parent / "images" / name


def to_rgb_or_gray(img: Image.Image) -> Image.Image:
    """Palette and alpha images to RGB (alpha over white); 1-bit to 8-bit gray; 16-bit,
    32-bit and float gray scaled to 8 bits (``to_8_bit``)."""
    if img.mode in ("L", "RGB"):
        return img
    if img.mode == "1":
        return img.convert("L")
    if img.mode.startswith(("I", "F")):
        return to_8_bit(img)
    if img.mode in ("LA", "PA", "P"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, img).convert("RGB")
    return img.convert("RGB")  # CMYK, YCbCr, ...


def to_8_bit(img: Image.Image) -> Image.Image:
    """Gray of more than 8 bits as 8-bit gray, round(x * 255 / full scale): the full scale is
    65,535 for 16-bit modes (and 32-bit ones holding values above 255), 1.0 for a float image
    within [0, 1]. Pillow's own ``convert("L")`` clips at 255 instead: a 16-bit image would
    become nearly flat, and the codec would report a meaningless success on it."""
    values = np.asarray(img, dtype=np.float64)
    top = float(values.max(initial=0.0))
    if img.mode.startswith("I;16") or (img.mode.startswith("I") and top > 255):
        full = 65535.0
    elif img.mode == "F" and top <= 1.0:
        full = 1.0
    else:
        full = 255.0
    if full != 255.0:
        log.warning("%d-bit gray image: values scaled to 8 bits (x * 255 / %g)",
                    16 if full == 65535.0 else 32, full)  # fmt: skip
    scaled = np.clip(np.rint(values * (255.0 / full)), 0, 255).astype(np.uint8)
    return Image.fromarray(scaled)  # uint8, 2-D: mode L


def shrink_factor(width: int, height: int, max_pixels: int) -> int:
    """Smallest integer factor f with (W / f) * (H / f) <= max_pixels."""
    factor = 1
    while (width // factor) * (height // factor) > max_pixels:
        factor += 1
    return factor


def decoded_bytes(mode: str, size: tuple[int, int]) -> int:
    """Bytes Pillow holds for an image of ``mode`` and ``size`` once decoded: W H b."""
    width, height = size
    per_pixel = 1 if mode in ONE_BYTE_MODES else 2 if mode.startswith("I;16") else 4
    return width * height * per_pixel


def available_memory(
    meminfo: Path = Path("/proc/meminfo"), cgroup: Path = Path("/sys/fs/cgroup")
) -> int | None:
    """Bytes a new allocation can get: Linux's ``MemAvailable``, or less when the process's
    cgroup (v2: a container's limit) has less left; None where neither is known."""
    known = []
    try:
        lines = meminfo.read_text().splitlines()
        known += [int(line.split()[1]) * 1024 for line in lines if "MemAvailable:" in line]
    except OSError:
        pass
    try:
        limit = (cgroup / "memory.max").read_text().strip()
        if limit != "max":
            known.append(int(limit) - int((cgroup / "memory.current").read_text()))
    except (OSError, ValueError):
        pass
    return min(known, default=None)


@contextmanager
def trusted_size():
    """Open a file the user named without Pillow's decompression-bomb limit (~179 MP)."""
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def check_fits_in_memory(img: Image.Image, path: Path, max_pixels: int) -> None:
    """Raise MemoryError, before decoding, when the pixels to decode exceed the free memory.

    ``img`` is opened, after any JPEG draft: its size is what the decoder will produce (other
    formats decode at full size, then ``reduce`` shrinks them to ``max_pixels``).
    """
    need, free = decoded_bytes(img.mode, img.size), available_memory()
    if free is not None and need > free:
        raise MemoryError(
            f"{path.name} ({img.size[0]} x {img.size[1]} pixels decoded) needs "
            f"{need / 2**30:.1f} GiB to decode, more than the {free / 2**30:.1f} GiB of memory "
            f"available; shrink the file below max_pixels={max_pixels} first, e.g. with "
            f"ImageMagick: convert '{path}' -resize {max_pixels}@ smaller.png"
        )


def image_file(source: str) -> Path:
    """The file ``source`` names: one of scikit-learn's samples or a path; a directory or a
    missing file is one error naming the fix."""
    path = sample_image_path(source) if source in SKLEARN_SAMPLES else Path(source).expanduser()
    if path.is_dir():
        raise IsADirectoryError(
            f"image is a directory, not a file: {path}; pass the image files in it, "
            f"e.g. images='[\"{path / 'photo.png'}\"]'"
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"image not found: {path}; pass an existing file, "
            f"e.g. images='[\"/path/to/photo.png\"]' or one of {', '.join(SKLEARN_SAMPLES)}"
        )
    return path


def load_image(source: str, max_pixels: int = 4_000_000) -> LoadedImage:
    """Decode ``source`` into a uint8 tensor, with one clear error for each bad input."""
    path = image_file(source)
    try:
        with trusted_size(), Image.open(path) as img:
            width, height = img.size
            if width == 0 or height == 0:
                raise ValueError(f"image is empty ({width} x {height} pixels): {path}")
            if width * height < MIN_PIXELS:  # a covariance of one pixel is 0 / 0
                raise ValueError(
                    f"image is {width} x {height} pixel: its colour statistics need at least "
                    f"{MIN_PIXELS} pixels; pass a larger image: {path}"
                )
            warn_if_animated(img, path)
            factor = shrink_factor(width, height, max_pixels)
            if factor > 1:
                img.draft(img.mode, (width // factor, height // factor))  # JPEG: decode small
            check_fits_in_memory(img, path, max_pixels)
            if factor > 1:
                img = img.reduce(math.ceil(img.size[0] / (width // factor)))
                log.warning(
                    "%s is %d x %d pixels, above max_pixels=%d: shrunk to %d x %d",
                    path.name,
                    width,
                    height,
                    max_pixels,
                    *img.size,
                )
            pixels = np.asarray(to_rgb_or_gray(img))
    except UnidentifiedImageError as error:
        raise ValueError(f"not an image Pillow can read: {path}") from error
    except OSError as error:  # truncated or corrupt data surfaces while decoding
        raise ValueError(f"cannot decode image {path}: {error}") from error
    if pixels.ndim == 2:
        pixels = pixels[:, :, np.newaxis]
    return LoadedImage(path.stem, str(path.resolve()), pixels, (width, height))


def warn_if_animated(img: Image.Image, path: Path) -> None:
    """One warning when the file holds several frames (GIF, APNG, TIFF pages): the first is used."""
    frames = getattr(img, "n_frames", 1)
    if frames > 1:
        log.warning(
            "%s has %d frames: only the first is compressed (save the frame you want as a PNG)",
            path.name,
            frames,
        )
