"""Real servers in tests: a free loopback port, waiting for an answer, stopping a process group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common.paths import REPO_ROOT


def free_port() -> int:
    """A TCP port nobody listens on now: the one the kernel picks for port 0."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_until_up(url: str, process: subprocess.Popen, log_path: Path, timeout: float) -> None:
    """Poll ``url`` until it answers 200; fail with the server's log if it dies or stays silent."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no answer on {url} in {timeout} s:\n{tail(log_path)}")
        time.sleep(0.5)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@contextmanager
def running(
    command: list[str], health_url: str, log_path: Path, timeout: float, env: dict | None = None
) -> Iterator[subprocess.Popen]:
    """``command`` (a server) in a process group of its own, its output in ``log_path``:
    up once ``health_url`` answers 200; the whole group stopped on leaving the block."""
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # make, mlflow and its workers in one group
        )
    try:
        wait_until_up(health_url, process, log_path, timeout)
        yield process
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the whole process group (servers spawn workers), SIGKILL if it lingers."""
    for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        deadline = time.monotonic() + grace  # the leader is gone; workers may still be closing
        while time.monotonic() < deadline and group_alive(process.pid):
            time.sleep(0.2)
        if not group_alive(process.pid):
            break
    process.wait(timeout=10)
