"""The figures of a week-2 run: distributions, limit theorems, and what the spam filter does.

Each function draws onto axes it is given and returns nothing; the pipeline opens, logs
and closes the figure (``common.plotting.figure``). Inputs are plain arrays, DataFrames
and, for the exact densities, frozen ``scipy.stats`` distributions.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator
from scipy import stats

from projects.week2_spam.probability import empirical_pmf

CLASS_COLOURS = {"ham": "#4C72B0", "spam": "#C44E52"}  # seaborn "deep" blue and red
EXACT_COLOUR = "black"


def _is_discrete(dist) -> bool:
    return isinstance(dist.dist, stats.rv_discrete)


def _discrete_panel(ax, x: np.ndarray, dist) -> None:
    values, frequencies = empirical_pmf(x)  # #{x_i = k} / n
    ax.bar(values, frequencies, width=0.8, alpha=0.6, label="empirical pmf")
    k = np.arange(dist.ppf(0.0005), dist.ppf(0.9995) + 1)
    ax.vlines(k, 0, dist.pmf(k), color=EXACT_COLOUR, linewidth=1)
    ax.plot(k, dist.pmf(k), "o", color=EXACT_COLOUR, markersize=4, label="exact pmf")
    ax.set(xlabel="k", ylabel="P(X = k)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _continuous_panel(ax, x: np.ndarray, dist) -> None:
    sns.histplot(x, stat="density", alpha=0.5, ax=ax, label="histogram")
    sns.kdeplot(x, ax=ax, cut=0, linestyle="--", label="KDE")
    lo, hi = dist.ppf([0.001, 0.999])
    t = np.linspace(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo), 400)
    ax.plot(t, dist.pdf(t), color=EXACT_COLOUR, linewidth=1.5, label="exact pdf")
    ax.set(xlabel="x", ylabel="density")


def distribution_grid(axes, samples: dict[str, np.ndarray], exact: dict) -> None:
    """One panel per distribution: the sample against the exact pmf/pdf (W2.2, W2.P2).

    Discrete: bars of the empirical pmf #{x_i = k} / n, stems of the exact P(X = k).
    Continuous: ``histplot`` (density), ``kdeplot`` (cut at the data range, so it bends
    down near a hard edge such as 0 for the exponential) and the exact f(x).
    ``exact`` maps the same names to frozen ``scipy.stats`` distributions.
    """
    for ax, (name, x) in zip(np.ravel(axes), samples.items(), strict=False):
        dist = exact[name]
        (_discrete_panel if _is_discrete(dist) else _continuous_panel)(ax, np.asarray(x), dist)
        ax.set_title(f"{name}: mean {dist.mean():.3g}, var {dist.var():.3g}", fontsize=10)
        ax.legend(fontsize=8)
    for ax in np.ravel(axes)[len(samples) :]:
        ax.axis("off")


def law_of_large_numbers(
    ax, running_mean: np.ndarray, expected: float, sigma: float, title: str
) -> None:
    """xbar_k against k (log axis) with E[X] and the band E[X] +- 2 sigma / sqrt(k) (W2.4)."""
    k = np.arange(1, len(running_mean) + 1)
    ax.fill_between(
        k,
        expected - 2 * sigma / np.sqrt(k),
        expected + 2 * sigma / np.sqrt(k),
        color="grey",
        alpha=0.2,
        label="E[X] ± 2σ/√k",
    )
    ax.plot(k, running_mean, linewidth=1, label="running mean")
    ax.axhline(
        expected, color=EXACT_COLOUR, linestyle="--", linewidth=1, label=f"E[X] = {expected:g}"
    )
    ax.set(
        xscale="log", xlabel="number of draws k", ylabel="mean of the first k draws", title=title
    )
    spread = max(np.abs(running_mean - expected).max(), 1e-12)
    ax.set_ylim(expected - 1.1 * spread, expected + 1.1 * spread)
    ax.legend(loc="upper right")


def central_limit_theorem(
    axes, standardized_means: dict[int, np.ndarray], distances: dict[int, float] | None = None
) -> None:
    """Histograms of Z = (xbar_n - mu) / (sigma / sqrt(n)) for a few n over the N(0, 1) pdf (W2.4).

    ``standardized_means`` maps n to the Z of many samples; ``distances`` (optional) maps n
    to the Kolmogorov-Smirnov distance to N(0, 1), shown in the panel's title.
    """
    t = np.linspace(-4, 4, 400)
    for ax, (n, z) in zip(np.ravel(axes), standardized_means.items(), strict=False):
        sns.histplot(z, stat="density", binwidth=0.25, alpha=0.5, ax=ax)
        ax.plot(t, stats.norm.pdf(t), color=EXACT_COLOUR, label="N(0, 1)")
        title = f"n = {n}" + (f", KS = {distances[n]:.3f}" if distances else "")
        ax.set(xlim=(-4, 6), xlabel="standardized mean Z", ylabel="density", title=title)
        ax.legend(fontsize=8)


def correlation_heatmap(ax, corr: pd.DataFrame) -> None:
    """The Pearson correlation matrix, annotated, diverging colours centred at 0 (W2.3, W2.P3)."""
    sns.heatmap(
        corr,
        ax=ax,
        annot=True,
        fmt=".2f",
        cmap="vlag",
        center=0,
        vmin=-1,
        vmax=1,
        square=True,
        linewidths=0.5,
        cbar_kws={"label": "Pearson r", "shrink": 0.8},
    )
    ax.set_title("Correlation of message features")
    ax.tick_params(axis="x", labelrotation=45)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")


def confusion_matrix(ax, matrix: np.ndarray, labels: list[str]) -> None:
    """Counts C_ij = #{true class i, predicted class j}, with each row's share in brackets."""
    matrix = np.asarray(matrix)
    row_share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    annot = np.vectorize(lambda c, s: f"{c:,}\n({s:.1%})")(matrix, row_share)
    sns.heatmap(
        matrix,
        ax=ax,
        annot=annot,
        fmt="",
        cmap="Blues",
        cbar=False,
        square=True,
        xticklabels=labels,
        yticklabels=labels,
        linewidths=0.5,
    )
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix")


