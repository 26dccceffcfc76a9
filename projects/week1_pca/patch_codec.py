"""Patch-PCA image codec: a block Karhunen-Loeve transform coder that writes real bytes.

The lesson, in ``codec/basis.py``. Cut an image plane into B x B blocks, the rows x_j of X
(n_blocks x B^2), and learn their principal axes from the image itself: X ~ 1 mu^T + Z V
with V (n x B^2) orthonormal. The Karhunen-Loeve transform z = V (x - mu) decorrelates the
block pixels and packs their energy into few coefficients; a uniform quantizer with step
Delta, q = round(z / Delta), then costs about H(q) bits per coefficient and adds about
Delta^2 / 12 squared error to each (Goyal 2001, sections II-III). An orthonormal V keeps the
error in pixels equal to the error in coefficients, so PSNR can be read off the quantizer.

This file is the front page: ``encode``, ``decode``, and the ``Encoder`` that runs the
stages and makes the one choice they leave open by the Lagrangian cost J = D + lambda R,
lambda = (ln 2 / 6) Delta^2. Each stage is one file of ``projects/week1_pca/codec/``;
encode(image, step) meets them in this order:
1. ``colour.py``: y = M x with M orthonormal (luma, two colour differences); the chroma
   planes are box-averaged 2x in each direction (4:2:0, as in JPEG; Wallace 1991) when that
   lowers J over keeping them whole (``Encoder``, here);
2. ``blocks.py``: each plane cut into B x B blocks, edges padded by replication;
3. ``basis.py``: ``PCA`` of the blocks gives mu, V and the standard deviations sigma_k; it
   does not depend on Delta, so ``Encoder`` learns it once per image and a rate search that
   tries many steps repeats only steps 4-7;
4. ``basis.py``: the basis is sent too, so it is quantized: row k on the grid
   2^-e_k ~ alpha Delta / sigma_k (fine where the component is large), then made orthonormal
   again by Gram-Schmidt; both sides use this same V_hat. Those rows cost B^2 entries each,
   shared by the n_blocks blocks: on a small image, with large blocks or at high rates they
   cost more than they save, so the codec also codes in a fixed basis, the 2-D DCT
   (``basis="fixed"``, no rows sent), and ``rate_distortion.search_bases`` keeps, at each
   target rate, whichever basis gives the higher PSNR;
5. ``planes.py`` with ``quantizer.py``: coefficients z = V_hat (x - mu_hat), quantized with a
   dead zone, q = sign(z) floor(|z|/Delta + r); trailing components whose D_k saved is below
   lambda R_k are dropped with their rows;
6. ``entropy_coding.py``, lossless: the first coefficient as a difference to the left block,
   every other component with its blocks sorted by the activity of the earlier ones, zigzag
   to unsigned, byte planes, LZMA;
7. ``byte_format.py``: the header (struct, with a CRC-32), plane headers, basis exponents,
   the payload.
decode(data) reads the header and runs the steps backwards (``planes.decode_plane``, then
``colour.planes_to_image``).

Sources:
- V. K. Goyal, "Theoretical foundations of transform coding", IEEE Signal Processing
  Magazine 18(5) (2001), 9-21: the KLT, uniform quantization, Delta^2 / 12.
- G. K. Wallace, "The JPEG still picture compression standard", Communications of the ACM
  34(4) (1991), 30-44: 8 x 8 blocks, 4:2:0 chroma, the first coefficient coded differentially.
- G. J. Sullivan, "Efficient scalar quantization of exponential and Laplacian random
  variables", IEEE Trans. Information Theory 42(5) (1996): the dead-zone quantizer.
- A. Ortega, K. Ramchandran, "Rate-distortion methods for image and video compression",
  IEEE Signal Processing Magazine 15(6) (1998): choices by minimum D + lambda R.
"""

from __future__ import annotations

import copy
import threading
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from common.threads import ContextThreadPool, finished
from common.validation import check_int, check_number
from projects.week1_pca.codec.basis import BASIS_PRECISION, learn_basis
from projects.week1_pca.codec.blocks import split_blocks, split_grid
from projects.week1_pca.codec.byte_format import check_block, read_header, to_bytes
from projects.week1_pca.codec.colour import (
    chroma_step,
    image_planes,
    plane_shapes,
    planes_to_image,
)
from projects.week1_pca.codec.entropy_coding import unpack_ints
from projects.week1_pca.codec.planes import (
    CodedPlane,
    PlaneTransform,
    decode_plane,
    encode_plane,
    learn_transform,
)
from projects.week1_pca.codec.quantizer import ROUNDING, rate_lambda

