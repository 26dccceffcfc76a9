"""The progress bar of a training loop, at the pipeline's edge: the math only calls back.

The optimizers take ``callback(step, loss, grad_norm)``; :func:`step_bar` is one such callback
that draws a tqdm bar of the steps, shown only once the loop has run for ``DELAY_S``: a run
that converges in 30 steps of 20,001 draws none.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

DELAY_S = 2.0  # a loop shorter than this shows no progress bar


@contextlib.contextmanager
def step_bar(max_steps: int, enabled: bool) -> Iterator[Callable]:
    """``with step_bar(20_000, True) as tick: lbfgs(..., callback=tick)``: one tick a step."""
    from tqdm.auto import tqdm

    with tqdm(
        total=max_steps + 1, disable=not enabled, desc="steps", leave=False, delay=DELAY_S
    ) as bar:
        yield lambda step, loss, grad_norm: bar.update()