def roc_curves(ax, curves: dict[str, tuple[np.ndarray, np.ndarray, float]]) -> None:
    """True-positive rate against false-positive rate, one curve per model: (fpr, tpr, auc)."""
    for name, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, label=f"{name} (AUC = {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate (recall)", title="ROC curve")
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), aspect="equal")
    ax.legend(loc="lower right")


def reliability_diagram(ax, counts_ax, table: pd.DataFrame) -> None:
    """Observed spam rate against mean predicted P(spam) per bin, one curve per filter; the
    messages in each bin below (log scale). ``table``: filter, predicted, observed, messages."""
    styles = [("o", "-"), ("x", "--"), ("s", "-.")]  # ours and sklearn's often coincide
    filters = table.groupby("filter", sort=False)
    for (name, curve), (marker, line) in zip(filters, itertools.cycle(styles), strict=False):
        style = {"marker": marker, "linestyle": line, "label": name}
        ax.plot(curve["predicted"], curve["observed"], **style)
        counts_ax.plot(curve["predicted"], curve["messages"], **style)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="calibrated")
    ax.set(ylabel="observed spam rate", title="Reliability diagram (10 bins of P(spam))")
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01))
    ax.legend(loc="upper left")
    counts_ax.set(xlabel="mean predicted P(spam) in the bin", ylabel="messages", yscale="log")


