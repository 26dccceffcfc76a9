"""Week 1's rate-distortion figure shows what a learner reads off it: readable bit rates on
its log axis, and the setting the run reports, starred."""

from __future__ import annotations

import pandas as pd

from projects.week1_pca import plots

CURVES = pd.DataFrame(
    {
        "codec": ["svd", "svd", "patch_pca", "patch_pca", "jpeg", "jpeg"],
        "bpp": [0.3, 4.0, 0.25, 3.0, 0.4, 2.5],
        "psnr_db": [22.0, 35.0, 27.0, 41.0, 26.0, 38.0],
    }
)


def test_the_log_rate_axis_is_labelled_at_1_2_and_5_of_each_decade(subplots):
    ax = subplots()
    plots.rate_distortion(ax, CURVES, "china: three codecs")
    ax.figure.canvas.draw()
    low, high = ax.get_xlim()
    shown = [t.get_text() for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high]
    assert shown == ["0.5", "1", "2"]  # not only "1" between 0.25 and 4 bpp
    assert ax.get_xscale() == "log"


def test_the_chosen_setting_is_starred_and_named_in_the_legend(subplots):
    ax = subplots()
    plots.rate_distortion(ax, CURVES, "t", chosen=(1.0, 33.0, "chosen (target_bpp): 1.00 bpp"))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["svd", "patch_pca", "jpeg", "chosen (target_bpp): 1.00 bpp"]
    [star] = [line for line in ax.get_lines() if line.get_marker() == "*"]
    assert list(star.get_xydata()[0]) == [1.0, 33.0]
