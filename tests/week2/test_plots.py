"""The week-2 figures draw what they are given, on the axes they are given, and open no figure.

Each test draws on small inputs (Agg backend), then reads the artists back: bar heights,
line data, annotations, colours. The fixture closes the figure and checks none is left.
"""

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from matplotlib.patches import Rectangle
from scipy import stats

from common.grading import grades
from projects.week2_spam import plots
from projects.week2_spam.probability import (
    DISTRIBUTIONS,
    empirical_pmf,
    running_mean,
    sample_means,
)

SPAM, HAM = to_rgba(plots.CLASS_COLOURS["spam"]), to_rgba(plots.CLASS_COLOURS["ham"])


def bars(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def line_labelled(ax, label):
    (line,) = [line for line in ax.get_lines() if line.get_label() == label]
    return line


@grades(empirical_pmf)
def test_distribution_grid_draws_each_sample_over_its_exact_pmf_or_pdf(subplots):
    rng = np.random.default_rng(0)
    samples = {name: sampler(rng, 400) for name, (sampler, _) in DISTRIBUTIONS.items()}
    exact = {name: dist for name, (_, dist) in DISTRIBUTIONS.items()}
    axes = subplots(2, 4)
    plots.distribution_grid(axes, samples, exact)
    for ax, (name, x) in zip(axes.flat, samples.items(), strict=False):
        dist = exact[name]
        assert ax.get_title().startswith(f"{name}: mean {dist.mean():.3g}")
        if name in {"Bernoulli", "binomial", "Poisson"}:
            values, counts = np.unique(x, return_counts=True)
            heights = {p.get_x() + p.get_width() / 2: p.get_height() for p in bars(ax)}
            assert heights == pytest.approx(dict(zip(values, counts / 400, strict=True)))
            pmf = line_labelled(ax, "exact pmf")
            np.testing.assert_allclose(pmf.get_ydata(), dist.pmf(pmf.get_xdata()))
            assert dist.pmf(pmf.get_xdata()).sum() > 0.999  # the stems cover the support
        else:
            area = sum(p.get_width() * p.get_height() for p in bars(ax))
            assert area == pytest.approx(1.0)  # a density histogram
            pdf = line_labelled(ax, "exact pdf")
            np.testing.assert_allclose(pdf.get_ydata(), dist.pdf(pdf.get_xdata()))
            assert line_labelled(ax, "KDE").get_linestyle() == "--"
    assert [ax.axison for ax in axes.flat] == [True] * 6 + [False] * 2


def test_law_of_large_numbers_draws_the_running_mean_inside_its_band(subplots):
    x = np.random.default_rng(0).integers(0, 2, 1_000)
    ax = subplots()
    plots.law_of_large_numbers(ax, running_mean(x), 0.5, 0.5, "Coin tosses")
    np.testing.assert_array_equal(line_labelled(ax, "running mean").get_ydata(), running_mean(x))
    np.testing.assert_array_equal(line_labelled(ax, "E[X] = 0.5").get_ydata(), [0.5, 0.5])
    (band,) = ax.collections
    assert band.get_label() == "E[X] ± 2σ/√k"
    lo, hi = ax.get_ylim()
    assert lo <= running_mean(x).min()
    assert running_mean(x).max() <= hi
    assert ax.get_xscale() == "log"
    assert ax.get_title() == "Coin tosses"


def test_central_limit_theorem_draws_one_density_per_n_over_the_normal_pdf(subplots):
    rng = np.random.default_rng(0)
    z = {n: sample_means(rng, "exponential", n, 500) for n in (1, 30)}
    axes = subplots(1, 2)
    plots.central_limit_theorem(axes, z, {1: 0.16, 30: 0.02})
    for ax, n in zip(axes, z, strict=True):
        normal = line_labelled(ax, "N(0, 1)")
        np.testing.assert_allclose(normal.get_ydata(), stats.norm.pdf(normal.get_xdata()))
        area = sum(p.get_width() * p.get_height() for p in bars(ax))
        assert area == pytest.approx(1.0)  # a density histogram
        assert min(p.get_x() for p in bars(ax)) <= z[n].min()  # of every mean, even those
        assert max(p.get_x() + p.get_width() for p in bars(ax)) >= z[n].max()  # off-screen
    assert [ax.get_title() for ax in axes] == ["n = 1, KS = 0.160", "n = 30, KS = 0.020"]


def test_correlation_heatmap_annotates_every_cell_on_a_centred_diverging_scale(subplots):
    columns = ["length", "digits", "currency", "is_spam"]
    data = pd.DataFrame(np.random.default_rng(0).standard_normal((50, 4)), columns=columns)
    corr = data.corr()
    ax = subplots()
    plots.correlation_heatmap(ax, corr)
    (mesh,) = ax.collections
    np.testing.assert_allclose(mesh.get_array().reshape(4, 4), corr.to_numpy())
    assert [t.get_text() for t in ax.texts] == [f"{v:.2f}" for v in corr.to_numpy().ravel()]
    assert (mesh.norm.vmin, mesh.norm.vmax) == (-1, 1)
    assert mesh.cmap(0.5)[:3] == pytest.approx((0.95, 0.95, 0.95), abs=0.1)  # white-ish at 0
    assert [t.get_text() for t in ax.get_xticklabels()] == columns


def test_confusion_matrix_shows_counts_and_row_shares(subplots):
    ax = subplots()
    plots.confusion_matrix(ax, np.array([[950, 5], [12, 133]]), ["ham", "spam"])
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["950\n(99.5%)", "5\n(0.5%)", "12\n(8.3%)", "133\n(91.7%)"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ham", "spam"]


def test_reliability_diagram_draws_each_filters_bins_and_their_counts(subplots):
    table = pd.DataFrame(
        {
            "filter": ["ours", "ours", "ours, calibrated", "ours, calibrated"],
            "predicted": [0.001, 0.999, 0.05, 0.93],
            "observed": [0.02, 0.9, 0.04, 0.95],
            "messages": [900, 150, 700, 120],
        }
    )
    ax, counts_ax = subplots(2, 1)
    plots.reliability_diagram(ax, counts_ax, table)
    calibrated = line_labelled(ax, "ours, calibrated")
    np.testing.assert_array_equal(calibrated.get_xdata(), [0.05, 0.93])
    np.testing.assert_array_equal(calibrated.get_ydata(), [0.04, 0.95])
    np.testing.assert_array_equal(line_labelled(counts_ax, "ours").get_ydata(), [900, 150])
    np.testing.assert_array_equal(line_labelled(ax, "calibrated").get_ydata(), [0, 1])
    assert counts_ax.get_yscale() == "log"


def test_roc_and_precision_recall_curves_draw_two_models_on_one_axes(subplots):
    fpr, tpr = np.array([0, 0.1, 1.0]), np.array([0, 0.9, 1.0])
    precision, recall = np.array([0.2, 0.9, 1.0]), np.array([1.0, 0.8, 0.0])
    roc_ax, pr_ax = subplots(1, 2)
    plots.roc_curves(roc_ax, {"ours": (fpr, tpr, 0.955), "sklearn": (fpr, tpr**2, 0.9)})
    plots.precision_recall_curves(
        pr_ax, {"ours": (precision, recall, 0.91), "sklearn": (precision, recall, 0.8)}, 0.13
    )
    roc_labels = [t.get_text() for t in roc_ax.get_legend().get_texts()]
    assert roc_labels == ["ours (AUC = 0.955)", "sklearn (AUC = 0.900)", "chance"]
    np.testing.assert_array_equal(
        line_labelled(roc_ax, "sklearn (AUC = 0.900)").get_ydata(), tpr**2
    )
    ours = line_labelled(pr_ax, "ours (AP = 0.910)")
    np.testing.assert_array_equal(ours.get_xdata(), recall)
    assert ours.get_drawstyle() == "steps-post"
    np.testing.assert_array_equal(line_labelled(pr_ax, "chance (0.130)").get_ydata(), [0.13, 0.13])


def test_message_explanation_has_one_bar_per_term_coloured_by_sign(subplots):
    contributions = pd.DataFrame(
        {
            "token": ["free", "call", "later", "prize", "ok"],
            "contribution": [2.0, 1.5, -1.0, 3.0, -0.2],
        }
    )
    ax = subplots()
    plots.message_explanation(ax, contributions, -1.9, 0.97, title="FREE prize", top=3)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["prior log-odds", "prize", "free", "call", "(2 other tokens)"]
    widths = [p.get_width() for p in bars(ax)]
    assert widths == pytest.approx([-1.9, 3.0, 2.0, 1.5, -1.2])
    colours = [p.get_facecolor() for p in bars(ax)]
    assert colours == [to_rgba("grey"), SPAM, SPAM, SPAM, HAM]
    assert ax.get_title() == "FREE prize\nlog-odds +3.40  →  P(spam | x) = 0.970"


def test_indicative_tokens_shows_the_k_most_spam_and_ham_like(subplots):
    log_ratios = pd.DataFrame(
        {"token": list("abcdefg"), "log_ratio": [3, -2, 0.5, -4, 1, 0.1, -0.3]}
    )
    ax = subplots()
    plots.indicative_tokens(ax, log_ratios, k=2)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "e", "b", "d"]
    assert [p.get_width() for p in bars(ax)] == [3, 1, -2, -4]
    assert [p.get_facecolor() for p in bars(ax)] == [SPAM, SPAM, HAM, HAM]


def test_spam_rate_posteriors_draw_each_beta_density_and_shade_the_interval(subplots):
    table = pd.DataFrame(
        {
            "n": [10, 100],
            "k": [4, 17],
            "a": [5.0, 18.0],
            "b": [7.0, 84.0],
            "mean": [5 / 12, 18 / 102],
        }
    )
    table["low"], table["high"] = stats.beta.ppf(0.025, 18, 84), stats.beta.ppf(0.975, 18, 84)
    ax = subplots()
    plots.spam_rate_posteriors(ax, table, prior=(1.0, 1.0))
    prior = line_labelled(ax, "prior Beta(1, 1)")
    np.testing.assert_allclose(prior.get_ydata(), 1.0)
    for row in table.itertuples():
        line = line_labelled(ax, f"n = {row.n:,}, k = {row.k:,}: mean {row.mean:.3f}")
        np.testing.assert_allclose(line.get_ydata(), stats.beta.pdf(line.get_xdata(), row.a, row.b))
    [shaded] = ax.collections
    x, y = shaded.get_paths()[0].vertices.T
    assert x.min() == pytest.approx(table["low"].iloc[-1])
    assert x.max() == pytest.approx(table["high"].iloc[-1])
    assert y.max() == pytest.approx(stats.beta.pdf(x, 18, 84).max(), rel=1e-9)


def test_infinite_evidence_under_alpha_0_is_drawn_as_a_labelled_long_bar(subplots):
    log_ratios = pd.DataFrame({"token": list("abcd"), "log_ratio": [np.inf, 2.0, -1.0, -np.inf]})
    ax = subplots()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns on infinite bar widths
        plots.indicative_tokens(ax, log_ratios, k=2)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a (+inf)", "b", "c", "d (-inf)"]
    assert [p.get_width() for p in bars(ax)] == pytest.approx([2.4, 2.0, -1.0, -2.4])
    ax = subplots()
    contributions = pd.DataFrame(
        {"token": ["win", "you", "prize", "ok"], "contribution": [np.inf, -np.inf, 3.0, 0.5]}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.message_explanation(ax, contributions, -1.9, 0.13, top=2)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["prior log-odds", "win (+inf)", "you (-inf)", "(2 other tokens)"]
    assert [p.get_width() for p in bars(ax)] == pytest.approx([-1.9, 4.2, -4.2, 3.5])
    assert ax.get_title() == "log-odds undefined  →  P(spam | x) = 0.130"  # P(x) = 0
    ax = subplots()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.message_explanation(ax, contributions, -1.9, 0.13, top=0)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["prior log-odds", "(4 other tokens) (undefined)"]  # inf - inf
    assert [p.get_width() for p in bars(ax)] == pytest.approx([-1.9, 0.0])


def test_character_ngrams_show_their_spaces(subplots):
    log_ratios = pd.DataFrame({"token": [" fr", "ee ", "ok"], "log_ratio": [3.0, 2.0, -1.0]})
    ax = subplots()
    plots.indicative_tokens(ax, log_ratios, k=1)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["␣fr", "ok"]
    contributions = pd.DataFrame({"token": [" fr", "ee "], "contribution": [1.0, 0.5]})
    ax = subplots()
    plots.message_explanation(ax, contributions, -1.9, 0.4)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["prior log-odds", "␣fr", "ee␣"]


def test_a_sum_of_many_tokens_is_cut_and_labelled_not_drawn_to_dwarf_the_named_ones(subplots):
    many = [f"t{i}" for i in range(100)]  # 100 small terms of -0.9: -90 in all
    contributions = pd.DataFrame(
        {"token": ["free", "prize", "ok", *many], "contribution": [2.0, 1.5, -1.0, *[-0.9] * 100]}
    )
    ax = subplots()
    plots.message_explanation(ax, contributions, -1.9, 0.0, top=3, absent_log_odds=-181.725)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [
        "prior log-odds", "free", "prize", "ok",
        "(100 other tokens) = -90.0, cut", "(absent tokens) = -181.7, cut",
    ]  # fmt: skip
    widths = [p.get_width() for p in bars(ax)]
    assert widths == pytest.approx([-1.9, 2.0, 1.5, -1.0, -6.0, -6.0])  # 3 x the longest named
    assert [p.get_hatch() or "" for p in bars(ax)] == ["", "", "", "", "//", "//"]
    true_sum = -1.9 + contributions["contribution"].sum() - 181.725
    assert f"log-odds {true_sum:+.2f}" in ax.get_title()  # the true sum, not the cut bars
