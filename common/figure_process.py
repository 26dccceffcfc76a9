"""Figures laid out and rendered to PNG in a second process, while the run goes on.

Laying out and rendering a figure is most of its cost (about a quarter of a week's run) and
it holds the GIL, so a thread cannot take it off the run's path; a process can. The run
draws a figure as always, then pickles it (Matplotlib figures pickle whole: artists, data,
styles) and hands it to one worker process, which applies the same theme, lays it out,
renders it and writes the PNG. The run logs the files when its figures are done
(:func:`common.plotting.figures_rendered_aside`); a PNG is the same bytes either way (tested).

A run may hand it other work too (``submit``: a module-level function and picklable
arguments), a computation it needs later: the worker imports what that function's module
imports, once.

The worker is started once per process, on first use, and kept for the next run (a sweep's
jobs, a test session); it ends with that process, however it ends. It ignores Ctrl-C: the
run decides what a stop means. It is spawned, a fresh interpreter, which imports the
script that started the run unless that script is a ``-m`` module: a script of yours that
runs a week in its process needs the ``if __name__ == "__main__":`` guard that any
multiprocessing program needs, or ``MATH4ML_THREADS=1`` (figures rendered in the run).
"""

from __future__ import annotations

import importlib
import os
import pickle
import signal
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context, parent_process
from multiprocessing.connection import wait
from pathlib import Path

_worker: ProcessPoolExecutor | None = None


def prepare_worker() -> None:
    """In the worker: no KeyboardInterrupt of its own, an exit as soon as the process that
    started it is gone (killed, or gone without shutdown), and the run's theme. (The theme
    is more than Matplotlib's settings: seaborn also maps the colour codes, "k" is its
    dark grey, so the worker applies it rather than copying ``rcParams``.)"""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=exit_with_parent, daemon=True).start()
    from common.plotting import apply_theme

    apply_theme()


def exit_with_parent() -> None:
    """Wait for the parent process to end, then end this one."""
    wait([parent_process().sentinel])
    os._exit(0)


def render_png(figure_bytes: bytes, path: str, dpi: int) -> str:
    """In the worker: unpickle a figure, lay it out, write it to ``path``; returns ``path``."""
    import matplotlib.pyplot as plt

    fig = pickle.loads(figure_bytes)
    try:
        fig.tight_layout()
        fig.savefig(path, dpi=dpi)
    finally:
        plt.close(fig)
    return path


def submit(fn, *args) -> Future:
    """``fn(*args)`` in the process's one figure worker, started (spawned: a clean
    interpreter) if there is none yet or the last one died."""
    global _worker
    for _ in range(2):
        if _worker is None:
            _worker = ProcessPoolExecutor(
                1, mp_context=get_context("spawn"), initializer=prepare_worker
            )
        try:
            return _worker.submit(fn, *args)
        except BrokenProcessPool:  # the worker died since the last run: start another
            _worker = None
    raise BrokenProcessPool("the figure worker could not be started")


def start_worker() -> None:
    """Start the worker now, so that its imports overlap the run's first steps."""
    submit(int)


def preload(module: str) -> Future | None:
    """Start the worker (with more than one thread; else None) and have it import ``module``
    now, beside this process's own imports, for the work it will be handed from that module."""
    from common.threads import thread_limit

    return submit(import_module_only, module) if thread_limit() > 1 else None


def import_module_only(module: str) -> None:
    """In the worker: import ``module`` (a module object does not pickle back)."""
    importlib.import_module(module)


def render_aside(fig, path: Path, dpi: int) -> Future | None:
    """Hand ``fig`` to the worker, to be written to ``path``; None if it does not pickle."""
    try:
        figure_bytes = pickle.dumps(fig, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return None  # e.g. a formatter that is a lambda: the caller renders it here
    return submit(render_png, figure_bytes, str(path), dpi)
