"""Per-run tracking overhead: what ``run_tracked`` costs around a pipeline that does nothing.

Run: ``.venv/bin/python -m benchmarks.bench_tracking`` (not in ``make bench``: it starts a
server). Each store gets ``RUNS`` runs of ``run_tracked`` with a pipeline that returns at once,
after one uncounted run that creates the store's schema and the experiment. A run's wall time
(``time.perf_counter``) is then all overhead: the reachability check, the experiment look-up,
git and library provenance, start_run, the config as params, the headline metric, end_run.

Stores: a fresh SQLite file (the default local store), and ``mlflow server`` on 127.0.0.1 as
``make server`` starts it (its own SQLite backend, served artifacts, 2 uvicorn workers), whose
every call is an HTTP request. Medians; min and max show the spread.

Then one ``log_metric`` call, the unit of a week's logging, against two SQLite stores side by
side in alternating rounds: MLflow's default (rollback journal, ``synchronous=FULL``) and ours
(:func:`common.store.use_write_ahead_log`: WAL, ``synchronous=NORMAL``).
"""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

from omegaconf import OmegaConf

from benchmarks.timing import print_table
from common.config import BaseConfig, TrackingConfig
from common.server import check_reachable, server_command, server_env
from common.store import use_write_ahead_log
from common.tracking import run_tracked
from tests.servers import free_port, running

RUNS = 20
CHECKS = 50  # reachability checks timed on their own
METRIC_CALLS, ROUNDS = 25, 8  # log_metric calls per round, alternating rounds per store
SERVER_START_TIMEOUT = 180  # s


def idle_pipeline(cfg) -> float:
    return 0.0


def run_times_ms(tracking_uri: str, runs: int = RUNS) -> list[float]:
    """Wall milliseconds of ``runs`` tracked runs of :func:`idle_pipeline` in ``tracking_uri``."""
    config = BaseConfig(tracking=TrackingConfig(uri=tracking_uri, experiment="bench_tracking"))
    cfg = OmegaConf.structured(config)
    times = []
    for _ in range(runs + 1):  # the first creates the schema and the experiment: not counted
        with redirect_stdout(io.StringIO()):  # MLflow prints a "View run" line per server run
            start = time.perf_counter()
            run_tracked(cfg, "bench_tracking", idle_pipeline)
            times.append(1000 * (time.perf_counter() - start))
    return times[1:]


def check_times_ms(uri: str, checks: int = CHECKS) -> list[float]:
    times = []
    for _ in range(checks):
        start = time.perf_counter()
        check_reachable(uri)
        times.append(1000 * (time.perf_counter() - start))
    return times


def log_metric_times_ms(folder: Path) -> dict[str, list[float]]:
    """Wall milliseconds per ``log_metric`` call, rollback journal against WAL, alternating."""
    from mlflow.tracking import MlflowClient

    runs = {}
    for journal in ("rollback journal", "WAL"):
        database = folder / f"{journal.replace(' ', '_')}.db"
        if journal == "WAL":
            use_write_ahead_log(database)
        client = MlflowClient(f"sqlite:///{database}")
        experiment = client.create_experiment("bench_tracking")
        runs[journal] = (client, client.create_run(experiment).info.run_id)
    times = {journal: [] for journal in runs}
    for step in range(ROUNDS):
        for journal, (client, run_id) in runs.items():
            start = time.perf_counter()
            for call in range(METRIC_CALLS):
                client.log_metric(run_id, "m", float(call), step=step * METRIC_CALLS + call)
            times[journal].append(1000 * (time.perf_counter() - start) / METRIC_CALLS)
    return times


def row(store: str, what: str, times: list[float]) -> dict:
    return {
        "store": store,
        "what": what,
        "n": len(times),
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "max_ms": max(times),
    }


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-tracking-") as folder:
        folder = Path(folder)
        (folder / "local").mkdir()
        local = f"sqlite:///{folder / 'local' / 'mlflow.db'}"
        rows.append(row("SQLite file", "tracked run", run_times_ms(local)))

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = server_command(f"sqlite:///{folder / 'server.db'}", folder / "served", port=port)
        log_path = folder / "server.log"
        with running(command, f"{url}/health", log_path, SERVER_START_TIMEOUT, server_env()):
            rows.append(row("mlflow server", "tracked run", run_times_ms(url)))
            rows.append(row("mlflow server", "check_reachable", check_times_ms(url)))
        for journal, times in log_metric_times_ms(folder).items():
            rows.append(row(f"SQLite file, {journal}", "log_metric", times))
    print_table(
        f"per-run tracking overhead, pipeline that returns at once; {RUNS} runs per store "
        "after one uncounted",
        rows,
        {"median_ms": "{:.1f}", "min_ms": "{:.1f}", "max_ms": "{:.1f}"},
    )


if __name__ == "__main__":
    main()
