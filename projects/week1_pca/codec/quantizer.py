"""The quantizer: a uniform step Delta with a dead zone, and the rate-distortion price of bits.

q = sign(z) floor(|z| / Delta + r) (Sullivan 1996); a coefficient then costs about H(q) bits
and adds about Delta^2 / 12 squared error (Goyal 2001). A component is kept while the error
it removes is worth more than lambda times its bits, lambda = (ln 2 / 6) Delta^2 (Ortega,
Ramchandran 1998).
"""

from __future__ import annotations

import numpy as np

ROUNDING = 0.4  # dead-zone offset r: 0.5 is plain rounding


def quantize(z, step, rounding=ROUNDING):
    """q = sign(z) floor(|z| / Delta + r): rounding if r = 1/2, a wider zero bin if r < 1/2."""
    return (np.sign(z) * np.floor(np.abs(z) / step + rounding)).astype(np.int64)


def dequantize(q, step):
    """z_hat = Delta q."""
    return q * step


def rate_lambda(step):
    """lambda = (ln 2 / 6) Delta^2, squared error per bit at step Delta.

    At high rate a coefficient costs D(R) = (Delta^2 / 12) 2^(-2 (R - R_0)) squared error,
    so -dD/dR = 2 ln 2 Delta^2 / 12: a bit is worth spending where it buys more than lambda.
    """
    return np.log(2) / 6 * step**2


def components_to_keep(Z, Q, step, exponents=None):
    """n = 1 + the last k with D_k > lambda R_k: component k buys more than it costs.

    D_k = sum_j z_jk^2 - (z_jk - Delta q_jk)^2, the squared error it removes;
    R_k = n_blocks H(q_k) + B^2 (e_k + 1) bits, its coefficients (order-0 entropy) and its
    basis row (no row with ``exponents`` None: a fixed basis); lambda from ``rate_lambda``.
    Later components are dropped, rows and all.
    """
    saved = np.sum(Z**2 - (Z - dequantize(Q, step)) ** 2, axis=0)  # D_k
    bits = np.array([entropy_bits(q_k) for q_k in Q.T])  # n_blocks H(q_k)
    if exponents is not None:
        bits += Z.shape[1] * (exponents + 1)  # + the basis row, B^2 entries
    pays = np.flatnonzero(saved > rate_lambda(step) * bits)
    return int(pays[-1]) + 1 if pays.size else 1


def entropy_bits(symbols):
    """n H(p_hat) = -sum_s c_s log2(c_s / n): bits of an ideal order-0 code for the symbols."""
    counts = symbol_counts(symbols)
    return float(-np.sum(counts * np.log2(counts / len(symbols))))


def symbol_counts(symbols):
    """c_s of every integer s that occurs, by increasing s: ``np.unique``'s counts.

    Counted by ``np.bincount`` when the symbols span a range not much longer than they
    are (the quantized coefficients always do), which needs no sort.
    """
    symbols = np.ravel(symbols)
    if symbols.size and np.issubdtype(symbols.dtype, np.integer):
        low = symbols.min()
        if int(symbols.max()) - int(low) < 4 * symbols.size + 256:
            counts = np.bincount(symbols - low)
            return counts[counts > 0]
    return np.unique(symbols, return_counts=True)[1]