def precision_recall_curves(
    ax, curves: dict[str, tuple[np.ndarray, np.ndarray, float]], prevalence: float | None = None
) -> None:
    """Precision against recall, one step curve per model: (precision, recall, average precision).

    ``prevalence`` (optional), the share of spam, is the precision of a filter that guesses.
    """
    for name, (precision, recall, ap) in curves.items():
        ax.plot(recall, precision, drawstyle="steps-post", label=f"{name} (AP = {ap:.3f})")
    if prevalence is not None:
        ax.axhline(prevalence, color="grey", linestyle=":", label=f"chance ({prevalence:.3f})")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall curve")
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), aspect="equal")
    ax.legend(loc="center left")


def _sign_colours(values) -> list[str]:
    return [CLASS_COLOURS["spam"] if v > 0 else CLASS_COLOURS["ham"] for v in values]


def _drawable(values, labels) -> tuple[np.ndarray, list[str]]:
    """Bar lengths and labels for values that may be +-inf or NaN (alpha = 0 makes them).

    An infinite bar is drawn 1.2 times as long as the longest finite one and labelled
    "(+inf)" or "(-inf)"; a NaN (+inf and -inf added up) has no bar and says "(undefined)".
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.abs(values[np.isfinite(values)])
    reach = 1.2 * finite.max() if finite.size and finite.max() > 0 else 1.0
    shown = np.where(np.isinf(values), np.sign(values) * reach, np.nan_to_num(values, nan=0.0))
    suffix = {True: " (+inf)", False: " (-inf)"}
    labels = [
        f"{label} (undefined)"
        if np.isnan(v)
        else f"{label}{suffix[bool(v > 0)]}"
        if np.isinf(v)
        else label
        for label, v in zip(labels, values, strict=True)
    ]
    return shown, labels


SUM_REACH = 3.0  # a bar summing many tokens is cut at this many times the longest named one


def visible(token: str) -> str:
    """A token with its spaces shown (``␣``): character n-grams begin and end with them."""
    return token.replace(" ", "␣")


def cut_sums(shown: np.ndarray, labels: list[str], named: int):
    """Bars after the first ``named`` (sums over many tokens) cut at ``SUM_REACH`` times the
    longest named bar, their value then written in the label: they must not dwarf the
    tokens the figure is about."""
    longest = np.max(np.abs(shown[:named]), initial=0.0) or 1.0
    reach = SUM_REACH * longest
    shown, labels = shown.copy(), list(labels)
    for i in range(named, len(shown)):
        if abs(shown[i]) > reach:
            labels[i] = f"{labels[i]} = {shown[i]:+.1f}, cut"
            shown[i] = np.sign(shown[i]) * reach
    return shown, labels


def message_explanation(
    ax,
    contributions: pd.DataFrame,
    prior_log_odds: float,
    posterior: float,
    title: str = "",
    top: int = 15,
    absent_log_odds: float = 0.0,
) -> None:
    """Why one message got its score: the terms of its posterior log-odds, one bar each.

    log P(spam|x) / P(ham|x) = log P(spam) / P(ham) + sum_i x_i log theta_spam,i / theta_ham,i;
    ``contributions`` has columns token and contribution (x_i times the log ratio), positive
    towards spam. The ``top`` largest |contribution| get a bar each, the rest share one.
    ``posterior`` is P(spam | x) = sigmoid(log-odds), shown in the title. ``absent_log_odds``
    (Bernoulli only) is sum_{i: x_i = 0} log (1 - theta_spam,i) / (1 - theta_ham,i), one bar.
    """
    terms = contributions.sort_values("contribution", key=np.abs, ascending=False, kind="stable")
    tokens = ["prior log-odds", *map(visible, terms["token"].head(top))]
    values = [prior_log_odds, *terms["contribution"].head(top)]
    named = len(values)  # the bars after these sum many tokens each
    if len(terms) > top:
        tokens.append(f"({len(terms) - top} other tokens)")
        with np.errstate(invalid="ignore"):  # +inf and -inf (alpha = 0): NaN
            values.append(terms["contribution"].iloc[top:].sum())
    if absent_log_odds:  # Bernoulli: every vocabulary token the message lacks is evidence too
        tokens.append("(absent tokens)")
        values.append(absent_log_odds)
    y = np.arange(len(values))
    shown, tokens = _drawable(values, tokens)
    shown, tokens = cut_sums(shown, tokens, named)
    hatches = [""] * named + ["//"] * (len(values) - named)
    ax.barh(y, shown, color=["grey", *_sign_colours(values[1:])], hatch=hatches)
    ax.set_yticks(y, tokens)
    ax.invert_yaxis()  # the prior on top, then the tokens by |contribution|
    ax.axvline(0, color=EXACT_COLOUR, linewidth=0.8)
    ax.set_xlabel("contribution to log P(spam|x) / P(ham|x)   (← ham | spam →)")
    with np.errstate(invalid="ignore"):  # +inf and -inf contributions: NaN, undefined
        log_odds = prior_log_odds + terms["contribution"].sum() + absent_log_odds
    ax.set_title(posterior_title(title, log_odds, posterior))


def posterior_title(title: str, log_odds: float, posterior: float) -> str:
    """``title`` over "log-odds +3.40  →  P(spam | x) = 0.970" ("undefined" when P(x) = 0)."""
    shown_odds = "undefined" if np.isnan(log_odds) else f"{log_odds:+.2f}"
    return f"{title}\nlog-odds {shown_odds}  →  P(spam | x) = {posterior:.3f}".strip()


def indicative_tokens(ax, log_ratios: pd.DataFrame, k: int = 15) -> None:
    """The k most spam- and k most ham-indicative tokens by log theta_spam,i / theta_ham,i."""
    ranked = log_ratios.sort_values("log_ratio", ascending=False)
    top = pd.concat([ranked.head(k), ranked.tail(k)]).drop_duplicates("token")
    y = np.arange(len(top))
    shown, labels = _drawable(top["log_ratio"], [visible(t) for t in top["token"]])
    ax.barh(y, shown, color=_sign_colours(top["log_ratio"]))
    ax.set_yticks(y, labels)
    ax.invert_yaxis()  # most spam-like on top, most ham-like at the bottom
    ax.axvline(0, color=EXACT_COLOUR, linewidth=0.8)
    ax.set(xlabel="log P(token | spam) / P(token | ham)", title="Most indicative tokens")


def spam_rate_posteriors(ax, posteriors: pd.DataFrame, prior: tuple[float, float]) -> None:
    """The Beta prior of the spam rate and its posteriors as messages arrive (W2.X3, W2.X5).

    ``posteriors`` has one row per number of messages seen, with columns n, k, a, b, mean,
    low, high (``bayesian.sequential_posteriors``). The last posterior's 95% credible
    interval is shaded: its area under the density is the interval's probability.
    """
    top = float(np.max(stats.beta.ppf(0.9995, posteriors["a"], posteriors["b"])))
    theta = np.linspace(0.0, min(1.0, 1.2 * top), 2000)
    ax.plot(
        theta,
        stats.beta.pdf(theta, *prior),
        color="grey",
        linestyle="--",
        label=f"prior Beta({prior[0]:g}, {prior[1]:g})",
    )
    for row in posteriors.itertuples():
        ax.plot(
            theta,
            stats.beta.pdf(theta, row.a, row.b),
            label=f"n = {row.n:,}, k = {row.k:,}: mean {row.mean:.3f}",
        )
    last = posteriors.iloc[-1]
    inside = np.linspace(last["low"], last["high"], 200)
    ax.fill_between(
        inside,
        stats.beta.pdf(inside, last["a"], last["b"]),
        alpha=0.3,
        label=f"95% credible interval [{last['low']:.3f}, {last['high']:.3f}]",
    )
    ax.set(xlabel="spam rate θ", ylabel="density", title="Beta posterior of the spam rate")
    ax.legend(fontsize=8)