# The front page, and two names of codec/ the pipeline reads from here: ``split_blocks``
# (codec/blocks.py) and ``PlaneTransform`` (codec/planes.py).
__all__ = [
    "BASES",
    "MIN_STEP",
    "SUBSAMPLE",
    "CodedImage",
    "Encoder",
    "PlaneTransform",
    "check_image",
    "check_options",
    "check_step",
    "decode",
    "encode",
    "lagrangian",
    "lagrangian_cost",
    "learned_basis",
    "rebuild",
    "split_blocks",
]

MIN_STEP = 1e-6  # smaller steps are lossless on uint8 images long before this
SUBSAMPLE = ("auto", True, False)
BASES = ("learned", "fixed")  # the image's KLT, its rows sent; the DCT, known to both sides
KEPT_IMAGES_BYTES = 64 << 20  # an Encoder keeps decoded images up to this size in all


def check_step(step):
    """ValueError unless the quantizer step is a finite number >= ``MIN_STEP``."""
    check_number(step, "step", MIN_STEP)


def check_options(block, subsample_chroma, rounding, basis_precision, basis="learned"):
    """Raise ValueError naming the first bad option of ``encode`` and its value."""
    check_block(block)
    if basis not in BASES:
        raise ValueError(f"basis must be one of {BASES}, got {basis!r}")
    if subsample_chroma not in SUBSAMPLE:
        raise ValueError(f"subsample_chroma must be one of {SUBSAMPLE}, got {subsample_chroma!r}")
    check_number(rounding, "rounding", 0, 0.5, include_boundaries="right")
    check_number(basis_precision, "basis_precision", 0, include_boundaries="neither")


