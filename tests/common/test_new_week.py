"""A new week needs no change in common/: a toy fifth week, written outside the repository
(tests/common/toy_week.py), run and read back through common's commands as a user does.

Its headline is lower-is-better (against the default), its package is not under
``projects/`` nor named ``week*_*``, its primary config is not named as its week:
``make runs``, the sweep's parent, ``make compare`` and ``make reproduce`` must take all
they need from what its runs logged.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from common import compare, reproduce, runs, sweep
from common.tracking import HEADLINE, HEADLINE_DIRECTION_TAG, HEADLINE_METRIC_TAG
from tests.common.toy_week import METRIC, PACKAGE, TARGET, WEEK, run_toy, write_toy_week

pytestmark = pytest.mark.slow  # real processes: the toy's run, its sweep, its reproduction

SWEPT = [0.0, 2.0, 5.0]  # squared errors 9, 1, 4: lower is better picks x=2, higher x=0


@dataclass
class Toy:
    root: Path
    uri: str
    client: object
    single: object  # the run of x=1
    parent: object  # the sweep's parent run
    children: dict  # x -> the sweep's child run


def output(result) -> str:
    return result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def toy(tmp_path_factory, empty_store):
    """The toy week written to a temporary folder, run once (x=1), then swept over x."""
    from mlflow.tracking import MlflowClient

    root = write_toy_week(tmp_path_factory.mktemp("toy"))
    shutil.copyfile(empty_store, root / "mlflow.db")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    single = run_toy(root, "x=1", f"tracking.uri={uri}", f"hydra.run.dir={root / 'run'}")
    assert single.returncode == 0, output(single)
    swept = ",".join(str(x) for x in SWEPT)
    result = run_toy(
        root, "-m", f"x={swept}", f"tracking.uri={uri}", f"hydra.sweep.dir={root / 'sweep'}"
    )
    assert result.returncode == 0, output(result)
    client = MlflowClient(uri)
    logged = runs.search_all(client, "")  # the parent is in its config's experiment (toy5)
    [parent] = [run for run in logged if sweep.JOBS_TAG in run.data.tags]
    children = {
        float(run.data.params["x"]): run
        for run in logged
        if run.data.tags.get(sweep.PARENT_TAG) == parent.info.run_id
    }
    [first] = [run for run in logged if run.data.tags.get("hydra.output_dir") == str(root / "run")]
    return Toy(root, uri, client, first, parent, children)


def squared_error(x: float) -> float:
    return (x - TARGET) ** 2


def test_a_toy_week_run_logs_and_finishes_with_its_declared_headline(toy):
    run = toy.single
    assert run.info.status == "FINISHED"
    assert run.data.tags["week"] == WEEK
    assert run.data.tags[HEADLINE_METRIC_TAG] == METRIC
    assert run.data.tags[HEADLINE_DIRECTION_TAG] == "false"
    assert run.data.metrics[HEADLINE] == run.data.metrics[METRIC] == squared_error(1.0)
    assert run.data.params["x"] == "1.0"


def test_the_toy_sweep_parent_ranks_its_children_lower_first(toy):
    assert sorted(toy.children) == SWEPT
    assert {run.info.status for run in toy.children.values()} == {"FINISHED"}
    best = min(SWEPT, key=squared_error)  # an independent pick: 2.0
    assert toy.parent.info.status == "FINISHED"
    assert toy.parent.data.tags["week"] == WEEK
    assert toy.parent.data.tags["best_run_id"] == toy.children[best].info.run_id
    assert toy.parent.data.metrics["best_headline"] == squared_error(best)


def test_runs_lists_the_toy_week_best_first_in_its_direction(toy, capsys):
    runs.main(["--week", "5", "--tracking-uri", toy.uri])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        f"{WEEK}: 5 runs in {toy.uri}, best first by {HEADLINE} ({METRIC}, lower is better)"
    )
    by_headline = sorted(  # lower first; ties (x=1 and x=5) newest first; the parent last
        [toy.single, *toy.children.values()],
        key=lambda run: (run.data.metrics[HEADLINE], -run.info.start_time),
    )
    expected = [run.info.run_id[: runs.SHORT_ID] for run in [*by_headline, toy.parent]]
    assert [line.split()[0] for line in lines[2:]] == expected
    runs.main(["--tracking-uri", toy.uri])  # every week the store holds: only this one
    assert capsys.readouterr().out.splitlines()[0].startswith(f"{WEEK}: 5 runs in")


def test_compare_shows_the_two_newest_toy_runs(toy, capsys):
    compare.main(["--week", WEEK, "--tracking-uri", toy.uri])
    lines = capsys.readouterr().out.splitlines()
    newest = sorted(toy.children.values(), key=lambda run: run.info.start_time)[-2:][::-1]
    assert lines[0].split()[0::2] == [run.info.run_id[: runs.SHORT_ID] for run in newest]
    assert lines[1].split() == ["x", *(run.data.params["x"] for run in newest)]
    [headline] = [line.split() for line in lines if line.startswith(HEADLINE)]
    assert headline == [
        HEADLINE,
        f"({METRIC})",
        *(f"{r.data.metrics[HEADLINE]:.6g}" for r in newest),
    ]


def test_reproduce_reruns_the_toy_week_from_what_its_run_logged(toy, capfd):
    original = toy.single
    again = toy.root / "again"
    with pytest.raises(SystemExit) as exited:
        reproduce.main(
            [original.info.run_id, "--tracking-uri", toy.uri, "--output-dir", str(again)]
        )
    out = capfd.readouterr().out
    assert exited.value.code == 0, out[-3000:]
    assert f"$ python -m {PACKAGE} x=1 tracking.uri={toy.uri}" in out
    assert f"reproduced: {HEADLINE} reproduced (exact): {squared_error(1.0):.17g}" in out
    [new] = runs.search_all(toy.client, f"tags.{runs.REPRODUCES_TAG} = '{original.info.run_id}'")
    assert new.info.status == "FINISHED"
    assert new.data.tags["week"] == WEEK
    assert new.data.tags["hydra.output_dir"] == str(again)
