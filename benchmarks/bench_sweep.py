"""Wall time of one 16-job week-1 sweep: Hydra's basic launcher against the joblib launcher.

Run: ``.venv/bin/python -m benchmarks.bench_sweep``. The sweep is
``patch_codec.target_bpp=0.5,1.0,1.5,2.0 low_rank.rank=2,4,8,16`` on a 96 x 128 crop of
``china.jpg`` with few curve points (the quick settings of the week-1 tests), run as a user
runs it: ``python -m projects.week1_pca -m ...`` in a subprocess, timed from start to exit
(``time.perf_counter``), once per launcher, each on its own copy of an empty store:

- basic: the jobs one after another in the sweep's own process;
- joblib: ``hydra/launcher=joblib hydra.launcher.n_jobs=2``, two worker processes.

Every process gets one BLAS thread (``OMP_NUM_THREADS=1``): the parallelism measured is the
launcher's. ``ratio`` = basic's seconds / these seconds (2 would be perfect on 2 cores; the
workers each pay the imports, and the parent's summary runs after the last job). Each sweep
is checked: its parent FINISHED with 16 FINISHED children.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from sklearn.datasets import load_sample_image

from benchmarks.timing import print_table
from common.paths import REPO_ROOT

SWEEP = ["patch_codec.target_bpp=0.5,1.0,1.5,2.0", "low_rank.rank=2,4,8,16"]
JOBS = 16
SMALL = [
    "low_rank.ranks=[2,8]",
    "patch_codec.curve_bpp=[2.0]",
    "jpeg.qualities=[20,50,80]",
    "pca.n_components=5",
]
LAUNCHERS = {
    "basic": [],
    "joblib (n_jobs=2)": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
}
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def write_crop(path: Path) -> Path:
    Image.fromarray(load_sample_image("china.jpg")[150:246, 250:378]).save(path)
    return path


def empty_store(path: Path) -> Path:
    """An SQLite store with its schema: the migration is not what is timed."""
    from mlflow.tracking import MlflowClient

    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


def time_sweep(launcher: list[str], image: Path, folder: Path, template: Path) -> float:
    """Seconds of one sweep through the CLI on a copy of ``template``; checks what it logged."""
    store = folder / "mlflow.db"
    folder.mkdir()
    shutil.copyfile(template, store)
    command = [sys.executable, "-m", "projects.week1_pca", "-m", f"images=[{image}]", *SMALL,
               *SWEEP, *launcher, f"tracking.uri=sqlite:///{store}",
               f"hydra.sweep.dir={folder / 'sweep'}"]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, env={**os.environ, **ONE_THREAD}
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"sweep failed ({result.returncode}):\n{result.stderr[-3000:]}")
    check_sweep(store)
    return seconds


def check_sweep(store: Path) -> None:
    """One FINISHED parent with JOBS FINISHED children, or the timing means nothing."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{store}")
    runs = client.search_runs([client.get_experiment_by_name("week1").experiment_id])
    statuses = [run.info.status for run in runs]
    if len(runs) != JOBS + 1 or set(statuses) != {"FINISHED"}:
        raise RuntimeError(f"expected {JOBS} children and a parent, all FINISHED: {statuses}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        image = write_crop(folder / "crop.png")
        template = empty_store(folder / "template.db")
        seconds = {
            name: time_sweep(launcher, image, folder / f"sweep{i}", template)
            for i, (name, launcher) in enumerate(LAUNCHERS.items())
        }
    load = os.getloadavg()[0]  # other processes on the machine share the cores
    basic = seconds["basic"]
    rows = [
        {"launcher": name, "seconds": s, "seconds_per_job": s / JOBS, "ratio": basic / s}
        for name, s in seconds.items()
    ]
    print_table(
        f"week 1 sweep of {JOBS} jobs ({' '.join(SWEEP)}), 96 x 128 crop, "
        f"{os.cpu_count()} cores, load average {load:.1f} at the end",
        rows,
        {"seconds": "{:.1f}", "seconds_per_job": "{:.2f}", "ratio": "{:.2f}"},
    )


if __name__ == "__main__":
    main()
