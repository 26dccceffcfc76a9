"""common.reproduce end to end: a real week-3 run re-run through the CLI, compared exactly."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import time

import pytest
from mlflow.entities import Metric, Param, Run, RunData, RunInfo, RunTag
from omegaconf import OmegaConf

from common import reproduce, runs
from common.config import BaseConfig, TrackingConfig
from common.paths import REPO_ROOT
from common.tracking import HEADLINE, run_tracked
from tests.weeks import run_in_own_store

QUICK = ["progress=false", "compare_steps=10", "tasks=[logistic]", "figures=false"]
HEADER = ["metric", "original", "reproduced", "abs_diff", "verdict"]


def reproduce_cli(run_id: str, uri: str, output_dir, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "common.reproduce", run_id, "--tracking-uri", uri,
         "--output-dir", str(output_dir), *options],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def printed_table(stdout: str) -> dict[str, tuple[str, str, str, str]]:
    """reproduce's printed table: metric -> (original, reproduced, abs_diff, verdict)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split() == HEADER) + 1
    rows = {}
    for line in lines[start:]:
        parts = line.split()
        if len(parts) < 5 or line.startswith(("reproduced:", "NOT reproduced:", "only in")):
            break
        rows[parts[0]] = (parts[1], parts[2], parts[3], " ".join(parts[4:]))
    return rows


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory, empty_store):
    """A week-3 CLI run in a store of its own, and its reproduction by an 8-digit prefix."""
    folder = tmp_path_factory.mktemp("reproduce")
    client, original, uri = run_in_own_store(
        "week3_regression", "week3", QUICK, folder, empty_store
    )
    result = reproduce_cli(original.info.run_id[: runs.SHORT_ID], uri, folder / "again")
    return client, original, uri, folder, result


@pytest.mark.slow  # two CLI runs (the module's reproduced run)
def test_a_week3_run_reproduces_exactly(reproduced):
    client, original, _, folder, result = reproduced
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [new] = [
        run
        for run in runs.search_all(client, "tags.week = 'week3'")
        if run.info.run_id != original.info.run_id
    ]
    assert new.data.tags[runs.REPRODUCES_TAG] == original.info.run_id
    assert new.data.tags["hydra.output_dir"] == str(folder / "again")
    assert new.info.status == "FINISHED"
    # Same settings (where the run was stored aside), same numbers to the last bit.
    hidden = ("tracking.",)
    assert {k: v for k, v in new.data.params.items() if not k.startswith(hidden)} == {
        k: v for k, v in original.data.params.items() if not k.startswith(hidden)
    }
    assert new.data.metrics == original.data.metrics
    assert math.isfinite(original.data.metrics[HEADLINE])
    # The printed table: every metric both runs logged, the headline first, all exact.
    table = printed_table(result.stdout)
    assert list(table) == [HEADLINE, *sorted(set(original.data.metrics) - {HEADLINE})]
    assert {row[3] for row in table.values()} == {"exact"}
    assert {float(row[2]) for row in table.values()} == {0.0}
    assert float(table[HEADLINE][0]) == original.data.metrics[HEADLINE]  # printed round-trips
    headline = f"{original.data.metrics[HEADLINE]:.17g}"
    assert f"reproduced: {HEADLINE} reproduced (exact): {headline}" in result.stdout
    assert " ".join(QUICK) in result.stdout  # the command it ran, with the original overrides


@pytest.mark.slow  # reads the reproduced run
def test_code_warning_only_when_the_commit_or_dirty_flag_differs(reproduced):
    client, original, _, _, result = reproduced
    [new] = runs.search_all(client, f"tags.{runs.REPRODUCES_TAG} = '{original.info.run_id}'")
    differs = any(original.data.tags[k] != new.data.tags[k] for k in ("git.commit", "git.dirty"))
    assert ("a difference may come from the code" in result.stderr) == differs


@pytest.mark.slow  # reads the reproduced run
def test_the_runs_table_shows_what_a_run_reproduces(reproduced, capsys):
    _, original, uri, _, _ = reproduced
    runs.main(["--week", "3", "--tracking-uri", uri])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("week3: 2 runs in")
    assert runs.REPRODUCES_TAG in lines[1].split()
    short = original.info.run_id[: runs.SHORT_ID]
    relations = [line.split()[0] for line in lines[2:] if f" {short} " in f"{line} "]
    assert len(relations) == 1
    assert relations[0] != short  # the reproduction's row names the original


