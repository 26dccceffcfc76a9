"""Colour: the opponent transform y = M x and 4:2:0 chroma, the codec's first step.

M is orthonormal (luma (R + G + B) / sqrt(3) and two orthogonal colour differences), so
squared error is the same in RGB and in y. The chroma planes may be box-averaged 2x in each
direction (4:2:0, as in JPEG; Wallace 1991) and are brought back by bilinear upsampling.
"""

from __future__ import annotations

import numpy as np

# Opponent colour transform y = M x: luma (R + G + B) / sqrt(3) and two orthogonal colour
# differences. Orthonormal rows (M M^T = I), so squared error is the same in RGB and in y.
COLOUR = np.array([[1, 1, 1], [1, 0, -1], [1, -2, 1]]) / np.sqrt([[3], [2], [6]])
UPSAMPLE_GAIN = (2 * 0.75**2 + 2 * 0.25**2) ** 2  # g = 1.5625, see ``chroma_step``


def rgb_to_opponent(image):
    """y = M x per pixel, M the orthonormal opponent transform; (H, W, 3) -> (H, W, 3)."""
    return image @ COLOUR.T


def opponent_to_rgb(planes):
    """x = M^T y per pixel (M^-1 = M^T); (H, W, 3) -> (H, W, 3)."""
    return planes @ COLOUR


def downsample2(plane):
    """p_ij = mean of the 2 x 2 pixels (2i..2i+1, 2j..2j+1); odd edges replicated."""
    height, width = plane.shape
    plane = np.pad(plane, ((0, height % 2), (0, width % 2)), mode="edge")
    return plane.reshape(plane.shape[0] // 2, 2, plane.shape[1] // 2, 2).mean(axis=(1, 3))


def upsample2(plane, shape):
    """Bilinear 2x: each output pixel is 3/4 its own sample + 1/4 the next one out, per axis."""

    def along_axis0(a):
        a = np.concatenate([a[:1], a, a[-1:]])  # replicate the edges
        out = np.empty((2 * (len(a) - 2), *a.shape[1:]))
        out[0::2] = 0.75 * a[1:-1] + 0.25 * a[:-2]  # pixel 2i lies 1/4 sample before i
        out[1::2] = 0.75 * a[1:-1] + 0.25 * a[2:]  # pixel 2i+1 lies 1/4 sample after i
        return out

    up = along_axis0(along_axis0(plane).T).T
    return up[: shape[0], : shape[1]]


def chroma_step(step, subsampled):
    """Delta_c = Delta / sqrt(g), g = (2 (3/4)^2 + 2 (1/4)^2)^2 = 1.5625 if subsampled, else 1.

    One chroma sample reaches 4 x 4 pixels through ``upsample2`` with weights 1/4, 3/4,
    3/4, 1/4 per axis, so its error counts g times in pixels; equal distortion per bit in
    every plane (the high-rate optimum) then needs the finer step Delta / 1.25.
    """
    return step / np.sqrt(UPSAMPLE_GAIN) if subsampled else step


def plane_shapes(height, width, channels, subsampled):
    """(H, W) of each plane: luma at full size, chroma at ceil(H/2) x ceil(W/2) if subsampled."""
    chroma = (-(-height // 2), -(-width // 2)) if subsampled else (height, width)
    return [(height, width)] + [chroma] * (channels - 1)


def image_planes(pixels, subsample_chroma):
    """The planes to code: the gray plane, or luma and (subsampled) chroma of an RGB image."""
    if pixels.shape[2] == 1:
        return [pixels[:, :, 0]]
    y = rgb_to_opponent(pixels)
    chroma = [downsample2(y[:, :, c]) if subsample_chroma else y[:, :, c] for c in (1, 2)]
    return [y[:, :, 0], *chroma]


def planes_to_image(planes, height, width):
    """The inverse of ``image_planes``: upsample chroma, back to RGB, (H, W, C) float."""
    if len(planes) == 1:
        return planes[0][:, :, np.newaxis]
    full = [p if p.shape == (height, width) else upsample2(p, (height, width)) for p in planes]
    return opponent_to_rgb(np.stack(full, axis=-1))
