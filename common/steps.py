"""Named steps of a pipeline, timed: where a run's time goes, in words a learner knows.

A pipeline wraps each of its main steps::

    with step("china: rate search"):
        ...

Each step logs one line when it ends ("china: rate search: 3.2 s"), so a long run shows
progress; inside :func:`recording` (which :func:`common.tracking.run_tracked` opens around
the pipeline) the steps are also collected, in order, for the run's ``steps.json`` and its
end-of-run summary. Outside it a step only logs. Steps may nest; a nested step's time is
also inside its parent's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    name: str
    seconds: float
    depth: int  # 0 for a top-level step, 1 inside one, ...


_steps: ContextVar[list[Step] | None] = ContextVar("steps", default=None)
_depth: ContextVar[int] = ContextVar("step_depth", default=0)


@contextmanager
def recording(steps: list[Step]) -> Iterator[list[Step]]:
    """Append every step that ends inside the block to ``steps`` (also yielded)."""
    token = _steps.set(steps)
    try:
        yield steps
    finally:
        _steps.reset(token)


@contextmanager
def step(name: str) -> Iterator[None]:
    """Time the block as the step ``name``: logged when it ends, recorded if recording.

    A step that raises is not recorded: the run's error says where it stopped.
    """
    depth = _depth.get()
    token = _depth.set(depth + 1)
    start = time.perf_counter()
    try:
        yield
    finally:
        _depth.reset(token)
    seconds = time.perf_counter() - start
    log.info("%s: %.1f s", name, seconds)
    steps = _steps.get()
    if steps is not None:
        steps.append(Step(name, seconds, depth))


def slowest(steps: list[Step], count: int = 5) -> list[Step]:
    """The ``count`` longest top-level steps, longest first."""
    return sorted((s for s in steps if s.depth == 0), key=lambda s: -s.seconds)[:count]
