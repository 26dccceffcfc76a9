"""common.liveness: the owner of a run, alive or gone, checked against real processes."""

import subprocess
import sys

from common.liveness import HOST_TAG, is_stale, owner_alive, process_tags


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
