"""Did anything unpickle? Every class a pickle load looks up (``pickle``, ``_pickle``,
``cloudpickle``, ``np.load(allow_pickle=True)``) raises the audit event ``pickle.find_class``;
a hook installed once per process records those inside ``unpickled_classes()``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PICKLE_SUFFIXES = {".pkl", ".pickle", ".cloudpickle", ".joblib"}
_recording: list[list[tuple]] = []


def _record(event: str, args: tuple) -> None:
    if event == "pickle.find_class" and _recording:
        _recording[-1].append(args)


@contextmanager
def unpickled_classes() -> Iterator[list[tuple]]:
    """The (module, name) of each class unpickled inside the block, in a list filled as it runs."""
    if not hasattr(sys, "_math4ml_pickle_hook"):  # audit hooks cannot be removed: add one
        sys.addaudithook(_record)
        sys._math4ml_pickle_hook = True
    found: list[tuple] = []
    _recording.append(found)
    try:
        yield found
    finally:
        _recording.remove(found)


def pickle_files(folder: str | Path) -> list[str]:
    """The files under ``folder`` whose names say pickle (``.pkl``, ``.joblib``, ...)."""
    return sorted(str(p) for p in Path(folder).rglob("*") if p.suffix in PICKLE_SUFFIXES)