@pytest.mark.slow  # reads the reproduced run
def test_a_changed_headline_does_not_reproduce(reproduced, tmp_path):
    """The original claims another headline (as if the code had changed): exit 1, 'different'."""
    _, original, _, folder, _ = reproduced
    shutil.copyfile(folder / "mlflow.db", tmp_path / "mlflow.db")  # artifacts stay in `folder`
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tampered = runs.open_store(uri)
    now = int(time.time() * 1000)
    tampered.log_metric(original.info.run_id, HEADLINE, 1.0, timestamp=now, step=0)
    result = reproduce_cli(original.info.run_id, uri, tmp_path / "again")
    assert result.returncode == reproduce.EXIT_DIFFERENT, result.stderr[-3000:]
    table = printed_table(result.stdout)
    true_headline = original.data.metrics[HEADLINE]
    assert table[HEADLINE][0] == "1"
    assert float(table[HEADLINE][1]) == true_headline
    assert float(table[HEADLINE][2]) == pytest.approx(1.0 - true_headline, rel=1e-3)
    assert table[HEADLINE][3] == "different"
    assert f"NOT reproduced: {HEADLINE} differs: 1 -> {true_headline:.17g}" in result.stdout


@pytest.mark.slow  # two CLI runs
def test_a_failed_run_reproduces_its_failure(tmp_path, empty_store):
    shutil.copyfile(empty_store, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    from tests.weeks import run_cli

    first = run_cli(
        "week3_regression",
        *QUICK,
        "optimizer.lr=0",
        f"tracking.uri={uri}",
        output_dir=tmp_path / "1",
    )
    assert first.returncode == 1
    client = runs.open_store(uri)
    [original] = runs.search_all(client, "tags.week = 'week3'")
    assert original.info.status == "FAILED"
    result = reproduce_cli(original.info.run_id, uri, tmp_path / "2")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    error = original.data.tags["error"]
    assert error.startswith("ValueError: optimizer.lr must be a finite number > 0, got 0")
    assert f"reproduced: the failure reproduces: {error}" in result.stdout
    [new] = runs.search_all(client, f"tags.{runs.REPRODUCES_TAG} = '{original.info.run_id}'")
    assert new.info.status == "FAILED"
    assert new.data.tags["error"] == error


@pytest.mark.parametrize(
    ("run_id", "message"),
    [
        ("0" * 32, "no run 00000000000000000000000000000000 in {uri}; list runs with `make runs"),
        ("abcd1234", "no run abcd1234 in {uri}; list runs with `make runs WEEK=2`"),
        ("xyz!", "not a run id: 'xyz!' (32 hex digits, or a unique prefix of 4 or more)"),
        ("ab", "not a run id: 'ab'"),
    ],
)
def test_an_unknown_or_malformed_id_is_one_line_and_exit_2(run_id, message, tracking_uri, capsys):
    with pytest.raises(SystemExit) as exited:
        reproduce.main([run_id, "--tracking-uri", tracking_uri])
    assert exited.value.code == reproduce.EXIT_REFUSED
    captured = capsys.readouterr()
    assert captured.err.startswith("reproduce: " + message.format(uri=tracking_uri))
    assert len(captured.err.splitlines()) == 1
    assert captured.out == ""


def test_runs_without_an_outcome_or_a_command_line_are_refused(tracking_uri, capsys):
    cfg = OmegaConf.structured(BaseConfig(tracking=TrackingConfig(uri=tracking_uri)))
    run_tracked(cfg, "week3", lambda cfg: 0.5)  # in-process: no Hydra overrides recorded
    client = runs.open_store(tracking_uri)
    [in_process] = runs.search_all(client, "tags.week = 'week3'")
    experiment = in_process.info.experiment_id
    killed = client.create_run(experiment, tags={"week": "week3"}).info.run_id
    client.set_terminated(killed, "KILLED")
    parent = client.create_run(experiment, tags={"week": "week3"}).info.run_id
    client.set_terminated(parent, "FINISHED")
    client.set_tag(in_process.info.run_id, runs.PARENT_TAG, parent)
    expected = {
        killed: f"run {killed} is KILLED: it has no outcome to reproduce",
        parent: f"run {parent} is the parent of a sweep of 1 runs: reproduce one of its children",
        in_process.info.run_id: "was not started from the command line",
    }
    for run_id, message in expected.items():
        with pytest.raises(SystemExit) as exited:
            reproduce.main([run_id, "--tracking-uri", tracking_uri])
        assert exited.value.code == reproduce.EXIT_REFUSED
        assert message in capsys.readouterr().err


def test_replayed_overrides_keep_the_settings_and_set_the_store():
    logged = [
        "optimizer.name=sgd",
        "images=[/my photos/a b.png]",  # a value with spaces stays one override
        "tracking.uri=sqlite:////elsewhere.db",
        "tracking.resume=true",
        "tracking.run_name=baseline",
        "hydra.run.dir=/tmp/x",
        "+hydra.job.env_set.A=1",
        "+experiment=week1/rate",  # logged before configs/week1/experiment/ existed
    ]
    assert reproduce.replay_overrides(logged, "sqlite:////store.db") == [
        "optimizer.name=sgd",
        "images=[/my photos/a b.png]",
        "tracking.run_name=baseline",
        "+experiment=rate",
        "tracking.uri=sqlite:////store.db",
    ]


def test_verdicts_and_the_comparison_table():
    nan = float("nan")
    original = {"b": 1.0, HEADLINE: 0.5, "c": 1.0, "d": nan, "e": 2.0, "only_here": 3.0}
    again = {"b": 1.0, HEADLINE: 0.5, "c": 1.0 + 1e-12, "d": nan, "e": 2.1, "new": 1.0}
    table = reproduce.compare_metrics(original, again, rtol=1e-9)
    assert list(table["metric"]) == [HEADLINE, "b", "c", "d", "e"]
    assert list(table["verdict"]) == ["exact", "exact", "within tolerance", "exact", "different"]
    assert table["abs_diff"].iloc[4] == pytest.approx(0.1)
    assert reproduce.verdict(1.0, 1.0 + 1e-12, rtol=0.0) == "different"  # rtol 0: bit for bit
    assert reproduce.verdict(nan, 1.0, rtol=1.0) == "different"
    assert reproduce.verdict(0.0, -0.0, rtol=0.0) == "exact"


def fake_run(status="FINISHED", metrics=None, params=None, tags=None) -> Run:
    info = RunInfo("r" * 32, "1", "user", status, 0, 1, "active", run_name="r")
    return Run(
        info,
        RunData(
            metrics=[Metric(k, v, 0, 0) for k, v in (metrics or {}).items()],
            params=[Param(k, v) for k, v in (params or {}).items()],
            tags=[RunTag(k, v) for k, v in (tags or {}).items()],
        ),
    )


def test_outcome_of_finished_and_failed_originals():
    def outcome(before: Run, after: Run):
        table = reproduce.compare_metrics(before.data.metrics, after.data.metrics)
        return reproduce.outcome(before, after, table)

    ok = fake_run(metrics={HEADLINE: 0.25})
    assert outcome(ok, fake_run(metrics={HEADLINE: 0.25})) == (
        True,
        "headline reproduced (exact): 0.25",
    )
    assert outcome(ok, fake_run(metrics={HEADLINE: 0.5}))[0] is False
    broke = fake_run("FAILED", tags={"error": "ValueError: boom"})
    assert outcome(ok, broke) == (
        False,
        "the original FINISHED; the reproduction FAILED ValueError: boom",
    )
    assert outcome(broke, fake_run("FAILED", tags={"error": "ValueError: boom"}))[0] is True
    assert outcome(broke, fake_run("FAILED", tags={"error": "KeyError: x"})) == (
        False,
        "the original FAILED with ValueError: boom; the reproduction FAILED with KeyError: x",
    )
    assert outcome(broke, ok) == (
        False,
        "the original FAILED with ValueError: boom; the reproduction FINISHED",
    )
    assert outcome(fake_run(), fake_run())[0] is False  # no headline logged: nothing to compare


def test_warnings_name_the_code_libraries_and_settings_that_differ():
    tags = {"git.commit": "a" * 40, "git.dirty": "false", "version.numpy": "2.4.6"}
    params = {"seed": "0", "tracking.uri": "None"}
    original = fake_run(params=params, tags=tags)
    assert reproduce.provenance_warnings(original, fake_run(params=params, tags=tags)) == []
    changed = fake_run(
        params={"seed": "1", "tracking.uri": "sqlite:////x.db"},
        tags={**tags, "git.dirty": "true", "version.numpy": "2.5.0"},
    )
    assert reproduce.provenance_warnings(original, changed) == [
        "warning: the original ran at aaaaaaaa, the reproduction at aaaaaaaa with uncommitted "
        "changes: a difference may come from the code",
        "warning: library versions differ: numpy 2.4.6 -> 2.5.0",
        "warning: the resolved config differs (a default changed since?): seed 0 -> 1",
    ]


def test_the_entry_point_is_read_from_the_file_the_run_started(tmp_path):
    def ran(source: str) -> Run:
        return fake_run(tags={reproduce.SOURCE_TAG: source})

    week3 = REPO_ROOT / "projects" / "week3_regression" / "__main__.py"
    assert reproduce.entry_point(ran(str(week3))) == (REPO_ROOT, "projects.week3_regression")
    moved = "/gone/checkout/projects/week3_regression/__main__.py"  # same package, here
    assert reproduce.entry_point(ran(moved)) == (REPO_ROOT, "projects.week3_regression")
    (tmp_path / "outer" / "inner").mkdir(parents=True)  # a package outside the repository
    for folder in ("outer", "outer/inner"):
        (tmp_path / folder / "__init__.py").touch()
    outside = tmp_path / "outer" / "inner" / "__main__.py"
    assert reproduce.entry_point(ran(str(outside))) == (tmp_path, "outer.inner")
    with pytest.raises(reproduce.CannotReproduce, match="not by `python -m <package>`"):
        reproduce.entry_point(ran("/usr/bin/pytest"))
    with pytest.raises(reproduce.CannotReproduce, match="started by an unknown file"):
        reproduce.entry_point(fake_run())
    with pytest.raises(reproduce.CannotReproduce, match="no such package on this machine"):
        reproduce.entry_point(ran("/gone/nowhere_pkg/__main__.py"))
