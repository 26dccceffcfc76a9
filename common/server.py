"""A shared MLflow tracking server, and a check that answers in seconds whether one is up.

``make server`` runs ``python -m common.server``, which execs ``mlflow server`` on 127.0.0.1
with a database backend (SQLite at the repository root by default; PostgreSQL with
``--backend-store-uri postgresql://user@host:port/db``) and artifacts served through the server
(``--serve-artifacts``: clients upload and download over HTTP, they need no shared disk).
Runs reach it with ``MLFLOW_TRACKING_URI=http://127.0.0.1:5005``.

MLflow's client retries a refused connection 7 times with exponential backoff, minutes
in all. :func:`check_reachable` asks the server's ``/health`` once, with a short timeout,
before a run is opened: a server that is down costs one clear line, not minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from common.paths import REPO_ROOT

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5005
DEFAULT_BACKEND_URI = f"sqlite:///{REPO_ROOT / 'mlflow-server.db'}"
DEFAULT_ARTIFACTS_DIR = REPO_ROOT / "mlartifacts-server"
DEFAULT_WORKERS = 2  # uvicorn worker processes; MLflow's default of 4 crowds a 2-core machine
REACH_TIMEOUT_S = 5.0
TRACKING_PROBE = "/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default"
MAX_PROBE_BYTES = 65536
SERVER_ENV_DEFAULTS = {
    # The GenAI job runner (judges, trace roll-ups) adds 7 processes and nothing these weeks use.
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
}
DRIVER_PACKAGES = {  # the database driver module SQLAlchemy imports -> the pip package with it
    "psycopg": "psycopg[binary]",  # postgresql:// since SQLAlchemy 2.1
    "psycopg2": "psycopg2-binary",  # postgresql+psycopg2://, and postgresql:// before 2.1
    "MySQLdb": "mysqlclient",
}


class ServerUnreachable(ConnectionError):
    """A tracking server that does not answer; the message is the one line a user sees."""


def server_command(
    backend_uri: str = DEFAULT_BACKEND_URI,
    artifacts_dir: Path | str = DEFAULT_ARTIFACTS_DIR,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    workers: int = DEFAULT_WORKERS,
) -> list[str]:
    """The ``mlflow server`` command line: runs in ``backend_uri``, artifacts served from
    ``artifacts_dir`` (the server reads and writes them; clients go through HTTP)."""
    return [
        *(sys.executable, "-m", "mlflow", "server"),
        *("--backend-store-uri", backend_uri),
        *("--serve-artifacts", "--artifacts-destination", str(artifacts_dir)),
        *("--host", host, "--port", str(port), "--workers", str(workers)),
    ]


def server_env(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """``environ`` with :data:`SERVER_ENV_DEFAULTS` where it does not set them already."""
    return {**SERVER_ENV_DEFAULTS, **environ}


def missing_driver(backend_uri: str) -> str | None:
    """The pip package holding the database driver ``backend_uri`` needs, if it is missing.

    SQLAlchemy picks the driver from the URI (``postgresql://``: psycopg since SQLAlchemy 2.1,
    ``postgresql+psycopg2://``: psycopg2); None if it imports, or for a URI that is no database.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(backend_uri).get_dialect().import_dbapi()
    except ArgumentError:  # not a SQLAlchemy URL (file:///...): MLflow reports it
        return None
    except ModuleNotFoundError as missing:
        return DRIVER_PACKAGES.get(missing.name, missing.name)
    return None


def redacted(uri: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``, for messages."""
    password = urllib.parse.urlsplit(uri).password
    return uri.replace(f":{password}@", ":***@", 1) if password else uri


def health_url(uri: str) -> str:
    """``http://user:pw@host:5005/prefix`` -> ``http://host:5005/prefix/health`` (no credentials:
    MLflow sends them from ``MLFLOW_TRACKING_USERNAME``/``PASSWORD``, urllib cannot from a URL)."""
    parts = urllib.parse.urlsplit(uri)
    netloc = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(
        (parts.scheme, netloc, parts.path.rstrip("/") + "/health", "", "")
    )


def failure_reason(error: BaseException, timeout_s: float) -> str:
    """A few words for why a connection failed: ``connection refused``, ``no answer in 5 s``."""
    if isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException):
        error = error.reason
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return f"no answer in {timeout_s:g} s"
    if isinstance(error, socket.gaierror):
        return "unknown host"
    return f"{type(error).__name__}: {error}"


def check_reachable(uri: str, timeout_s: float = REACH_TIMEOUT_S) -> None:
    """Raise :class:`ServerUnreachable` unless an ``http(s)://`` URI is an MLflow tracking
    server that answers.

    ``/health`` answers below 500 count (an auth proxy's 401 too: MLflow reports auth
    itself); a 5xx is a proxy in front of a server that is down. Then one REST call tells a
    tracking server from anything else that answers ``/health`` (a model server):
    MLflow answers it with JSON. Other URIs (``sqlite:///``, ``postgresql://``) are not
    servers: nothing to check.
    """
    if urllib.parse.urlsplit(uri).scheme not in ("http", "https"):
        return
    reason = unhealthy(uri, timeout_s)
    if reason is not None:
        raise ServerUnreachable(
            f"tracking server {redacted(uri)} is not reachable ({reason}); "
            "start it with `make server`, or unset MLFLOW_TRACKING_URI (and tracking.uri) "
            "to use the local store"
        )
    reason = not_mlflow(uri, timeout_s)
    if reason is not None:
        raise ServerUnreachable(
            f"{redacted(uri)} is not an MLflow tracking server ({reason}); point "
            "MLFLOW_TRACKING_URI (or tracking.uri) at `make server`'s address, or unset it"
        )


def get(url: str, timeout_s: float) -> tuple[int, bytes]:
    """(HTTP status, body) of a GET; OSError or ValueError if no answer."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            return answer.status, answer.read(MAX_PROBE_BYTES)
    except urllib.error.HTTPError as answer:
        return answer.code, answer.read(MAX_PROBE_BYTES)


def unhealthy(uri: str, timeout_s: float) -> str | None:
    """Why ``/health`` does not answer, or None if it does."""
    try:
        status, _ = get(health_url(uri), timeout_s)
    except (OSError, ValueError) as error:  # URLError, refused, timeout; ValueError: bad port
        return failure_reason(error, timeout_s)
    return f"HTTP {status} on /health" if status >= 500 else None


def not_mlflow(uri: str, timeout_s: float) -> str | None:
    """Why the server is not an MLflow tracking server, or None if it is (or may be)."""
    url = api_url(uri, TRACKING_PROBE)
    try:
        status, body = get(url, timeout_s)
    except (OSError, ValueError) as error:
        return failure_reason(error, timeout_s)
    if status in (401, 403):  # behind authentication: MLflow's client reports it
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and ("experiment" in answer or "error_code" in answer):
        return None
    return (
        f"it answers /health but gives HTTP {status}, not MLflow's JSON, on "
        f"{TRACKING_PROBE.split('?')[0]}: a model server, e.g. `make serve-week2`?"
    )


def api_url(uri: str, path: str) -> str:
    """``http://host:5005/prefix`` + ``path``, without credentials (as :func:`health_url`)."""
    return health_url(uri).removesuffix("/health") + path


def port_taken(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (``Address already in use``), or None."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
        try:
            probe.bind((host, port))
        except OSError as error:
            return error.strerror or str(error)
    return None


def server_parser() -> argparse.ArgumentParser:
    """The options of ``python -m common.server``."""
    parser = argparse.ArgumentParser(
        prog="python -m common.server", description="A shared MLflow tracking server."
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="interface to bind (%(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port to listen on (%(default)s)"
    )
    parser.add_argument(
        "--backend-store-uri",
        default=DEFAULT_BACKEND_URI,
        help="where runs are stored: sqlite:///... or postgresql://user@host:port/db",
    )
    parser.add_argument(
        "--artifacts-destination",
        default=str(DEFAULT_ARTIFACTS_DIR),
        help="folder the server keeps artifacts in (%(default)s)",
    )
    parser.add_argument(
        "--workers", type=int, default=DEFAULT_WORKERS, help="uvicorn workers (%(default)s)"
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    """``python -m common.server [--port 5005] [--backend-store-uri URI]``: ``mlflow server``."""
    parser = server_parser()
    args = parser.parse_args(argv)
    package = missing_driver(args.backend_store_uri)
    if package:
        parser.error(
            f"--backend-store-uri {args.backend_store_uri.split(':', 1)[0]}://... needs the "
            f"package {package}: `.venv/bin/pip install '{package}'`"
        )
    taken = port_taken(args.host, args.port)
    if taken:
        sys.exit(f"error: port {args.port} on {args.host} is in use ({taken}); pass SERVER_PORT=")
    command = server_command(
        args.backend_store_uri, args.artifacts_destination, args.host, args.port, args.workers
    )
    address = f"http://{args.host}:{args.port}"
    print(
        f"MLflow server on {address}, runs in {redacted(args.backend_store_uri)}, "
        f"artifacts in {args.artifacts_destination}. Point runs at it with\n"
        f"  export MLFLOW_TRACKING_URI={address}",
        flush=True,
    )
    # exec: this process becomes the server; Ctrl-C and SIGTERM reach mlflow directly.
    os.execve(sys.executable, command, server_env())


if __name__ == "__main__":
    main()
