"""Exercises: the small functions a learner writes, and the one seam that runs theirs.

A reference function becomes an exercise with a decorator::

    @exercise("W4.3", hint="use scipy.special.xlogy, or mask the zeros: 0 log 0 = 0")
    def entropy(p, base=None): ...

The decorated function is what every caller imports and calls. It calls the reference,
unless a learner's version was chosen for the current context with :func:`using`::

    with using(learner_functions(package)):  # mine/weekN/<module>.py, the written ones
        pipeline.run(cfg)                    # every call of entropy() runs the learner's

The choice lives in a :class:`contextvars.ContextVar`: it ends with the ``with`` block and
never leaks into another test or another job of a sweep.

The learner's workspace is ``mine/weekN/`` at the repository root (``$MATH4ML_MINE_DIR``
elsewhere): one file per module that has exercises, written by :func:`write_stubs`, which
never overwrites a file. ``python -m common.exercises PACKAGE [--id W4.3]`` writes them.
"""

from __future__ import annotations

import argparse
import ast
import copy
import functools
import importlib
import importlib.util
import inspect
import os
import pkgutil
import re
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from common.paths import REPO_ROOT

MINE_ENV = "MATH4ML_MINE_DIR"  # where the learner's workspace is; default <repo>/mine


@dataclass(frozen=True)
class Exercise:
    """One function a learner writes: its curriculum id, the reference, and a hint."""

    curriculum_id: str
    reference: Callable
    hint: str

    @property
    def key(self) -> str:
        """``projects.week4_tree_search.information.entropy``: one name per exercise."""
        return f"{self.reference.__module__}.{self.reference.__qualname__}"

    @property
    def name(self) -> str:
        """The function's name, as the learner's file defines it."""
        return self.reference.__name__

    @property
    def module(self) -> str:
        """``information``: the file the exercise lives in, under ``mine/weekN/``."""
        return self.reference.__module__.rsplit(".", 1)[-1]

    @property
    def week(self) -> str:
        """``week4`` for ``W4.3``: the learner's folder."""
        return f"week{self.curriculum_id[1]}"


EXERCISES: dict[str, Exercise] = {}  # key -> exercise, filled as modules are imported
_CHOSEN: ContextVar[Mapping[str, Callable] | None] = ContextVar("chosen", default=None)


class ExerciseError(RuntimeError):
    """A learner's function raised, returned the wrong shape, or could not be loaded."""


def exercise(curriculum_id: str, hint: str) -> Callable[[Callable], Callable]:
    """Register the decorated reference as the exercise for ``curriculum_id``."""
    if not re.fullmatch(r"W\d\.(?:\d+|P\d+|X\d+)", curriculum_id):
        raise ValueError(f"curriculum id must look like W4.3 or W2.P1, got {curriculum_id!r}")

    def register(reference: Callable) -> Callable:
        entry = Exercise(curriculum_id, reference, hint)
        EXERCISES[entry.key] = entry

        @functools.wraps(reference)
        def dispatch(*args, **kwargs):
            chosen = _CHOSEN.get()
            function = chosen.get(entry.key, reference) if chosen else reference
            return function(*args, **kwargs)

        dispatch.exercise = entry
        return dispatch

    return register


@contextmanager
def using(chosen: Mapping[str, Callable]) -> Iterator[None]:
    """Within the block, each exercise whose key is in ``chosen`` calls that function."""
    token = _CHOSEN.set(dict(chosen))
    try:
        yield
    finally:
        _CHOSEN.reset(token)


def learner_version_chosen(function: Callable) -> bool:
    """Whether calls of the exercise ``function`` run a learner's version in this context.

    Code with a fast path beside an exercise takes the path through the exercise while this
    is true, so that the learner's function is what runs.
    """
    chosen = _CHOSEN.get()
    return bool(chosen) and function.exercise.key in chosen


def discover(package: str) -> list[Exercise]:
    """The exercises of ``package``: its modules that declare one are imported (registered)."""
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        source = Path(info.module_finder.path) / f"{info.name.rsplit('.', 1)[-1]}.py"
        if source.is_file() and "@exercise(" in source.read_text():
            importlib.import_module(info.name)
    found = [e for e in EXERCISES.values() if e.reference.__module__.startswith(f"{package}.")]
    return sorted(found, key=lambda e: (e.module, source_line(e.reference)))


