"""The patch-PCA codec against JPEG and truncated SVD at matched bytes, on real files.

Run: ``.venv/bin/python -m benchmarks.bench_codec``. For each of scikit-learn's two sample
images (427 x 640 x 3) and each target rate, the quantization step is searched
(``step_for_bpp``, within 1%) and the image goes through ``encode`` -> bytes -> ``decode``.
At the codec's exact byte count the table reads off:

- ``jpeg_psnr_db``: Pillow's JPEG (default 4:2:0), interpolated linearly in log(bytes) on
  every quality 1..100 (``jpeg_psnr_at_bytes``); ``codec_vs_jpeg_db`` = codec - JPEG, so
  negative means behind JPEG;
- ``svd_psnr_db``: rank-k truncated SVD per channel, stored as float16 factors,
  C k (H + W + 1) 2 bytes (``low_rank``), read between the two ranks around the byte
  count the same way (linear in log(bytes)).

Each point is coded in both bases (``basis``): the image's learned KLT, its rows sent, and
the fixed 2-D DCT, none sent; the pipeline keeps the higher PSNR at each rate
(``rate_distortion.search_bases``). The first table is the headline (1 bpp); the second
checks the ordering at other rates.
"""

import time

import numpy as np
import pandas as pd
from sklearn.datasets import load_sample_image
from threadpoolctl import threadpool_limits

from projects.week1_pca import low_rank, patch_codec
from projects.week1_pca import rate_distortion as rd

IMAGES = ("china.jpg", "flower.jpg")
HEADLINE_BPP = 1.0
RATE_POINTS_BPP = (0.25, 0.5, 1.0, 2.0, 4.0)
RTOL = 0.01  # step_for_bpp: bpp within 1% of the target


def svd_psnr_at_bytes(image, n_bytes):
    """PSNR of rank-k truncated SVD at n_bytes, linear in log(bytes) between ranks k and k + 1."""
    height, width, channels = image.shape
    per_rank = low_rank.rank_k_storage_bytes(height, width, 1, channels)  # C (H + W + 1) 2
    k = int(n_bytes // per_rank)
    if not 1 <= k < min(height, width):
        return np.nan
    ranks = (k, k + 1)
    sizes = [low_rank.rank_k_storage_bytes(height, width, r, channels) for r in ranks]
    dbs = [rd.psnr(image, low_rank.rank_k_image(image, r)) for r in ranks]
    return float(np.interp(np.log(n_bytes), np.log(sizes), dbs))


def measure(name, image, target_bpp, basis="learned"):
    """One row: the codec at target_bpp, written as bytes and decoded, beside JPEG and SVD."""
    height, width, _ = image.shape
    step = rd.step_for_bpp(image, target_bpp, rtol=RTOL, basis=basis)
    start = time.perf_counter()
    data = patch_codec.encode(image, step, basis=basis)
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    decoded = patch_codec.decode(data)
    decode_s = time.perf_counter() - start
    psnr_db = rd.psnr(image, decoded)
    jpeg_db = rd.jpeg_psnr_at_bytes(image, len(data))
    svd_db = svd_psnr_at_bytes(image, len(data))
    return {
        "image": name,
        "basis": basis,
        "target_bpp": target_bpp,
        "step": step,
        "bytes": len(data),
        "bpp": rd.bits_per_pixel(len(data), height, width),
        "ratio": rd.compression_ratio(image.size, len(data)),
        "psnr_db": psnr_db,
        "jpeg_psnr_db": jpeg_db,
        "codec_vs_jpeg_db": psnr_db - jpeg_db,
        "svd_psnr_db": svd_db,
        "codec_vs_svd_db": psnr_db - svd_db,
        "encode_s": encode_s,
        "decode_s": decode_s,
    }


def main():
    """Print the headline and the rate points; return all rows (list of dicts)."""
    rows = []
    with threadpool_limits(limits=1, user_api="blas"):  # steadier timings on a shared box
        for name in IMAGES:
            image = load_sample_image(name)
            for basis in patch_codec.BASES:
                rows += [measure(name, image, bpp, basis) for bpp in RATE_POINTS_BPP]
    table = pd.DataFrame(rows)
    headline = table[table["target_bpp"] == HEADLINE_BPP].drop(columns="target_bpp")
    with pd.option_context("display.width", 200, "display.precision", 2):
        print(f"Patch-PCA codec at ~{HEADLINE_BPP} bpp (negative codec_vs_jpeg_db = behind JPEG)")
        print(headline.to_string(index=False))
        print("\nRate points: codec vs JPEG vs truncated SVD at the codec's bytes")
        columns = ["image", "basis", "target_bpp", "bytes", "bpp", "psnr_db", "jpeg_psnr_db"]
        columns += ["svd_psnr_db", "codec_vs_jpeg_db", "codec_vs_svd_db"]
        print(table[columns].to_string(index=False))
    return rows


if __name__ == "__main__":
    main()
