"""Helpers for the tests of ``make exercise`` / ``make check`` / ``impl=mine``.

A learner's folder is simulated in a temporary directory (``MATH4ML_MINE_DIR``): nothing
here ever touches the repository's own ``mine/``.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from common.exercises import MINE_ENV, discover, group_by_file
from common.paths import REPO_ROOT

STATUS = re.compile(r"^W\d\.\w+\s+.*?\s(\w+\.\w+)\s+(todo|passes|fails)\s*$", re.M)


def learner_env(mine: Path) -> dict[str, str]:
    return {**os.environ, MINE_ENV: str(mine)}


def without_exercise_decorators(source: str) -> str:
    """A module's source with its ``@exercise(...)`` lines removed: a learner's copy."""
    lines = source.splitlines(keepends=True)
    drop = set()
    for node in ast.walk(ast.parse(source)):
        for decorator in getattr(node, "decorator_list", []):
            call = decorator.func if isinstance(decorator, ast.Call) else decorator
            if isinstance(call, ast.Name) and call.id == "exercise":
                drop.update(range(decorator.lineno - 1, decorator.end_lineno))
    return "".join(line for i, line in enumerate(lines) if i not in drop)


def copy_reference(package: str, mine: Path) -> dict[str, Path]:
    """Write each module's reference code into the learner's folder: ``{module: path}``."""
    os.environ[MINE_ENV] = str(mine)  # learner_file() reads it; restored by the caller
    written = {}
    for path, group in group_by_file(discover(package)).items():
        source = Path(importlib.import_module(group[0].reference.__module__).__file__)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(without_exercise_decorators(source.read_text()))
        written[group[0].module] = path
    return written


def replace_function(path: Path, name: str, new_source: str) -> None:
    """Swap the top-level function ``name`` in a learner's file for ``new_source``."""
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    [node] = [n for n in ast.parse(text).body if getattr(n, "name", None) == name]
    start = (node.decorator_list[0] if node.decorator_list else node).lineno - 1
    lines[start : node.end_lineno] = [new_source.rstrip() + "\n"]
    path.write_text("".join(lines))


GRADING_TIMEOUT_S = 120  # per graded test, instead of make check's 20 s


def grade(package: str, tests: str, mine: Path, *extra: str) -> tuple[int, dict[str, str], str]:
    """``make check`` as a learner runs it: (exit status, {function: status}, output).

    Nothing is logged to MLflow unless ``extra`` holds ``--log``.
    """
    log = [] if "--log" in extra else ["--no-log"]  # --log: into $MLFLOW_TRACKING_URI
    extra = tuple(e for e in extra if e != "--log")
    if "--timeout" not in extra:  # the time-out is tested on the toy; a busy CI is slower
        extra = (*extra, "--timeout", str(GRADING_TIMEOUT_S))
    result = subprocess.run(
        [sys.executable, "-m", "common.grading", package, tests, *log, *extra],
        cwd=REPO_ROOT,
        env=learner_env(mine),
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    return result.returncode, dict(STATUS.findall(result.stdout)), output


def assert_every_exercise_grades(package: str, tests: str, mine: Path, status: str) -> None:
    """Fresh stubs (``todo``) or the reference copied (``passes``): every exercise of
    ``package`` is in the scorecard with that status, and ``make check`` exits 0."""
    from common.exercises import write_stubs

    if status == "todo":
        write_stubs(discover(package))
    else:
        copy_reference(package, mine)
    code, statuses, output = grade(package, tests, mine)
    assert code == 0, output
    expected = {f"{e.module}.{e.name}": status for e in discover(package)}
    assert statuses == expected, output


def grade_with_mistakes(
    package: str, tests: str, mine: Path, mistakes: dict[str, str]
) -> tuple[int, dict[str, str], str]:
    """The reference copied, ``{"module.function": wrong source}`` swapped in, and the ids
    of those functions graded: (exit status, {function: status}, output)."""
    files = copy_reference(package, mine)
    for where, source in mistakes.items():
        module, name = where.split(".")
        replace_function(files[module], name, source)
    by_name = {f"{e.module}.{e.name}": e.curriculum_id for e in discover(package)}
    ids = dict.fromkeys(by_name[where] for where in mistakes)
    return grade(package, tests, mine, *(arg for i in ids for arg in ("--id", i)))


def grade_everything_with_mistakes(
    package: str, tests: str, mine: Path, mistakes: dict[str, str]
) -> tuple[int, dict[str, str], str]:
    """One ``make check`` of every exercise of ``package``: the reference copied into
    ``mine``, ``{"module.function": wrong source}`` swapped in. The mistakes must fail alone
    and every other exercise pass: (exit status, {function: status}, output)."""
    with pytest.MonkeyPatch.context() as patch:  # copy_reference sets MATH4ML_MINE_DIR
        patch.setenv(MINE_ENV, str(mine))
        files = copy_reference(package, mine)
        for where, source in mistakes.items():
            module, name = where.split(".")
            replace_function(files[module], name, source)
        return grade(package, tests, mine)


def assert_every_other_exercise_passes(package: str, mistakes, statuses, output) -> None:
    """Every exercise of ``package`` but those in ``mistakes`` is in the scorecard, passing."""
    expected = {f"{e.module}.{e.name}": "passes" for e in discover(package)}
    expected = {key: status for key, status in expected.items() if key not in mistakes}
    assert {k: v for k, v in statuses.items() if k not in mistakes} == expected, output
