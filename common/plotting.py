"""One seaborn theme, and one way to save a figure to the active MLflow run.

The backend is Agg (no display needed); every figure is closed once saved.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

THEME = {"style": "whitegrid", "context": "notebook", "palette": "deep"}
DPI = 110


def apply_theme() -> None:
    """The house seaborn theme for every plot of every week."""
    import seaborn as sns

    sns.set_theme(**THEME)


def log_figure(fig: Figure, name: str) -> None:
    """Save ``fig`` as ``figures/<name>.png`` in the active run, then close it."""
    import mlflow

    try:
        fig.tight_layout()
        mlflow.log_figure(fig, f"figures/{name}.png", save_kwargs={"dpi": DPI})
    finally:
        plt.close(fig)


@contextmanager
def figure(name: str, **subplots_kwargs) -> Iterator[tuple[Figure, object]]:
    """``with figure("spectrum") as (fig, ax): ...`` draws, logs and closes one figure."""
    apply_theme()
    fig, axes = plt.subplots(**subplots_kwargs)
    try:
        yield fig, axes
    except BaseException:
        plt.close(fig)
        raise
    log_figure(fig, name)
