"""What a learner waits for: each week's default run, whole, and a sweep's cost per job.

Run: ``.venv/bin/python -m benchmarks.bench_pipelines [--repeats 3] [--weeks week3]`` (also in
``make bench``; ``--weeks`` times only these weeks, and the sweep only with week1).
Each week runs as a learner runs it, ``python -m projects.<week>`` with its defaults, in a
subprocess timed from start to exit (``time.perf_counter``: imports, the math, the MLflow
logging and the summary), on a copy of an empty store (its schema made beforehand: a first
run's one-off migration is not what is timed). The weeks take turns, ``repeats`` rounds, so
a drift of the machine spreads over all of them; the table gives the median, min and max
wall time, the peak resident memory of the run's process (``os.wait4``), and the five
slowest named steps of the median run (its ``steps.json``). Then a 16-job week-1 sweep
(:mod:`benchmarks.bench_sweep`'s, with the basic launcher) with ``figures=true`` and
``figures=false``, in seconds per job.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import bench_sweep
from benchmarks.timing import print_table
from common.paths import REPO_ROOT

WEEKS = {
    "week1": "projects.week1_pca",
    "week2": "projects.week2_spam",
    "week3": "projects.week3_regression",
    "week4": "projects.week4_tree_search",
}
TOP_STEPS = 5


def run_week(module: str, store: Path, output_dir: Path) -> tuple[float, float]:
    """(wall seconds, peak resident MB) of one default run of ``module`` into ``store``."""
    command = [sys.executable, "-m", module, f"tracking.uri=sqlite:///{store}",
               f"hydra.run.dir={output_dir}"]  # fmt: skip
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)  # the child's own peak memory
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{module} failed ({code}):\n{stderr[-3000:].decode()}")
    return seconds, usage.ru_maxrss / 1024  # Linux: kilobytes


def newest_steps(store: Path, week: str) -> list[dict]:
    """The named steps of the newest run of ``week`` in ``store``."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{store}")
    experiment = client.get_experiment_by_name(week)
    [run] = client.search_runs(
        [experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=1
    )
    path = client.download_artifacts(run.info.run_id, "steps.json")
    return json.loads(Path(path).read_text())["steps"]


def top_steps(steps: list[dict]) -> str:
    """``name 3.1 s; ...``: the slowest top-level steps."""
    top = sorted((s for s in steps if s["depth"] == 0), key=lambda s: -s["seconds"])
    return "; ".join(f"{s['name']} {s['seconds']:.1f} s" for s in top[:TOP_STEPS])


def time_weeks(folder: Path, template: Path, repeats: int, weeks=tuple(WEEKS)) -> list[dict]:
    """One row per week of ``weeks``: wall time statistics, peak memory, the median run's
    slowest steps."""
    store = folder / "mlflow.db"
    shutil.copyfile(template, store)
    times: dict[str, list[tuple[float, float, str]]] = {week: [] for week in weeks}
    for round_ in range(repeats):
        for week in weeks:
            module = WEEKS[week]
            seconds, peak_mb = run_week(module, store, folder / f"{week}-{round_}")
            times[week].append((seconds, peak_mb, top_steps(newest_steps(store, week))))
    rows = []
    for week, runs in times.items():
        walls = [seconds for seconds, _, _ in runs]
        median_run = sorted(runs)[len(runs) // 2]
        rows.append({"week": week, "median_s": statistics.median(walls), "min_s": min(walls),
                     "max_s": max(walls), "peak_MB": max(peak for _, peak, _ in runs),
                     "steps": median_run[2]})  # fmt: skip
    return rows


def time_sweeps(folder: Path, template: Path) -> list[dict]:
    """Seconds per job of bench_sweep's 16-job sweep, basic launcher, figures on and off."""
    image = bench_sweep.write_crop(folder / "crop.png")
    rows = []
    for figures in ("true", "false"):
        seconds = bench_sweep.time_sweep(
            [f"figures={figures}"], image, folder / f"sweep-figures-{figures}", template
        )
        rows.append({"figures": figures, "seconds": seconds,
                     "seconds_per_job": seconds / bench_sweep.JOBS})  # fmt: skip
    return rows


def main(repeats: int = 3, weeks=tuple(WEEKS)) -> None:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # steps.json reads
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        template = bench_sweep.empty_store(folder / "template.db")
        week_rows = time_weeks(folder, template, repeats, weeks)
        load_weeks = os.getloadavg()[0]
        sweep_rows = time_sweeps(folder, template) if "week1" in weeks else []
        load_sweeps = os.getloadavg()[0]
    steps = {row["week"]: row.pop("steps") for row in week_rows}
    print_table(
        f"default run of each week, {repeats} rounds, {os.cpu_count()} cores, "
        f"load average {load_weeks:.1f} at the end",
        week_rows,
        {"median_s": "{:.1f}", "min_s": "{:.1f}", "max_s": "{:.1f}", "peak_MB": "{:.0f}"},
    )
    print(f"\nthe {TOP_STEPS} slowest named steps of each week's median run:")
    print("\n".join(f"  {week}: {line}" for week, line in steps.items()))
    if not sweep_rows:
        return
    print_table(
        f"\nweek-1 sweep of {bench_sweep.JOBS} jobs, basic launcher, 96 x 128 crop, "
        f"one BLAS thread, load average {load_sweeps:.1f} at the end",
        sweep_rows,
        {"seconds": "{:.1f}", "seconds_per_job": "{:.2f}"},
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="rounds of the four weeks")
    parser.add_argument("--weeks", nargs="+", choices=list(WEEKS), default=list(WEEKS),
                        help="time only these weeks (the sweep only with week1)")  # fmt: skip
    arguments = parser.parse_args()
    main(arguments.repeats, tuple(arguments.weeks))
