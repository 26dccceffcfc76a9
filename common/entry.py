"""How a week's command ends: as Python ends a process, minus freeing every object first.

At exit Python waits for the process's threads, runs the ``atexit`` handlers (MLflow ends
its run, logging closes its files) and then frees every module and object one by one:
1 to 2 s after a run that loaded torch, MLflow and scikit-learn, for memory the operating
system takes back at once. A week's entry point calls :func:`run_then_exit`, which does
the first two and skips the third. Under a profiler or a debugger (``python -m cProfile``,
``pdb``, coverage), which do their work when the program returns, and where Python's own
shutdown steps (private functions) are missing, the command exits the usual way.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import NoReturn


def run_then_exit(main: Callable[[], object]) -> NoReturn:
    """Run ``main()`` and exit with its status, without the interpreter's teardown.

    An exception other than ``SystemExit`` goes on as usual (traceback, exit 1).
    """
    try:
        main()
        status = 0
    except SystemExit as stop:
        status = exit_status(stop.code)
    shutdown_threads = getattr(threading, "_shutdown", None)
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    watched = sys.getprofile() is not None or sys.gettrace() is not None
    if watched or shutdown_threads is None or run_exit_handlers is None:
        sys.exit(status)
    shutdown_threads()  # joins the threads and stops the executors, as exit does first
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed pipe (``| head``) or stream
            stream.flush()
    os._exit(status)


def exit_status(code: object) -> int:
    """The status ``sys.exit(code)`` gives: None is 0, an int itself, anything else is
    printed to stderr and is 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
