"""A week's command exits with its status after its threads, atexit handlers and buffered
output, as a plain exit does: real processes, each a few lines of Python."""

from __future__ import annotations

import os
import pstats
import subprocess
import sys
import textwrap

import pytest

from common.entry import exit_status
from common.paths import REPO_ROOT

MAIN = """
import atexit, sys, threading, time
from common.entry import run_then_exit

def main():
    atexit.register(lambda: open(sys.argv[1], "a").write("atexit handler ran\\n"))
    def late_writer():
        time.sleep(0.3)
        open(sys.argv[1], "a").write("thread finished\\n")
    threading.Thread(target=late_writer).start()  # not a daemon: exit waits for it
    sys.stdout.write("no newline, still buffered")
    {end}

run_then_exit(main)
"""


def run_main(end: str, log) -> subprocess.CompletedProcess:
    code = textwrap.dedent(MAIN).format(end=end)
    return subprocess.run(
        [sys.executable, "-c", code, str(log)], cwd=REPO_ROOT, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    ("end", "status", "stderr"),
    [
        ("return 0.5", 0, ""),
        ("sys.exit(3)", 3, ""),
        ("sys.exit('error: bad key')", 1, "error: bad key\n"),
    ],
)
def test_the_command_exits_with_mains_status_after_its_threads_handlers_and_output(
    tmp_path, end, status, stderr
):
    log = tmp_path / "log.txt"
    done = run_main(end, log)
    assert (done.returncode, done.stderr) == (status, stderr)
    assert done.stdout == "no newline, still buffered"
    assert log.read_text() == "thread finished\natexit handler ran\n"  # Python's order


def test_an_exception_from_main_exits_as_python_does_with_its_traceback(tmp_path):
    done = run_main("raise KeyError('lost')", tmp_path / "log.txt")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == "KeyError: 'lost'"


def test_exit_status_maps_codes_as_sys_exit_does(capsys):
    assert [exit_status(None), exit_status(0), exit_status(2)] == [0, 0, 2]
    assert exit_status("usage: ...") == 1
    assert capsys.readouterr().err == "usage: ...\n"


def test_under_a_profiler_the_command_exits_the_usual_way_and_the_profile_is_written(tmp_path):
    script = tmp_path / "week.py"
    script.write_text(textwrap.dedent(MAIN).format(end="return 0.5"))
    profile = tmp_path / "run.prof"
    done = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(profile), str(script), str(tmp_path / "log")],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0
    assert done.stdout == "no newline, still buffered"
    assert "main" in {name for _, _, name in pstats.Stats(str(profile)).stats}
