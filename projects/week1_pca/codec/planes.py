"""One plane coded in a basis, and decoded: blocks, transform, quantizer, integers to send.

Encoding, for a plane at step Delta: z = V_hat (x - mu_hat) per block, in the plane's own
quantized KLT or in the DCT (``basis``), quantized with a dead zone, q = sign(z)
floor(|z| / Delta + r) (``quantizer``); trailing components whose D_k saved is below
lambda R_k are dropped with their rows. What the plane sends, ``CodedPlane``, is integers
only (the rounded mean mu_hat, the basis rows V_int, the coefficients q) besides its step
and basis exponents. Decoding runs it backwards: x_hat = mu_hat + V_hat^T (Delta q).

The blocks and their PCA, ``PlaneTransform``, do not depend on Delta: a plane is learned
once and coded at every step a rate search tries.

Source: V. K. Goyal, "Theoretical foundations of transform coding", IEEE Signal Processing
Magazine 18(5) (2001), 9-21: transform, scalar quantization, the inverse transform.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from projects.week1_pca.codec.basis import (
    basis_exponents,
    dct_basis,
    dequantize_basis,
    learn_basis,
    quantize_basis,
)
from projects.week1_pca.codec.blocks import merge_blocks, split_blocks
from projects.week1_pca.codec.byte_format import FIXED, LEARNED
from projects.week1_pca.codec.entropy_coding import coefficient_stream, coefficients_from_stream
from projects.week1_pca.codec.quantizer import components_to_keep, dequantize, quantize


@dataclass(frozen=True)
class CodedPlane:
    """What one plane sends: integers only, besides its step and basis kind."""

    step: float  # Delta
    mean: np.ndarray  # round(mu), shape (B^2,)
    exponents: np.ndarray  # e_k, shape (n,); empty for the fixed basis
    basis: np.ndarray  # V_int, shape (n, B^2); (0, B^2) for the fixed basis
    coefficients: np.ndarray  # q, shape (n_blocks, n)

    @property
    def kind(self):
        """``LEARNED`` if the plane sends its basis rows, ``FIXED`` (the DCT) if not."""
        return LEARNED if len(self.exponents) else FIXED

    def integers(self, grid):
        """Everything but the step and exponents as one 1-D stream: mean, basis, coefficients."""
        return np.concatenate(
            [self.mean, self.basis.ravel(), coefficient_stream(self.coefficients, grid)]
        )

    @classmethod
    def from_integers(cls, ints, step, exponents, grid, block, n):
        """The inverse of ``integers``, given what the header says (n components)."""
        B2 = block * block
        mean, basis, stream = np.split(ints, [B2, B2 * (len(exponents) + 1)])
        Q = coefficients_from_stream(stream, grid, n)
        return cls(step, mean, exponents, basis.reshape(len(exponents), B2), Q)

    def rows(self, block):
        """V_hat, the n orthonormal rows the coefficients are in (shape (n, B^2))."""
        if self.kind == FIXED:
            return dct_basis(block)[: self.coefficients.shape[1]]
        return dequantize_basis(self.basis, self.exponents)


@dataclass(frozen=True)
class PlaneTransform:
    """The KLT of one plane: its blocks and their PCA. It does not depend on the step."""

    X: np.ndarray  # the blocks, shape (n_blocks, B^2)
    grid: tuple  # blocks down and across
    mu: np.ndarray  # mean block, shape (B^2,)
    V: np.ndarray  # principal axes as rows, shape (B^2, B^2)
    sigma: np.ndarray  # their standard deviations, shape (B^2,)

    @property
    def block(self):
        """B, from the B^2 pixels of a block."""
        return math.isqrt(self.X.shape[1])


def learn_transform(plane, block):
    """Blocks -> PCA of one plane, once for every step it is coded at."""
    X, grid = split_blocks(plane, block)
    return PlaneTransform(X, grid, *learn_basis(X))


def encode_plane(transform, step, rounding, basis_precision, basis="learned"):
    """One plane at step Delta in ``basis``: its learned KLT, or the fixed DCT.

    The KLT packs more energy into its first components, but its rows are sent: B^2 entries
    each, shared by the n_blocks blocks. With few blocks per row (a small image, large B) or
    at high rate the rows cost more than they save, and the DCT, known to both sides, costs
    nothing. Returns (CodedPlane, its integers).
    """
    if basis == "fixed":
        return encode_plane_fixed(transform, step, rounding)
    return encode_plane_learned(transform, step, rounding, basis_precision)


def encode_plane_learned(transform, step, rounding, basis_precision):
    """Learned KLT -> quantized basis -> quantized coefficients: (CodedPlane, integers)."""
    mean = np.round(transform.mu).astype(np.int64)
    exponents = basis_exponents(transform.sigma, step, basis_precision)
    V_int = quantize_basis(transform.V, exponents)
    V_hat = dequantize_basis(V_int, exponents)
    Z = (transform.X - mean) @ V_hat.T  # z = V_hat (x - mu_hat), one row per block
    Q = quantize(Z, step, rounding)
    n = components_to_keep(Z, Q, step, exponents)
    # Gram-Schmidt: rows 0..n-1 of V_hat do not depend on the rows dropped after them.
    coded = CodedPlane(step, mean, exponents[:n], V_int[:n], Q[:, :n])
    return coded, coded.integers(transform.grid)


def encode_plane_fixed(transform, step, rounding):
    """The DCT (``dct_basis``) -> quantized coefficients, no rows sent: (CodedPlane, ints)."""
    mean = np.round(transform.mu).astype(np.int64)
    Z = (transform.X - mean) @ dct_basis(transform.block).T
    Q = quantize(Z, step, rounding)
    n = components_to_keep(Z, Q, step)
    empty = np.zeros((0, Z.shape[1]), dtype=np.int64)
    coded = CodedPlane(step, mean, empty[:, 0], empty, Q[:, :n])
    return coded, coded.integers(transform.grid)


def decode_plane(coded, grid, block, shape):
    """x_hat = mu_hat + V_hat^T (Delta q) per block, tiled back to a plane of ``shape``."""
    X_hat = dequantize(coded.coefficients, coded.step) @ coded.rows(block) + coded.mean
    return merge_blocks(X_hat, grid, block, shape)
