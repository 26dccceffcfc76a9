"""``make check``: the project's own reference tests, run on the learner's functions.

A test grades an exercise by naming it in a marker::

    @grades(entropy)
    def test_entropy_matches_scipy(): ...

The project's suite runs it on the reference. :class:`Grader`, a pytest plugin, runs the
same test with the learner's function chosen for that exercise alone (:func:`using`),
every other function staying the reference's. Each exercise gets one status:

- ``todo``: not written yet (the stub still raises ``NotImplementedError``);
- ``passes``: every test that grades it passes;
- ``fails``: the first failing check, with what it expected, what came out and the
  tolerance, or the line of a file that does not parse, or a time-out (an endless loop
  fails that exercise alone).

The scorecard is printed and logged as an MLflow run of the experiment ``exercises``
(metrics ``passed``, ``failed``, ``todo``; the table ``scorecard.json``).
``python -m common.grading PACKAGE TESTS [--id W4.3]``; exit status 1 if a written
function fails.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import textwrap
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from common.exercises import (
    Exercise,
    ExerciseError,
    discover,
    display,
    group_by_file,
    learner_file,
    mine_dir,
    using,
    written_in,
)
from common.paths import REPO_ROOT

EXPERIMENT = "exercises"
TIMEOUT_S = 20  # per test: a learner's endless loop fails that exercise, not the check


@dataclass
class Grade:
    """The status of one exercise and the first reason it fails."""

    entry: Exercise
    status: str = "todo"  # todo | pending (written, not yet run) | passes | fails
    detail: str = ""
    tests_passed: int = 0

    def fail(self, detail: str) -> None:
        """Mark the exercise failing with ``detail``; the first failure is the one kept."""
        if self.status != "fails":
            self.status, self.detail = "fails", detail


def condensed(message: str) -> str:
    """A test's failure message on one line: expected, actual, tolerance, no blank lines."""
    timeout = re.search(r"Timeout \(?>([\d.]+)s", message)
    if timeout:
        return f"timed out after {float(timeout.group(1)):g} s (an endless loop?)"
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    noise = ("AssertionError:", "AssertionError")  # a bare header line before numpy's report
    kept = [
        line
        for line in lines
        if line not in noise and "<function" not in line and not line.startswith("+  and")
    ]
    return "; ".join(kept)[:400]


@dataclass
class Grader:
    """A pytest plugin: each test marked ``grades(f)`` runs on the learner's ``f``."""

    entries: list[Exercise]
    grades: dict[str, Grade] = field(default_factory=dict)
    learner: dict[str, Callable] = field(default_factory=dict)
    items_for: dict[str, list] = field(default_factory=dict)  # key -> the tests grading it
    current: Grade | None = None  # the exercise whose tests run now

    def __post_init__(self):
        self.grades = {e.key: Grade(e) for e in self.entries}
        for path, group in group_by_file(self.entries).items():
            if not path.exists():
                continue
            try:
                written = written_in(path, group)
            except ExerciseError as error:
                for entry in group:
                    self.grades[entry.key].fail(str(error))
                continue
            self.learner.update(written)
            for key in written:
                self.grades[key].status = "pending"

    def pytest_collection_modifyitems(self, session, config, items):
        """Keep the tests that grade a written exercise, grouped by exercise."""
        for item in items:
            for key in graded_keys(item):
                if key in self.grades and self.grades[key].status == "pending":
                    self.items_for.setdefault(key, []).append(item)
        items[:] = list(dict.fromkeys(i for group in self.items_for.values() for i in group))

    def pytest_runtestloop(self, session):
        """Each exercise alone: its tests on the learner's function, until one fails."""
        for key, items in self.items_for.items():
            self.current = self.grades[key]
            for i, item in enumerate(items):
                following = items[i + 1] if i + 1 < len(items) else None  # None: teardown
                with using({key: self.learner[key]}):  # setup, call and teardown
                    item.ihook.pytest_runtest_protocol(item=item, nextitem=following)
                if self.current.status == "fails":
                    if following is not None:  # fixtures kept for `following`: drop them
                        item.session._setupstate.teardown_exact(None)
                    break
        return True

    def pytest_runtest_logreport(self, report):
        """A failed phase fails the current exercise; a passed call counts for it."""
        if report.failed:
            test = report.nodeid.split("::")[-1]
            self.current.fail(f"{test}: {condensed(failure_message(report))}")
        elif report.when == "call" and report.passed:
            self.current.tests_passed += 1

    def finish(self) -> list[Grade]:
        """Every exercise's grade: one with passing tests and no failure passes."""
        for grade in self.grades.values():
            if grade.status == "pending":
                if grade.tests_passed:
                    grade.status = "passes"
                else:
                    grade.fail("no test grades it: a bug of the project, please report it")
        return list(self.grades.values())


def grades(*functions: Callable) -> pytest.MarkDecorator:
    """``@grades(entropy)``: the decorated test grades the exercise ``entropy``."""
    missing = [f.__name__ for f in functions if not hasattr(f, "exercise")]
    if missing:
        raise TypeError(f"grades() takes exercises (@exercise functions), got {missing}")
    return pytest.mark.grades(*(f.exercise.key for f in functions))


