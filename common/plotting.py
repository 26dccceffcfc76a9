"""One seaborn theme, and one way to save a figure to the active MLflow run.

The backend is Agg (no display needed); every figure is closed once saved. Inside
``figures_logged(False)`` (a run with ``figures=false``, e.g. a sweep's jobs) figures are
drawn but neither laid out nor rendered nor logged: rendering a PNG is most of a figure's cost.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

THEME = {"style": "whitegrid", "context": "notebook", "palette": "deep"}
DPI = 110
_logging_figures: ContextVar[bool] = ContextVar("logging_figures", default=True)


@contextmanager
def figures_logged(enabled: bool) -> Iterator[None]:
    """Log figures inside the block (``True``, the default everywhere) or skip them."""
    token = _logging_figures.set(enabled)
    try:
        yield
    finally:
        _logging_figures.reset(token)


def logging_figures() -> bool:
    """Whether figures are being logged here (see :func:`figures_logged`)."""
    return _logging_figures.get()


def apply_theme() -> None:
    """The house seaborn theme for every plot of every week."""
    import seaborn as sns

    sns.set_theme(**THEME)


def log_figure(fig: Figure, name: str) -> None:
    """Save ``fig`` as ``figures/<name>.png`` in the active run, then close it."""
    import mlflow

    try:
        if not logging_figures():
            return
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
