"""A sweep on an existing Ray cluster (`hydra/launcher=ray`): one parent, a child per job.

Slow (a Ray head node, three week-3 jobs in its workers): run with ``pytest -m slow``. Needs
the ``ray`` extra (``pip install -e '.[ray]'``). The test starts its own head node with
``ray start --head`` on free loopback ports, in a process group of its own and a temporary
folder, points the launcher at it with ``hydra.launcher.ray.init.address``, then stops the
group. The node starts without ``$MATH4ML_PARENT_RUN_ID``, as a real cluster does: its
workers see the parent run only through what :mod:`common.sweep` forwards in ``runtime_env``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from common.paths import REPO_ROOT
from common.sweep import PARENT_TAG
from common.tracking import JOB_TAG, PARENT_RUN_ENV
from tests.servers import free_port, group_alive, stop_group

pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason="pip install -e '.[ray]'")

pytestmark = pytest.mark.slow

RAY = Path(sys.executable).with_name("ray")
RAY_START_TIMEOUT = 120  # s: `ray start` returns once the head node is up
QUICK_WEEK3 = ["tasks=[logistic]", "compare_steps=10", "progress=false"]
SEEDS = [0, 1, 2]
TOKEN = secrets.token_hex(32)


def ray_env() -> dict[str, str]:
    """This environment, without a parent run id, for the head node and the sweep alike.

    Ray resolves 127.0.0.1 to the machine's outward address unless told it runs alone (a
    private switch, meant for laptops): every Ray socket stays on loopback. The cluster's
    token is the test's own, so no ``~/.ray/auth_token`` is read or written.
    """
    return {key: value for key, value in os.environ.items() if key != PARENT_RUN_ENV} | {
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": TOKEN,
    }


def processes_in_group(pgid: int) -> list[str]:
    """Command lines of the live (not zombie) processes of group ``pgid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
            cmdline = stat.with_name("cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            found.append(cmdline.strip())
    return found


@pytest.fixture
def ray_head():
    """A Ray head node of this test's own on loopback: (its address, its process group id)."""
    folder = Path(tempfile.mkdtemp(prefix="ray-"))  # short: Ray's socket paths have a limit
    port = free_port()
    command = [
        *(str(RAY), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}"),
        *(f"--ray-client-server-port={free_port()}", f"--dashboard-port={free_port()}"),
        *("--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"),
        f"--temp-dir={folder}",
    ]
    env = ray_env()
    log_path = folder / "start.log"
    with log_path.open("w") as log_file:
        starter = subprocess.Popen(
            command, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )  # its daemons stay in its process group after it returns
    try:
        assert starter.wait(timeout=RAY_START_TIMEOUT) == 0, log_path.read_text()[-3000:]
        yield f"127.0.0.1:{port}", starter.pid
    finally:
        stop_group(starter)
        assert processes_in_group(starter.pid) == []
        assert not group_alive(starter.pid)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_sweep_on_an_existing_ray_cluster_is_one_parent_with_a_child_per_job(ray_head, tmp_path):
    from mlflow.tracking import MlflowClient

    address, pgid = ray_head
    store = tmp_path / "brand_new" / "mlflow.db"  # no schema yet: the parent creates it
    store.parent.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "projects.week3_regression", "-m", *QUICK_WEEK3,
         "optimizer.name=lbfgs", f"seed={','.join(map(str, SEEDS))}",
         "hydra/launcher=ray", f"hydra.launcher.ray.init.address={address}",
         f"tracking.uri=sqlite:///{store}", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=540,
        env=ray_env(),
    )  # fmt: skip
    output = result.stdout + result.stderr
    log = result.stdout[-4000:] + result.stderr[-4000:]
    assert result.returncode == 0, log
    assert f"Connecting to existing Ray cluster at address: {address}" in output, log
    assert "(_run_job pid=" in output, log  # the jobs' logs, relayed from Ray workers
    assert any("raylet" in cmd for cmd in processes_in_group(pgid))  # the cluster outlives it

    client = MlflowClient(f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("week3")
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    [parent] = [r for r in runs if PARENT_TAG not in r.data.tags]
    children = [r for r in runs if r.data.tags.get(PARENT_TAG) == parent.info.run_id]
    assert len(children) == len(runs) - 1 == len(SEEDS)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["sweep.launcher"] == "ray"
    assert parent.data.metrics["jobs_finished"] == len(SEEDS)
    assert {c.info.status for c in children} == {"FINISHED"}
    assert sorted(int(c.data.tags[JOB_TAG]) for c in children) == list(range(len(SEEDS)))
    assert sorted(int(c.data.params["seed"]) for c in children) == SEEDS
    assert "RUNNING" not in {r.info.status for r in runs}