def graded_keys(item) -> list[str]:
    """The exercises a test names in its ``grades`` markers."""
    return [key for marker in item.iter_markers("grades") for key in marker.args]


def failure_message(report) -> str:
    """What a failed test said: its assertion's message, else the whole report."""
    crash = getattr(report.longrepr, "reprcrash", None)
    return crash.message if crash is not None else str(report.longrepr)


def topics() -> dict[str, str]:
    """``{"W4.3": "entropy, cross-entropy, KL divergence"}`` from the README's table."""
    found = {}
    for line in (REPO_ROOT / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) > 1 and re.fullmatch(r"W\d\.\w+", cells[0]):
            found[cells[0]] = cells[1]
    return found


def scorecard(grades: list[Grade], width: int) -> str:
    """The table a learner reads: id, topic, function, status; why under each failure."""
    names = topics()
    rows = [("id", "topic", "function", "status")]
    for g in grades:
        where = f"{g.entry.module}.{g.entry.name}"
        rows.append(
            (g.entry.curriculum_id, names.get(g.entry.curriculum_id, "")[:40], where, g.status)
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    for line_number, g in enumerate(grades, start=1):
        if g.detail:
            wrapped = textwrap.wrap(g.detail, width - 8, max_lines=4, placeholder=" ...")
            lines[line_number] += "\n" + "\n".join(f"      {part}" for part in wrapped)
    count = {s: sum(g.status == s for g in grades) for s in ("passes", "fails", "todo")}
    lines.append(f"{count['passes']} passed, {count['fails']} failed, {count['todo']} todo")
    missing = sorted({g.entry.week for g in grades if not learner_file(g.entry).exists()})
    for week in missing:
        lines.append(
            f"(no files in {display(mine_dir() / week)} yet: make exercise WEEK={week[4:]})"
        )
    return "\n".join(lines)


def log_scorecard(grades: list[Grade], package: str) -> str:
    """One MLflow run of the experiment ``exercises``: counts and the table; its id."""
    import mlflow

    from common.store import exit_if_unusable
    from common.tracking import ensure_experiment, resolve_tracking_uri

    uri = resolve_tracking_uri()
    exit_if_unusable(uri)
    mlflow.set_tracking_uri(uri)
    experiment_id = ensure_experiment(EXPERIMENT, uri)
    week = grades[0].entry.week if grades else ""
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"check {week}") as run:
        mlflow.set_tags({"exercises.package": package, "exercises.week": week})
        counts = {s: sum(g.status == s for g in grades) for s in ("passes", "fails", "todo")}
        mlflow.log_metrics(
            {"passed": counts["passes"], "failed": counts["fails"], "todo": counts["todo"]}
        )
        table = {
            "id": [g.entry.curriculum_id for g in grades],
            "function": [f"{g.entry.module}.{g.entry.name}" for g in grades],
            "status": [g.status for g in grades],
            "detail": [g.detail for g in grades],
            "file": [display(learner_file(g.entry)) for g in grades],
        }
        mlflow.log_table(table, "scorecard.json")
    return run.info.run_id


def grade(package: str, tests: Path, ids: list[str] | None, timeout: int) -> list[Grade]:
    """Run the tests that grade the selected exercises of ``package`` on the learner's code."""
    entries = [e for e in discover(package) if not ids or e.curriculum_id in ids]
    grader = Grader(entries)
    files = [str(f) for f in sorted(tests.glob("test_*.py")) if "@grades(" in f.read_text()]
    args = [*files, "-p", "no:cacheprovider", "-qq", "--tb=no", "-o", "addopts="]
    args += ["-m", "not slow", "--timeout", str(timeout), "--rootdir", str(REPO_ROOT)]
    if files and any(g.status == "pending" for g in grader.grades.values()):
        with open(os.devnull, "w") as quiet, redirect_stdout(quiet):  # the scorecard says it
            code = pytest.main(args, plugins=[grader])
        if code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
            for g in grader.grades.values():
                if g.status == "pending":
                    g.fail(f"the checks could not run (pytest exit {code.name}): pytest {tests}")
    return grader.finish()


def main(argv: list[str] | None = None) -> int:
    """``python -m common.grading PACKAGE TESTS [--id W4.3]``: grade, print, log."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("package", help="a week's package, e.g. projects.week4_tree_search")
    parser.add_argument("tests", type=Path, help="the folder of its tests, e.g. tests/week4")
    parser.add_argument("--id", dest="ids", action="append", help="only this curriculum id")
    parser.add_argument("--timeout", type=int, default=TIMEOUT_S, help="seconds per test")
    parser.add_argument("--no-log", action="store_true", help="print only; no MLflow run")
    args = parser.parse_args(argv)
    grades = grade(args.package, args.tests, args.ids, args.timeout)
    if not grades:
        print(f"no exercise in {args.package} for {args.ids}", file=sys.stderr)
        return 2
    print(scorecard(grades, shutil.get_terminal_size((120, 24)).columns))
    if not args.no_log:
        run_id = log_scorecard(grades, args.package)
        print(f"logged as run {run_id} in the experiment {EXPERIMENT!r} (make ui to compare)")
    return 1 if any(g.status == "fails" for g in grades) else 0


if __name__ == "__main__":
    sys.exit(main())
