"""The README's curriculum table stays true: every id of a week that exists has a row,
every row points at code and a test that exist, and at the exercise a learner writes.

The table's columns: id | topic | code | test | exercise | in the run. An exercise cell
names ``mine/weekN/<module>.py::<function>``: the file ``make exercise`` writes, for a
function registered with ``@exercise`` under that id.

The run artifacts a row names are checked where a run exists: in each week's
pipeline smoke test (``logged_names`` below).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from common.paths import REPO_ROOT

CURRICULUM = Path(__file__).with_name("CURRICULUM.md")  # a copy of ../shared/CURRICULUM.md
SHARED_CURRICULUM = REPO_ROOT.parent / "shared" / "CURRICULUM.md"
# Ids taught but with no exercise yet (the exercise issue empties this list).
NO_EXERCISE_YET: list[str] = []  # every id has one (the exercise issue emptied it)
EXERCISE = re.compile(r"`mine/week(\d)/(\w+)\.py::(\w+)`")
COLUMNS = ("id", "topic", "code", "test", "exercise", "in the run")

# Ids that ../shared/CURRICULUM.md lists and no week teaches yet (the roadmap issue).
# The row check skips them; each one leaves this list with its README row.
NOT_YET_TAUGHT: list[str] = []  # every id has its row (the roadmap issue emptied it)
ID = re.compile(r"\bW(\d)\.(?:\d+|P\d+|X\d+)\b")
REFERENCE = re.compile(r"`([\w/.]+\.py)::(\w+)`")


def curriculum_ids() -> list[str]:
    return [
        m.group(1)
        for line in CURRICULUM.read_text().splitlines()
        if (m := re.match(r"- (W\d\.\w+) ", line))
    ]


def weeks_that_exist() -> set[str]:
    return {p.name[4] for p in (REPO_ROOT / "projects").glob("week[1-4]_*") if p.is_dir()}


def readme_rows() -> dict[str, dict[str, str]]:
    """``{"W1.1": {"id": "W1.1", "topic": ..., "exercise": ...}}``: the curriculum table."""
    rows = {}
    for line in (REPO_ROOT / "README.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and ID.fullmatch(cells[0]):
            assert len(cells) == len(COLUMNS), f"{cells[0]}: the row has {len(cells)} cells"
            rows[cells[0]] = dict(zip(COLUMNS, cells, strict=True))
    return rows


def defined_names(path: Path) -> set[str]:
    """Functions and classes defined anywhere in a Python file."""
    tree = ast.parse(path.read_text())
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {node.name for node in ast.walk(tree) if isinstance(node, kinds)}


def artifacts_of(row: dict[str, str]) -> list[str]:
    """The run artifacts and metrics named in a row's last cell (backticked, no ``::``)."""
    return [name for name in re.findall(r"`([^`]+)`", row["in the run"]) if "::" not in name]


def registered_exercises(week: str) -> dict[tuple[str, str], str]:
    """``{(module, function): curriculum id}`` for every ``@exercise`` of a week."""
    from common.exercises import discover

    [package] = (REPO_ROOT / "projects").glob(f"week{week}_*")
    return {(e.module, e.name): e.curriculum_id for e in discover(f"projects.{package.name}")}


def test_the_copy_of_the_curriculum_is_current():
    if not SHARED_CURRICULUM.exists():
        pytest.skip(f"{SHARED_CURRICULUM} is not beside this checkout")
    assert CURRICULUM.read_text() == SHARED_CURRICULUM.read_text()


def test_every_id_of_an_existing_week_has_a_row():
    rows = readme_rows()
    expected = [i for i in curriculum_ids() if i[1] in weeks_that_exist()]
    assert expected, "no week exists yet"
    missing = [i for i in expected if i not in rows and i not in NOT_YET_TAUGHT]
    assert not missing, f"README curriculum table lacks rows for {missing}"


def test_not_yet_taught_lists_only_curriculum_ids_without_a_row():
    unknown = sorted(set(NOT_YET_TAUGHT) - set(curriculum_ids()))
    assert not unknown, f"NOT_YET_TAUGHT names ids the curriculum does not have: {unknown}"
    taught = sorted(set(NOT_YET_TAUGHT) & set(readme_rows()))
    assert not taught, f"{taught} have README rows now: remove them from NOT_YET_TAUGHT"


@pytest.mark.parametrize("curriculum_id", sorted(readme_rows()))
def test_row_points_at_code_and_a_test_that_exist(curriculum_id):
    row = readme_rows()[curriculum_id]
    assert REFERENCE.findall(row["test"]), f"{curriculum_id}: no test named"
    assert REFERENCE.findall(row["code"]), f"{curriculum_id}: no code named"
    assert artifacts_of(row), f"{curriculum_id}: names nothing to look at in the run"
    for relative, name in REFERENCE.findall(row["code"]) + REFERENCE.findall(row["test"]):
        path = REPO_ROOT / relative
        assert path.is_file(), f"{curriculum_id}: {relative} does not exist"
        assert name in defined_names(path), f"{curriculum_id}: {relative} defines no {name}"


def logged_names(week: int) -> list[str]:
    """Every artifact or metric the README promises for a week's run (for its smoke test)."""
    return sorted(
        {
            name
            for i, row in readme_rows().items()
            if i.startswith(f"W{week}.")
            for name in artifacts_of(row)
        }
    )


@pytest.mark.parametrize("curriculum_id", sorted(readme_rows()))
def test_row_names_an_exercise_registered_for_its_id(curriculum_id):
    named = EXERCISE.findall(readme_rows()[curriculum_id]["exercise"])
    if curriculum_id in NO_EXERCISE_YET:
        assert not named, f"{curriculum_id} has an exercise now: remove it from NO_EXERCISE_YET"
        return
    assert named, f"{curriculum_id}: the row names no exercise (mine/weekN/<module>.py::<f>)"
    for week, module, function in named:
        registered = registered_exercises(week)
        assert (module, function) in registered, (
            f"{curriculum_id}: no @exercise {module}.{function}"
        )
        assert registered[module, function] == curriculum_id, f"{module}.{function} is another id's"


def test_every_registered_exercise_is_in_the_table():
    named = {
        (m, f) for row in readme_rows().values() for _, m, f in EXERCISE.findall(row["exercise"])
    }
    for week in sorted(weeks_that_exist()):
        missing = sorted(set(registered_exercises(week)) - named)
        assert not missing, f"week {week}: exercises missing from the README table: {missing}"


def test_the_readme_counts_the_exercises_of_each_week():
    text = " ".join((REPO_ROOT / "README.md").read_text().split())
    counts = {week: len(registered_exercises(week)) for week in sorted(weeks_that_exist())}
    per_week = ", ".join(f"week {week}: {n}" for week, n in counts.items())
    claim = f"{sum(counts.values())} for the {len(curriculum_ids())} ids ({per_week})"
    assert claim in text, f"the README's 'Your turn' should say: {claim}"
