"""common.liveness: the owner of a run, alive or gone, checked against real processes."""

import subprocess
import sys
import time
from pathlib import Path

from common.liveness import HOST_TAG, STARTED_TAG, is_stale, owner_alive, process_tags


def test_this_process_is_alive_and_a_finished_one_is_gone():
    assert owner_alive(process_tags()) is True
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    tags = process_tags(child.pid)  # read while it runs or just after: either way it ends
    child.wait()
    assert owner_alive(tags) is False


def test_a_reused_pid_is_not_the_owner():
    tags = process_tags()
    tags["process.started"] = str(int(tags["process.started"]) - 1)  # an earlier process
    assert owner_alive(tags) is False


def test_another_host_or_no_owner_cannot_be_told():
    assert owner_alive({**process_tags(), HOST_TAG: "elsewhere"}) is None
    assert owner_alive({}) is None


def test_only_a_running_run_with_a_gone_owner_is_stale():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    gone = process_tags(child.pid)
    child.wait()
    assert is_stale("RUNNING", gone)
    assert not is_stale("FINISHED", gone)
    assert not is_stale("RUNNING", process_tags())
    assert not is_stale("RUNNING", {})


def test_an_ended_process_not_yet_reaped_is_gone():
    """A zombie still has its /proc entry and start time: an orphan in a container whose
    PID 1 reaps nothing stays one, and its run must still be told stale."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    tags = process_tags(child.pid)  # read while it runs
    stat = Path(f"/proc/{child.pid}/stat")
    deadline = time.monotonic() + 30
    while stat.read_text().rpartition(")")[2].split()[0] != "Z":  # ended; not waited for
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        assert owner_alive(tags) is False
    finally:
        child.wait()


def test_without_a_recorded_start_time_liveness_cannot_be_told():
    """No /proc (macOS) records no start time: never judged gone, so never stale."""
    assert owner_alive({**process_tags(), STARTED_TAG: ""}) is None
    assert not is_stale("RUNNING", {**process_tags(), STARTED_TAG: ""})
