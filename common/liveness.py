"""Which process owns a RUNNING run, and whether it is still alive.

A run killed with SIGKILL (the OOM killer, a dropped remote shell) has no chance to mark
itself: it stays RUNNING in the store forever. So every run records its owner as tags
(``process.host``, ``process.pid`` and ``process.started``, the process's start time in
clock ticks since boot, which tells a live process from a later one that reuses the pid).
A RUNNING run whose owner, on this host, is gone is *stale*; ``make runs`` marks it and
``make close-stale`` ends it as KILLED.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path

HOST_TAG, PID_TAG, STARTED_TAG = "process.host", "process.pid", "process.started"


def start_ticks(pid: int) -> str | None:
    """Field 22 of ``/proc/<pid>/stat`` (start time since boot); None if no such process, or
    if it has ended and waits to be reaped (a zombie: an orphan where PID 1 reaps nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # the command name may hold spaces
    return None if fields[0] == "Z" else fields[19]  # fields after ")" start at field 3


def process_tags(pid: int | None = None) -> dict[str, str]:
    """The owner tags of a run opened by process ``pid`` (default: this one)."""
    pid = os.getpid() if pid is None else pid
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(pid), STARTED_TAG: start_ticks(pid) or ""}


def owner_alive(tags: Mapping[str, str]) -> bool | None:
    """True or False for a run owned by a process of this host; None if that cannot be told
    (another host, a run logged before owners were recorded, or a system without ``/proc``,
    where no start time was recorded)."""
    if tags.get(HOST_TAG) != socket.gethostname() or not tags.get(PID_TAG, "").isdigit():
        return None
    if not tags.get(STARTED_TAG):
        return None
    started = start_ticks(int(tags[PID_TAG]))
    return started is not None and started == tags.get(STARTED_TAG)


def is_stale(status: str, tags: Mapping[str, str]) -> bool:
    """A RUNNING run whose owning process on this host is gone."""
    return status == "RUNNING" and owner_alive(tags) is False
