"""Open the run store safely, or say in one line why it cannot be used.

Every command that reads or writes runs (a week's run, a sweep's parent, ``make runs``,
``make reproduce``, ``make predict-week2``, ``make check``) calls :func:`exit_if_unusable`
before it touches the store:

- a tracking server (``http://``) must answer, and be MLflow's tracking server: a model
  server on the same port answers ``/health`` too (:func:`common.server.check_reachable`);
- a SQLite file must be writable, and is created under a lock: MLflow builds a new store's
  schema with a dozen migrations, and two processes that do that at once leave a store
  that no later run can open (``table _alembic_tmp_params already exists``). The first
  process builds it while the others wait on ``<store>.lock``; once built, opening it takes
  the lock for a moment only;
- a store a crash left half-migrated (an ``_alembic_tmp_*`` table) is refused with what to do;
- a SQLite store keeps a write-ahead log (:func:`use_write_ahead_log`): each MLflow call is
  one commit, and a commit that appends to ``<store>-wal`` costs a fraction of one that
  rewrites a rollback journal.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import sqlite3
import sys
from contextlib import closing, suppress
from pathlib import Path

from common.server import ServerUnreachable, check_reachable

EXIT_UNUSABLE = 1
LOCK_SUFFIX = ".lock"


class StoreUnusable(RuntimeError):
    """A run store that cannot be used; the message is the one line a user sees."""


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` store (None for any other store)."""
    if tracking_uri.startswith("sqlite:///"):
        return Path(tracking_uri.removeprefix("sqlite:///"))
    return None


def leftover_migration(database: Path) -> str | None:
    """The name of an ``_alembic_tmp_*`` table in ``database``, if a migration died there."""
    if not database.is_file() or database.stat().st_size == 0:
        return None
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '\\_alembic\\_tmp%'"
            " ESCAPE '\\'"
        ).fetchall()
    return rows[0][0] if rows else None


def check_writable(database: Path) -> None:
    """StoreUnusable unless the file (or, for a new store, its folder) can be written."""
    folder = database.parent
    if not folder.is_dir():
        raise StoreUnusable(f"run store {database}: folder {folder} does not exist: create it")
    for path in (database, folder):  # SQLite writes a journal beside the file
        if path.exists() and not os.access(path, os.W_OK):
            raise StoreUnusable(
                f"run store {database}: {path} is read-only: make it writable "
                f"(chmod u+w '{path}') or point MLFLOW_TRACKING_URI at another store"
            )


def initialize(tracking_uri: str, database: Path) -> None:
    """Build (or just open) the SQLite store under its lock file; refuse a broken one."""
    from mlflow.tracking import MlflowClient

    lock_path = database.with_name(database.name + LOCK_SUFFIX)
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        broken = leftover_migration(database)
        if broken:
            raise StoreUnusable(
                f"run store {database} was left half-migrated (table {broken} exists), "
                f"so no run can use it: move it aside (mv '{database}' '{database}.broken') "
                "and run again for a new store"
            )
        use_write_ahead_log(database)  # before MLflow's first connection to it
        try:
            MlflowClient(tracking_uri).search_experiments(max_results=1)
        except Exception as error:  # sqlite: full disk, not a database, locked for good
            first = f"{type(error).__name__}: {error}".splitlines()[0][:300]
            raise StoreUnusable(f"run store {database} cannot be opened: {first}") from None


_logged_to: set[Path] = set()  # the stores use_write_ahead_log opened in this process


def use_write_ahead_log(database: Path) -> None:
    """Put the store in SQLite's WAL journal mode (a setting kept in the file) and sync
    this process's connections to it at checkpoints only (``synchronous=NORMAL``).

    A run's commits then survive a crash of the process; a power cut may lose the last
    few, never the file. A store that is read-only or busy in another process keeps
    its mode: it works as before, only slower.
    """
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    with suppress(sqlite3.Error), closing(sqlite3.connect(database, timeout=0.1)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
    if not event.contains(Engine, "connect", sync_at_checkpoints):
        event.listen(Engine, "connect", sync_at_checkpoints)
    if not _logged_to:
        atexit.register(checkpoint_at_exit)
    _logged_to.add(database.resolve())


def checkpoint_at_exit() -> None:
    """Move every commit of the write-ahead log into the store file and empty the log, so
    that ``mlflow.db`` alone holds every run once the process is gone. (The last
    connection to close does this too; a command that exits without freeing its objects,
    :mod:`common.entry`, closes none.)"""
    for database in _logged_to:
        uri = f"{database.as_uri()}?mode=rw"  # a store deleted since is not made again
        with suppress(sqlite3.Error), closing(sqlite3.connect(uri, uri=True, timeout=1)) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def sync_at_checkpoints(dbapi_connection, _record) -> None:
    """``synchronous=NORMAL`` on a new SQLite connection to a store in WAL mode (safe
    there; in the rollback-journal mode it is left FULL)."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return  # postgresql:// and other stores
    (mode,) = dbapi_connection.execute("PRAGMA journal_mode").fetchone()
    if mode == "wal":
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def check_usable(tracking_uri: str, write: bool = True) -> None:
    """StoreUnusable (or ServerUnreachable) unless runs can be read (and, with ``write``,
    written) there. A command that only reads (``make runs``) passes ``write=False``."""
    database = sqlite_path(tracking_uri)
    if database is None:
        check_reachable(tracking_uri)  # nothing to check for other URIs (postgresql://)
        return
    if write:
        check_writable(database)
    elif not database.is_file():
        raise StoreUnusable(f"no run store at {database}: start a run first, e.g. `make week1`")
    initialize(tracking_uri, database)


def exit_if_unusable(tracking_uri: str, write: bool = True) -> None:
    """:func:`check_usable` for a command line: the one line on stderr, exit status 1.

    Called before a run is opened: no run exists yet, so none is left RUNNING.
    """
    try:
        check_usable(tracking_uri, write)
    except (StoreUnusable, ServerUnreachable) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_UNUSABLE)