def source_line(function: Callable) -> int:
    """The line of its file where ``function`` is defined."""
    return inspect.getsourcelines(function)[1]


def mine_dir() -> Path:
    """The learner's workspace: ``$MATH4ML_MINE_DIR``, else ``mine/`` at the repository root."""
    return Path(os.environ.get(MINE_ENV) or REPO_ROOT / "mine")


def learner_file(entry: Exercise) -> Path:
    """Where the learner writes ``entry``: ``mine/<week>/<module>.py``."""
    return mine_dir() / entry.week / f"{entry.module}.py"


def display(path: Path) -> str:
    """A path relative to the repository when it lies inside it (for messages)."""
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


# --- stubs ------------------------------------------------------------------------------


def stub_source(entry: Exercise) -> str:
    """The reference's exact signature, its docstring with id and hint, and no body."""
    source = textwrap.dedent(inspect.getsource(entry.reference))
    node = ast.parse(source).body[0]
    header = source.splitlines()[node.lineno - 1 : node.body[0].lineno - 1]  # def ...:
    doc = inspect.getdoc(entry.reference) or ""
    docstring = f"{entry.curriculum_id}: {doc}\n\nHint: {entry.hint}\n"
    body = textwrap.indent(f'"""{docstring}"""\n{todo_line(entry)}\n', "    ")
    return "\n".join(header) + "\n" + body


def todo_line(entry: Exercise) -> str:
    """The statement a fresh stub raises until the learner writes the function."""
    return f'raise NotImplementedError("{entry.curriculum_id}: write {entry.name}")'


def file_preamble(module: str, week: str) -> str:
    """The top of a learner's file: what it is, the two commands, the imports it needs."""
    return (
        f'"""Your {week} exercises: the functions of `{module}`, written by you.\n\n'
        f"Grade them: make check WEEK={week[4:]}. Run the capstone on the ones you wrote:\n"
        f'make {week} ARGS="impl=mine". This file is yours: the project never overwrites it.\n'
        '"""\n\nfrom __future__ import annotations\n\nimport numpy as np\n\n'
        f"from {module} import *  # noqa: F403  its helpers; the functions below are yours\n"
    )


def write_stubs(entries: list[Exercise]) -> list[str]:
    """Create or extend ``mine/weekN/<module>.py``; never overwrite. One line per action."""
    report = []
    for path, group in group_by_file(entries).items():
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            stubs = "\n\n".join(stub_source(e) for e in group)
            text = file_preamble(group[0].reference.__module__, group[0].week)
            path.write_text(f"{text}\n\n{stubs}")
            names = ", ".join(e.name for e in group)
            report.append(f"wrote    {display(path)}: {names}")
            continue
        defined = defined_functions(path)
        new = [e for e in group if e.name not in defined]
        if new:
            with path.open("a") as handle:
                handle.write("".join(f"\n\n{stub_source(e)}" for e in new))
            report.append(f"appended {display(path)}: {', '.join(e.name for e in new)}")
        else:
            report.append(f"kept     {display(path)}: it exists (yours; not overwritten)")
    return report


def defined_functions(path: Path) -> set[str]:
    """Top-level function names of a file; the empty set if it does not parse."""
    try:
        tree = ast.parse(path.read_text())
    except SyntaxError:
        return set()
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


# --- the learner's functions --------------------------------------------------------------


