"""One seaborn theme, and one way to save a figure to the active MLflow run.

The backend is Agg (no display needed); every figure is closed once saved. Inside
``figures_logged(False)`` (a run with ``figures=false``, e.g. a sweep's jobs) figures are
drawn but neither laid out nor rendered nor logged: rendering a PNG is most of a figure's cost.
Inside ``figures_rendered_aside()`` (a run with more than one thread) that cost goes to a
second process (:mod:`common.figure_process`) and the PNGs are logged when the block ends.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from pathlib import Path, PurePosixPath

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

THEME = {"style": "whitegrid", "context": "notebook", "palette": "deep"}
DPI = 110
_logging_figures: ContextVar[bool] = ContextVar("logging_figures", default=True)
_rendering_aside: ContextVar[FiguresAside | None] = ContextVar("rendering_aside", default=None)


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
        aside = _rendering_aside.get()
        if aside is not None and aside.render(fig, name):
            return
        fig.tight_layout()
        mlflow.log_figure(fig, f"figures/{name}.png", save_kwargs={"dpi": DPI})
    finally:
        plt.close(fig)


class FiguresAside:
    """The figures of one block, rendered by the worker process into a temporary folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.pending: list[tuple[Future, str]] = []
        self.lock = threading.Lock()  # figures may come from the run's own threads

    def render(self, fig: Figure, name: str) -> bool:
        """Send ``fig`` to the worker; False if it must be rendered here (it does not pickle)."""
        from common.figure_process import render_aside

        with self.lock:
            path = self.folder / str(len(self.pending)) / f"{PurePosixPath(name).name}.png"
            path.parent.mkdir()
            future = render_aside(fig, path, DPI)
            if future is not None:
                self.pending.append((future, name))
        return future is not None

    def log_rendered(self) -> None:
        """Wait for every figure and log it as ``figures/<name>.png``, in the order drawn."""
        import mlflow

        for future, name in self.pending:
            try:
                path = future.result()
            except Exception as error:
                raise RuntimeError(f"figure {name} could not be rendered: {error}") from error
            mlflow.log_artifact(path, str(PurePosixPath("figures", name).parent))

    def cancel(self) -> None:
        """Drop the figures the worker has not started (it finishes the one it is on)."""
        for future, _ in self.pending:
            future.cancel()


@contextmanager
def figures_rendered_aside(enabled: bool = True) -> Iterator[None]:
    """Render the block's figures in the worker process; log them when the block ends.

    A block that fails still logs the figures it drew (a failure to render one is then not
    raised over the block's own error); a stop (Ctrl-C, SIGTERM) cancels those not rendered.
    """
    if not enabled or not logging_figures():
        yield
        return
    from common.figure_process import start_worker

    start_worker()
    with tempfile.TemporaryDirectory(prefix="figures-") as folder:
        aside = FiguresAside(Path(folder))
        token = _rendering_aside.set(aside)
        try:
            yield
        except Exception:
            with suppress(Exception):
                aside.log_rendered()
            raise
        except BaseException:
            aside.cancel()
            raise
        finally:
            _rendering_aside.reset(token)
        aside.log_rendered()


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
