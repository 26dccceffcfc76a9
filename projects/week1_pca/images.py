"""Images in, tensors out (W1.1): any image file becomes an H x W x C uint8 array.

A source is either the name of an image scikit-learn ships (``china.jpg``,
``flower.jpg``) or a path to any file Pillow reads: RGB, grayscale, RGBA and
palette PNGs, JPEGs. Alpha is composited onto white and palettes are expanded,
so every image arrives with C = 1 (grayscale) or C = 3 (RGB).

Images above ``max_pixels`` are shrunk while decoding (JPEG draft mode, then
``Image.reduce``), so an 8000 x 8000 photograph never has to sit in memory at
full size as floats.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

log = logging.getLogger(__name__)

SKLEARN_SAMPLES = ("china.jpg", "flower.jpg")


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
    """Palette and alpha images to RGB (alpha over white); 16-bit and 1-bit to 8-bit gray."""
    if img.mode in ("L", "RGB"):
        return img
    if img.mode in ("1", "I", "I;16", "F"):
        return img.convert("L")
    if img.mode in ("LA", "PA", "P"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, img).convert("RGB")
    return img.convert("RGB")  # CMYK, YCbCr, ...


def shrink_factor(width: int, height: int, max_pixels: int) -> int:
    """Smallest integer factor f with (W / f) * (H / f) <= max_pixels."""
    factor = 1
    while (width // factor) * (height // factor) > max_pixels:
        factor += 1
    return factor


def load_image(source: str, max_pixels: int = 4_000_000) -> LoadedImage:
    """Decode ``source`` into a uint8 tensor, with one clear error for each bad input."""
    path = sample_image_path(source) if source in SKLEARN_SAMPLES else Path(source).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"image not found: {path}; pass an existing file, e.g. images='[/path/to/photo.png]'"
            f" or one of {', '.join(SKLEARN_SAMPLES)}"
        )
    try:
        with Image.open(path) as img:
            width, height = img.size
            if width == 0 or height == 0:
                raise ValueError(f"image is empty ({width} x {height} pixels): {path}")
            factor = shrink_factor(width, height, max_pixels)
            if factor > 1:
                img.draft(img.mode, (width // factor, height // factor))  # JPEG: decode small
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