def check_image(image):
    """Return the image as float64 (H, W, C), C in {1, 3}; raise ValueError otherwise."""
    pixels = np.asarray(image)
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (1, 3)):
        raise ValueError(f"image must be H x W, H x W x 1 or H x W x 3, got shape {pixels.shape}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ValueError(f"image is empty, got shape {pixels.shape}")
    if not np.issubdtype(pixels.dtype, np.number) or not np.all(np.isfinite(pixels)):
        raise ValueError("image must hold finite numbers on the 0..255 scale")
    return np.atleast_3d(pixels.astype(np.float64))


def encode(
    image,
    step,
    block=8,
    *,
    subsample_chroma="auto",
    rounding=ROUNDING,
    basis_precision=BASIS_PRECISION,
    basis="learned",
):
    """Compress an image (H x W, H x W x 1 or H x W x 3, 0..255) into self-contained bytes.

    ``step`` is the quantizer step Delta on the luma (or gray) coefficients: larger means
    fewer bytes and lower PSNR; chroma uses ``colour.chroma_step``. The options are those of
    ``Encoder``, which codes one image at many steps and learns its transform once.
    """
    check_step(step)
    options = {"rounding": rounding, "basis_precision": basis_precision, "basis": basis}
    return Encoder(image, block, subsample_chroma=subsample_chroma, **options).encode(step)


class Encoder:
    """The codec for one image: each plane's KLT learned once, then coded at any step Delta.

    Each step's bytes are kept, and the image they decode to (``decoded``): a step asked for
    twice (rate searches for several targets start from the same bracket) is encoded once.
    ``subsample_chroma``: True (4:2:0), False (full-size chroma) or "auto", which encodes
    both ways and keeps the one with the lower ``lagrangian_cost``. ``rounding`` is the
    dead-zone offset r of ``quantizer.quantize``; ``basis_precision`` the alpha of
    ``basis.basis_exponents``.
    ``basis``: "learned" (each plane's KLT, its rows sent) or "fixed" (the DCT,
    ``basis.dct_basis``, known to the decoder); ``rate_distortion.search_bases`` tries both
    at a target rate and keeps the better.

    Work the two ways share is done once: the luma plane (the same in both) is learned,
    coded and streamed once per step, and each candidate's distortion is measured on the
    image rebuilt from its coded planes, the pixels ``decode`` would return from its bytes.
    ``workers=2`` codes the two ways at once, in two threads (LZMA and NumPy's large array
    operations release the GIL): the same bytes, sooner on two free cores. ``encode`` may be
    called from several threads (``rate_distortion.search_steps``): each step is still
    encoded once, by the first thread that asks for it.
    """

    def __init__(
        self,
        image,
        block=8,
        *,
        subsample_chroma="auto",
        rounding=ROUNDING,
        basis_precision=BASIS_PRECISION,
        basis="learned",
        workers=1,
    ):
        check_options(block, subsample_chroma, rounding, basis_precision, basis)
        check_int(workers, "workers", 1)
        self.pixels = check_image(image)  # (H, W, C) float64
        self.image, self.ndim = image, np.ndim(image)  # as given, for comparisons
        self.block, self.subsample_chroma = block, subsample_chroma
        self.rounding, self.basis_precision, self.basis = rounding, basis_precision, basis
        self.workers = workers
        self._transforms = {}  # (plane, at half size) -> its PlaneTransform
        self._bytes = {}  # step -> a Future of (the bytes of encode(step), their image or None)
        self._kept = 0  # bytes of the images kept in self._bytes
        self._lock = threading.RLock()  # guards both dicts

    def with_basis(self, basis):
        """The same image coded in ``basis``: its transforms shared (learned once), its bytes
        its own."""
        check_options(self.block, self.subsample_chroma, self.rounding, self.basis_precision, basis)
        other = copy.copy(self)
        other.basis, other._bytes, other._kept = basis, {}, 0
        return other

    @property
    def shape(self):
        """(H, W) of the image."""
        return self.pixels.shape[:2]

    def plane_keys(self, subsampled):
        """(plane index, at half size) of each plane: the luma is never subsampled."""
        subsampled = subsampled and self.pixels.shape[2] == 3
        return [(i, subsampled and i > 0) for i in range(self.pixels.shape[2])]

    def transforms(self, subsampled):
        """The KLT of each plane: luma, chroma (at half size if subsampled); learned once."""
        keys = self.plane_keys(subsampled)
        with self._lock:
            missing = [key for key in keys if key not in self._transforms]
            if missing:
                planes = image_planes(self.pixels, any(half for _, half in keys))
                for key in missing:
                    self._transforms[key] = learn_transform(planes[key[0]], self.block)
            return [self._transforms[key] for key in keys]

    def encode(self, step):
        """The bytes of the image at step Delta; the same as ``encode(image, step, ...)``."""
        return self._coded(step)[0]

    def decoded(self, step):
        """``decode(self.encode(step))``, read-only: kept from pricing the chroma choices
        ("auto"), where the image was rebuilt from the coded planes, or decoded now (and
        kept while the kept images stay under ``KEPT_IMAGES_BYTES``)."""
        data, image = self._coded(step)
        if image is None:
            image = decode(data)
            if self._keep(image) is not None:
                with self._lock:
                    self._bytes[float(step)] = finished((data, image))
        image.setflags(write=False)
        return image

    def _keep(self, image):
        """``image`` if it fits in what is left of ``KEPT_IMAGES_BYTES`` (counted), else None."""
        with self._lock:
            if self._kept + image.nbytes > KEPT_IMAGES_BYTES:
                return None
            self._kept += image.nbytes
            return image

    def _coded(self, step):
        """(bytes, image or None) of step Delta, encoded once."""
        check_step(step)
        step = float(step)
        with self._lock:
            pending, first = self._bytes.get(step), step not in self._bytes
            if first:
                pending = self._bytes[step] = Future()
        if first:
            try:
                pending.set_result(self._encode(step))
            except BaseException as error:
                with self._lock:
                    del self._bytes[step]  # not kept: the next call tries again
                pending.set_exception(error)
                raise
        return pending.result()

    def _encode(self, step):
        if self.subsample_chroma != "auto" or self.pixels.shape[2] == 1:
            return self.encode_image(bool(self.subsample_chroma), step), None
        shared = {}  # plane key -> (CodedPlane, its integers) at this step
        self.transforms(subsampled=True), self.transforms(subsampled=False)  # learned here
        self.code_planes([(0, False)], step, shared)  # the luma: the same in both

        def candidate(subsampled):
            coded = self.code_image(subsampled, step, shared)
            decoded = coded.decoded()  # = decode(coded.data)
            return coded.data, decoded, lagrangian(self.pixels, decoded, len(coded.data), step)

        if self.workers > 1:
            with ContextThreadPool(max_workers=1) as pool:
                full = pool.submit(candidate, False)  # chroma planes of its own
                candidates = [candidate(True), full.result()]
        else:
            candidates = [candidate(subsampled) for subsampled in (True, False)]
        data, decoded, _ = min(candidates, key=lambda c: c[2])  # the first if equal, as min does
        decoded.setflags(write=False)
        return data, self._keep(decoded)

    def encode_image(self, subsampled, step):
        """Header, plane headers, LZMA payload at step Delta, chroma subsampled or not."""
        return self.code_image(subsampled, step, {}).data

    def code_image(self, subsampled, step, shared):
        """The image coded at step Delta: its bytes and the coded planes they hold.

        ``shared`` keeps each plane's coding at this step for the next call (same step).
        """
        height, width, channels = self.pixels.shape
        keys = self.plane_keys(subsampled)
        subsampled = any(half for _, half in keys)
        self.code_planes(keys, step, shared)
        coded, streams = zip(*(shared[key] for key in keys), strict=True)
        fields = (height, width, self.ndim, channels, self.block, subsampled)
        grids = [t.grid for t in self.transforms(subsampled)]
        return CodedImage(to_bytes(coded, grids, fields, streams), coded, grids, fields)

    def code_planes(self, keys, step, shared):
        """Code each plane of ``keys`` not yet in ``shared`` at step Delta, into ``shared``."""
        for key in keys:
            if key not in shared:
                transform = self.transforms(key[1])[key[0]]  # learned once
                plane_step = chroma_step(step, key[1]) if key[0] else step
                options = (self.rounding, self.basis_precision, self.basis)
                shared[key] = encode_plane(transform, plane_step, *options)


@dataclass(frozen=True)
class CodedImage:
    """One way of coding an image: its bytes and the coded planes they were made from."""

    data: bytes
    planes: tuple  # CodedPlane of each plane
    grids: list  # blocks down and across each plane
    fields: tuple  # height, width, ndim, channels, block, subsampled

    def decoded(self):
        """The uint8 image ``decode(self.data)`` returns, rebuilt without reading the bytes."""
        height, width, ndim, channels, block, subsampled = self.fields
        shapes = plane_shapes(height, width, channels, subsampled)
        return rebuild(self.planes, self.grids, shapes, block, ndim)

    def cost(self, pixels, step):
        """``lagrangian_cost(pixels, self.data, step)``."""
        return lagrangian(pixels, self.decoded(), len(self.data), step)


def lagrangian_cost(pixels, data, step):
    """J = D + lambda R: D = ||x - x_hat||^2, R = 8 len(data) bits, lambda = ``rate_lambda``."""
    return lagrangian(pixels, decode(data), len(data), step)


def lagrangian(pixels, decoded, n_bytes, step):
    """J = ||x - x_hat||^2 + lambda 8 n_bytes for the decoded image x_hat."""
    distortion = np.sum((pixels - np.atleast_3d(decoded)) ** 2)
    return distortion + rate_lambda(step) * 8 * n_bytes


def decode(data):
    """Decompress bytes from ``encode`` into a uint8 image of the encoded shape."""
    data = bytes(data)
    header = read_header(data)
    B2 = header.block * header.block
    shapes = plane_shapes(header.height, header.width, header.channels, header.subsampled)
    grids = [split_grid(shape, header.block) for shape in shapes]
    # per plane: mean (B^2), basis (B^2 per row sent), coefficients (n_blocks n)
    sizes = [
        B2 + len(e) * B2 + gh * gw * n
        for n, e, (gh, gw) in zip(header.counts, header.exponents, grids, strict=True)
    ]
    ints = unpack_ints(data[header.payload_offset :], sum(sizes), header.width_bytes)
    coded = [
        CodedPlane.from_integers(chunk, step, exponents, grid, header.block, n)
        for chunk, step, exponents, grid, n in zip(
            np.split(ints, np.cumsum(sizes)[:-1]),
            header.steps,
            header.exponents,
            grids,
            header.counts,
            strict=True,
        )
    ]
    return rebuild(coded, grids, shapes, header.block, header.ndim)


def rebuild(coded, grids, shapes, block, ndim):
    """The coded planes back to a uint8 image: decode each plane, then back to RGB."""
    planes = [
        decode_plane(c, grid, block, shape)
        for c, grid, shape in zip(coded, grids, shapes, strict=True)
    ]
    image = planes_to_image(planes, *shapes[0])
    if not np.all(np.isfinite(image)):  # only a forged payload with a valid checksum gets here
        raise ValueError("corrupted patch-codec payload: non-finite pixels")
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    return image[:, :, 0] if ndim == 2 else image


def learned_basis(image, block=8, n_components=None):
    """The first n principal axes of the image's B x B luma (or gray) blocks, (n, B, B).

    For plotting: the first axis is nearly flat (the block mean), the next ones gradients,
    then ever finer, DCT-like patterns. None keeps all B^2.
    """
    check_block(block)
    pixels = check_image(image)
    X, _ = split_blocks(image_planes(pixels, subsample_chroma=False)[0], block)
    _, V, _ = learn_basis(X)
    return V[:n_components].reshape(-1, block, block)
