"""``make ui``: MLflow's UI on a run store, and one line once it answers: where to open it.

``mlflow ui`` prints a dozen lines while it starts (and, with this Starlette, a deprecation
warning per worker) and never says when the page can be opened. This starts it with that
warning filtered, waits until ``/health`` answers, then prints::

    MLflow UI ready: http://127.0.0.1:5000 (store sqlite:///.../mlflow.db); Ctrl-C stops it

A port already taken is one line before anything starts. Ctrl-C stops the UI (exit 130).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from common.server import port_taken

STARTUP_TIMEOUT_S = 180  # a busy machine: the UI imports MLflow in each worker
QUIET = "ignore:starlette.middleware.wsgi is deprecated"  # MLflow's, not ours to fix


def answers(url: str) -> bool:
    """Whether ``url`` answers HTTP 200 within 2 s."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def main(argv: list[str] | None = None) -> int:
    """``python -m common.ui --store URI``: the UI, a line once it answers; its exit code."""
    parser = argparse.ArgumentParser(prog="python -m common.ui", description=__doc__.split("\n")[0])
    parser.add_argument("--store", required=True, help="the backend store URI")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    taken = port_taken(args.host, args.port)
    if taken:
        sys.exit(f"error: port {args.port} on {args.host} is in use ({taken}); pass PORT=<another>")
    mlflow = Path(sys.executable).with_name("mlflow")
    env = {**os.environ, "PYTHONWARNINGS": QUIET}
    command = [str(mlflow), "ui", "--backend-store-uri", args.store]
    process = subprocess.Popen([*command, "--host", args.host, "--port", str(args.port)], env=env)
    url = f"http://{args.host}:{args.port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while process.poll() is None and not answers(f"{url}/health"):
            if time.monotonic() > deadline:
                print(f"MLflow UI: no answer on {url} after {STARTUP_TIMEOUT_S} s", flush=True)
                break
            time.sleep(0.5)
        else:
            if process.poll() is None:
                print(f"MLflow UI ready: {url} (store {args.store}); Ctrl-C stops it", flush=True)
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait(timeout=30)
        return 130


if __name__ == "__main__":
    sys.exit(main())
