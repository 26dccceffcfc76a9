"""How many threads the native thread pools of a run may use: one deliberate setting.

NumPy's OpenBLAS starts one thread per core and lets idle threads spin while they wait for
work. On a machine whose cores are busy with other processes (a sweep's parallel jobs,
other users), those threads queue behind everything else at every synchronisation: the
SVDs of a 427 x 640 x 3 image took 14.5 s with 2 threads and 0.7 s with 1 on 2 loaded cores.
So every run limits the pools at its edge, around the pipeline, to

    $MATH4ML_THREADS if set (a positive integer), else the number of physical cores.

The limit only lowers (a pool already held lower stays so) and covers the pools
threadpoolctl finds when the run starts (BLAS: OpenBLAS, MKL; OpenMP) and, when the run has
imported torch, torch's intra-op pool (``torch.set_num_threads``); a library loaded later
keeps its settings.

Threads a pipeline starts itself come from :class:`ContextThreadPool`, which runs each call
in the context of the code that submitted it: the context variables of a run (the learner's
functions under ``impl=mine``, the ``figures`` switch) hold in its threads as in the caller.
"""

from __future__ import annotations

import contextvars
import os
import sys
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

THREADS_ENV = "MATH4ML_THREADS"


def physical_cores() -> int:
    """Physical cores this process may use (affinity and cgroup quotas counted), at least 1."""
    from joblib import cpu_count  # ships with scikit-learn

    return max(1, cpu_count(only_physical_cores=True))


def thread_limit(environ: Mapping[str, str] = os.environ) -> int:
    """``$MATH4ML_THREADS`` as a positive int, else ``physical_cores()``; ValueError if bad."""
    value = environ.get(THREADS_ENV, "").strip()
    if not value:
        return physical_cores()
    if not value.isdigit() or int(value) < 1:
        raise ValueError(
            f"{THREADS_ENV} must be a positive integer (threads per run), got {value!r}: "
            f"set it to e.g. 1, or unset it for the number of physical cores"
        )
    return int(value)


@contextmanager
def limited_threads(limit: int) -> Iterator[int]:
    """At most ``limit`` threads in every BLAS and OpenMP pool while the block runs.

    A pool already held lower (by a caller, a test, ``OPENBLAS_NUM_THREADS``) stays as it
    is: the limit only lowers. Yields the largest number of threads a pool is left with.
    """
    from threadpoolctl import threadpool_info, threadpool_limits

    current = {}
    for pool in threadpool_info():
        api = pool["user_api"]
        current[api] = min(current.get(api, pool["num_threads"]), pool["num_threads"])
    limits = {api: min(limit, threads) for api, threads in current.items()}
    with threadpool_limits(limits=limits), torch_threads(limit) as torch_limit:
        yield max([*limits.values(), *torch_limit], default=limit)


@contextmanager
def torch_threads(limit: int) -> Iterator[list[int]]:
    """At most ``limit`` torch intra-op threads in the block, if torch is loaded: yields
    ``[threads]`` then, else ``[]``."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield []
        return
    before = torch.get_num_threads()
    torch.set_num_threads(min(limit, before))
    try:
        yield [torch.get_num_threads()]
    finally:
        torch.set_num_threads(before)


class ContextThreadPool(ThreadPoolExecutor):
    """A ``ThreadPoolExecutor`` whose calls (``submit``, and ``map`` through it) run in a copy
    of the submitting code's context: a plain pool runs them in an empty one, so a
    ``ContextVar`` set around the pipeline would read its default there."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        """``fn(*args, **kwargs)`` in a worker, in a copy of this thread's current context."""
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


def finished(result) -> Future:
    """A Future already holding ``result``."""
    future = Future()
    future.set_result(result)
    return future


class InCaller(ContextThreadPool):
    """An executor without threads: ``submit`` runs the call at once and returns it done."""

    def __init__(self):
        super().__init__(max_workers=1)  # never started: no call reaches its queue

    def submit(self, fn, /, *args, **kwargs) -> Future:
        """``fn(*args, **kwargs)`` now, in the caller's thread, as a finished Future."""
        return finished(fn(*args, **kwargs))