def is_written(function: ast.FunctionDef) -> bool:
    """False for a stub: a body of at most a docstring and ``raise NotImplementedError``."""
    body = list(function.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return True
    raised = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    return not (isinstance(raised, ast.Name) and raised.id == "NotImplementedError")


def load_learner_module(path: Path) -> ModuleType:
    """Import a learner's file by path; a syntax or import error becomes one line."""
    name = "mine_" + "_".join(path.with_suffix("").parts[-2:])
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # mine/ stays as is
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise ExerciseError(
            f"{display(path)} failed to import: {type(error).__name__}: {error}"
        ) from None
    finally:
        sys.dont_write_bytecode = writes_bytecode
    return module


def written_in(path: Path, group: list[Exercise]) -> dict[str, Callable]:
    """``{key: learner's function}`` for the exercises of one file that are written."""
    try:
        tree = ast.parse(path.read_text())
    except SyntaxError as error:
        raise ExerciseError(
            f"{display(path)}:{error.lineno}: SyntaxError: {error.msg}; fix it and try again"
        ) from None
    done = {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and is_written(n)}
    chosen = [e for e in group if e.name in done]
    if not chosen:
        return {}
    module = load_learner_module(path)
    return {e.key: getattr(module, e.name) for e in chosen}


def group_by_file(entries: list[Exercise]) -> dict[Path, list[Exercise]]:
    """The exercises of each learner file, ``mine/weekN/<module>.py``."""
    by_file: dict[Path, list[Exercise]] = {}
    for entry in entries:
        by_file.setdefault(learner_file(entry), []).append(entry)
    return by_file


def written_functions(entries: list[Exercise]) -> dict[str, Callable]:
    """``{key: learner's function}`` for every written exercise; a broken file raises."""
    written = {}
    for path, group in group_by_file(entries).items():
        if path.exists():
            written.update(written_in(path, group))
    return written


# --- the capstone on the learner's functions -------------------------------------------------


def shape_of(value) -> object:
    """A comparable outline of a result: array shapes, tuple lengths, scalar or type."""
    if isinstance(value, tuple):
        return tuple(shape_of(v) for v in value)
    if hasattr(value, "shape"):
        return tuple(value.shape)
    if isinstance(value, int | float | complex) or type(value).__module__ == "numpy":
        return ()
    return type(value).__name__


def unconsumed(value):
    """A copy of a NumPy random generator, else the value: the reference's draws for the
    shape check leave the learner's generator, and so the run's draws, as they were."""
    return copy.deepcopy(value) if hasattr(value, "bit_generator") else value


def guarded(entry: Exercise, mine: Callable) -> Callable:
    """The learner's function, its errors named, its first result's shape checked."""
    where = f"{entry.curriculum_id} {entry.name} ({display(learner_file(entry))})"
    checked = False

    @functools.wraps(mine)
    def call(*args, **kwargs):
        nonlocal checked
        expected = None
        if not checked:
            copies = {name: unconsumed(value) for name, value in kwargs.items()}
            expected = entry.reference(*map(unconsumed, args), **copies)
        try:
            result = mine(*args, **kwargs)
        except Exception as error:
            raise ExerciseError(f"{where} raised {type(error).__name__}: {error}") from error
        if not checked:
            checked = True
            if shape_of(result) != shape_of(expected):
                raise ExerciseError(
                    f"{where} returned shape {shape_of(result)}; "
                    f"the reference returns {shape_of(expected)}"
                )
        return result

    return call


def learner_choice(package: str) -> dict[str, Callable]:
    """What ``impl=mine`` runs: the learner's written functions of ``package``, guarded."""
    entries = discover(package)
    written = written_functions(entries)
    if not written:
        week = entries[0].week if entries else "weekN"
        raise ExerciseError(
            f"impl=mine but {display(mine_dir() / week)} holds no written exercise: run "
            f"`make exercise WEEK={week[4:]}`, write a function, then run again"
        )
    by_key = {e.key: e for e in entries}
    return {key: guarded(by_key[key], mine) for key, mine in written.items()}


def main(argv: list[str] | None = None) -> int:
    """``python -m common.exercises PACKAGE [--id W2.X1]``: write the learner's stubs."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("package", help="a week's package, e.g. projects.week2_spam")
    parser.add_argument("--id", dest="ids", action="append", help="only this curriculum id")
    args = parser.parse_args(argv)
    entries = [e for e in discover(args.package) if not args.ids or e.curriculum_id in args.ids]
    if not entries:
        print(f"no exercise in {args.package} for {args.ids}", file=sys.stderr)
        return 2
    for line in write_stubs(entries):
        print(line)
    return 0


if __name__ == "__main__":  # the registry lives in common.exercises, not in __main__
    from common.exercises import main as registered_main

    sys.exit(registered_main())
