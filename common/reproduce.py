"""``python -m common.reproduce RUN_ID``: run a logged run again and compare the results.

The run is looked up in the store (a full id, or a unique prefix such as the
8 characters ``python -m common.runs`` shows), the package that ran it (:func:`entry_point`,
read from the file the run's process started) re-runs with
the overrides Hydra recorded (``hydra/overrides.yaml``; ``hydra.*`` and
``tracking.resume`` left out: a reproduction computes, it never reuses a result;
``tracking.uri`` set to the store the run was found in), and the new
run is tagged ``reproduces=<original id>``. Then a table compares the headline
and every metric both runs logged: ``|original - reproduced|`` and a verdict,

    exact             original == reproduced (bit for bit; both NaN counts)
    within tolerance  |original - reproduced| <= rtol * max(|original|, |reproduced|)
    different         otherwise

The exit status is 0 when the outcome reproduces: a FINISHED original's headline
is exact (or within ``--rtol``, 0 by default: every week is deterministic on a
CPU at a fixed seed), or a FAILED original fails again with the same error.
A KILLED or RUNNING original has no outcome to compare, and a sweep's parent
run is re-run through its children: both are refused before any work.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from common.paths import OUTPUTS_DIR, REPO_ROOT
from common.runs import PARENT_TAG, REPRODUCES_TAG, SHORT_ID, open_store, search_all
from common.server import ServerUnreachable
from common.store import StoreUnusable
from common.tracking import HEADLINE, resolve_tracking_uri

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

RUN_ID = re.compile(r"[0-9a-f]{4,32}")  # MLflow run ids are 32 hex digits; a prefix will do
EXIT_DIFFERENT = 1  # the outcome did not reproduce
EXIT_REFUSED = 2  # no such run, or nothing to reproduce
REPRODUCIBLE_STATUSES = ("FINISHED", "FAILED")
# Overrides a reproduction leaves out: its run folder, its store, and resume (it must compute).
UNTRACKED_KEYS = ("hydra.", "tracking.uri", "tracking.resume")
SOURCE_TAG = "mlflow.source.name"  # set by MLflow: the file the run's process started (argv[0])


class CannotReproduce(Exception):
    """The run does not exist or cannot be re-run; the message says why and what to do."""


def find_run(client: MlflowClient, run_id: str, tracking_uri: str) -> Run:
    """The run ``run_id`` (a full id or a unique prefix) in the store ``tracking_uri``."""
    from mlflow.exceptions import MlflowException

    hint = "list runs with `make runs WEEK=2`"
    if not RUN_ID.fullmatch(run_id):
        raise CannotReproduce(
            f"not a run id: {run_id!r} (32 hex digits, or a unique prefix of 4 or more); {hint}"
        )
    if len(run_id) == 32:
        try:
            return client.get_run(run_id)
        except MlflowException:
            raise CannotReproduce(f"no run {run_id} in {tracking_uri}; {hint}") from None
    matches = search_all(client, f"attributes.run_id LIKE '{run_id}%'")
    if not matches:
        raise CannotReproduce(f"no run {run_id} in {tracking_uri}; {hint}")
    if len(matches) > 1:
        ids = ", ".join(sorted(run.info.run_id for run in matches))
        raise CannotReproduce(f"run id prefix {run_id} is ambiguous ({ids}): give more digits")
    return matches[0]


def check_reproducible(client: MlflowClient, run: Run) -> None:
    """Refuse a run whose outcome cannot be compared, before any work."""
    run_id, status = run.info.run_id, run.info.status
    if status not in REPRODUCIBLE_STATUSES:
        raise CannotReproduce(
            f"run {run_id} is {status}: it has no outcome to reproduce "
            f"(only {' or '.join(REPRODUCIBLE_STATUSES)} runs can be reproduced)"
        )
    children = search_all(client, f"tags.`{PARENT_TAG}` = '{run_id}'")
    if children:
        raise CannotReproduce(
            f"run {run_id} is the parent of a sweep of {len(children)} runs: "
            "reproduce one of its children (see `make runs`)"
        )
    if "week" not in run.data.tags:
        raise CannotReproduce(f"run {run_id} has no `week` tag: it was not logged by a week")


def entry_point(run: Run) -> tuple[Path, str]:
    """(folder, module): the run's command is ``python -m <module>`` with ``folder`` on the path.

    Read from what the run logged: ``python -m projects.week3_regression`` starts
    ``<repo>/projects/week3_regression/__main__.py`` (MLflow's tag ``mlflow.source.name``),
    and the module is the chain of packages (folders with an ``__init__.py``) above it. A file
    no longer there (a checkout moved or removed) is looked for under this repository, by
    the same package path.
    """
    source = run.data.tags.get(SOURCE_TAG, "")
    path = Path(source)
    if path.name != "__main__.py" or not path.is_absolute():
        raise CannotReproduce(
            f"run {run.info.run_id} was started by {source or 'an unknown file'}, not by "
            "`python -m <package>`: its command cannot be replayed"
        )
    here = [REPO_ROOT.joinpath(*path.parts[start:]) for start in range(1, len(path.parts) - 1)]
    for candidate in (path, *here):
        folder, modules = candidate.parent, []
        while (folder / "__init__.py").is_file():
            modules.insert(0, folder.name)
            folder = folder.parent
        if modules:
            return folder, ".".join(modules)
    raise CannotReproduce(
        f"run {run.info.run_id} ran {source}: no such package on this machine, nor in {REPO_ROOT}"
    )


def logged_overrides(client: MlflowClient, run: Run) -> list[str]:
    """The overrides the run was started with, as Hydra recorded them."""
    from mlflow.exceptions import MlflowException
    from omegaconf import OmegaConf

    if not run.data.tags.get("hydra.output_dir"):
        raise CannotReproduce(
            f"run {run.info.run_id} was not started from the command line (no Hydra "
            "overrides recorded, e.g. a test or a notebook): its settings cannot be replayed"
        )
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = client.download_artifacts(run.info.run_id, "hydra/overrides.yaml", folder)
        except (MlflowException, OSError):  # not logged: the tag is all there is
            tag = run.data.tags.get("overrides", "(defaults)")
            return [] if tag == "(defaults)" else tag.split(" ")
        return [str(override) for override in OmegaConf.load(path)]


def replay_overrides(overrides: list[str], tracking_uri: str) -> list[str]:
    """The original overrides without :data:`UNTRACKED_KEYS`, into the store ``tracking_uri``.
    A ready-made sweep named as it was before each entry point had its own config folder
    (``+experiment=week1/rate``) is named as it is now (``+experiment=rate``)."""
    kept = [o for o in overrides if not o.lstrip("+~").startswith(UNTRACKED_KEYS)]
    kept = [re.sub(r"^(\+?experiment=)[\w-]+/", r"\1", o) for o in kept]
    return [*kept, f"tracking.uri={tracking_uri}"]


def default_output_dir(week: str, run_id: str) -> Path:
    """A fresh Hydra run folder: ``outputs/<week>/<date>/<time>-reproduces-<id>-<random>``."""
    now = datetime.now()
    day = OUTPUTS_DIR / week / now.strftime("%Y-%m-%d")
    day.mkdir(parents=True, exist_ok=True)
    prefix = f"{now:%H-%M-%S}-reproduces-{run_id[:SHORT_ID]}-"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=day))


def rerun(folder: Path, module: str, overrides: list[str], output_dir: Path) -> int:
    """``python -m <module> <overrides>`` with ``folder`` on the path and its output shown;
    the exit status. It runs from this repository, so it imports this ``common``."""
    command = [sys.executable, "-m", module, *overrides, f"hydra.run.dir={output_dir}"]
    path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH")) if p)
    print("$ python", " ".join(command[1:]), flush=True)
    env = {**os.environ, "PYTHONPATH": path}
    return subprocess.run(command, cwd=REPO_ROOT, env=env, check=False).returncode


def find_new_run(client: MlflowClient, output_dir: Path) -> Run | None:
    """The run whose Hydra folder is ``output_dir`` (the tag ``run_tracked`` sets)."""
    runs = search_all(client, f"tags.`hydra.output_dir` = '{output_dir}'")
    return runs[0] if runs else None


def verdict(original: float, reproduced: float, rtol: float) -> str:
    """exact | within tolerance | different (see the module docstring)."""
    if original == reproduced or (math.isnan(original) and math.isnan(reproduced)):
        return "exact"
    if abs(original - reproduced) <= rtol * max(abs(original), abs(reproduced)):
        return "within tolerance"
    return "different"


def compare_metrics(
    original: dict[str, float], reproduced: dict[str, float], rtol: float = 0.0
) -> pd.DataFrame:
    """The metrics both runs logged, the headline first: values, abs difference, verdict."""
    import pandas as pd

    shared = sorted(original.keys() & reproduced.keys(), key=lambda name: (name != HEADLINE, name))
    return pd.DataFrame(
        {
            "metric": shared,
            "original": [original[name] for name in shared],
            "reproduced": [reproduced[name] for name in shared],
            "abs_diff": [abs(original[name] - reproduced[name]) for name in shared],
            "verdict": [verdict(original[name], reproduced[name], rtol) for name in shared],
        }
    )


def render(table: pd.DataFrame) -> str:
    """Values with 17 significant digits (a float64 round-trips), differences with 3."""
    return table.to_string(
        index=False,
        formatters={
            "original": "{:.17g}".format,
            "reproduced": "{:.17g}".format,
            "abs_diff": "{:.3g}".format,
        },
    )


def outcome(original: Run, reproduced: Run, table: pd.DataFrame) -> tuple[bool, str]:
    """Whether the outcome reproduced, and one sentence saying so."""
    before, after = original.info.status, reproduced.info.status
    if before == "FAILED":
        error_before = original.data.tags.get("error", "")
        error_after = reproduced.data.tags.get("error", "")
        if after == "FAILED" and error_after == error_before:
            return True, f"the failure reproduces: {error_before}"
        got = f"FAILED with {error_after}" if after == "FAILED" else after
        return False, f"the original FAILED with {error_before}; the reproduction {got}"
    if after != "FINISHED":
        error = reproduced.data.tags.get("error", "")
        return False, f"the original FINISHED; the reproduction {after} {error}".rstrip()
    headline = table[table["metric"] == HEADLINE]
    if headline.empty:
        return False, f"no {HEADLINE} metric in both runs: compare the table"
    [row] = headline.itertuples()
    if row.verdict == "different":
        return False, f"{HEADLINE} differs: {row.original:.17g} -> {row.reproduced:.17g}"
    return True, f"{HEADLINE} reproduced ({row.verdict}): {row.reproduced:.17g}"


def provenance_warnings(original: Run, reproduced: Run) -> list[str]:
    """One line each when the code, the libraries or the resolved config differ."""
    warnings = []
    code = {}
    for name, run in (("original", original), ("reproduction", reproduced)):
        tags = run.data.tags
        commit = tags.get("git.commit", "unknown")[:SHORT_ID]
        dirty = " with uncommitted changes" if tags.get("git.dirty") == "true" else ""
        code[name] = (tags.get("git.commit"), tags.get("git.dirty"), f"{commit}{dirty}")
    if code["original"][:2] != code["reproduction"][:2]:
        warnings.append(
            f"warning: the original ran at {code['original'][2]}, the reproduction at "
            f"{code['reproduction'][2]}: a difference may come from the code"
        )
    versions = [
        f"{key.removeprefix('version.')} {value} -> {reproduced.data.tags.get(key)}"
        for key, value in sorted(original.data.tags.items())
        if key.startswith("version.") and reproduced.data.tags.get(key) != value
    ]
    if versions:
        warnings.append(f"warning: library versions differ: {', '.join(versions)}")
    changed = [
        f"{key} {original.data.params.get(key)} -> {reproduced.data.params.get(key)}"
        for key in sorted(original.data.params.keys() | reproduced.data.params.keys())
        if not key.startswith("tracking.")
        and original.data.params.get(key) != reproduced.data.params.get(key)
    ]
    if changed:
        warnings.append(
            "warning: the resolved config differs (a default changed since?): " + "; ".join(changed)
        )
    return warnings


def reproduce(
    run_id: str, tracking_uri: str, rtol: float = 0.0, output_dir: Path | None = None
) -> int:
    """Re-run ``run_id`` into its store, print the comparison; the exit status."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    client = open_store(tracking_uri)
    original = find_run(client, run_id, tracking_uri)
    check_reproducible(client, original)
    week = original.data.tags["week"]
    overrides = replay_overrides(logged_overrides(client, original), tracking_uri)
    folder, module = entry_point(original)  # a run from the command line: its package
    full_id = original.info.run_id
    output_dir = (output_dir or default_output_dir(week, full_id)).absolute()
    print(f"reproducing {week} run {full_id} ({original.info.run_name}, {original.info.status})")
    exit_code = rerun(folder, module, overrides, output_dir)
    found = find_new_run(client, output_dir)
    if found is None:
        print(
            f"reproduce: the command exited with {exit_code} before a run was logged",
            file=sys.stderr,
        )
        return exit_code or EXIT_DIFFERENT
    client.set_tag(found.info.run_id, REPRODUCES_TAG, full_id)
    reproduced = client.get_run(found.info.run_id)
    table = compare_metrics(original.data.metrics, reproduced.data.metrics, rtol)
    print(f"\noriginal {full_id} vs reproduction {reproduced.info.run_id} (rtol={rtol:g})")
    print(render(table) if not table.empty else "(no metric logged by both runs)")
    only = sorted(original.data.metrics.keys() - reproduced.data.metrics.keys())
    if only:
        print(f"only in the original: {', '.join(only)}")
    for warning in provenance_warnings(original, reproduced):
        print(warning, file=sys.stderr)
    same, sentence = outcome(original, reproduced, table)
    print(f"{'reproduced' if same else 'NOT reproduced'}: {sentence}")
    return 0 if same else EXIT_DIFFERENT


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line: the run id, --tracking-uri, --output-dir, --rtol."""
    parser = argparse.ArgumentParser(
        prog="python -m common.reproduce",
        description="Re-run a logged run with its overrides and compare the metrics.",
    )
    parser.add_argument("run_id", help="a run id, or a unique prefix (as `make runs` shows)")
    parser.add_argument(
        "--rtol",
        type=float,
        default=0.0,
        help="relative tolerance of the headline (default 0: must match exactly)",
    )
    parser.add_argument(
        "--tracking-uri", help="the run store (default: $MLFLOW_TRACKING_URI, else mlflow.db)"
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        help="Hydra run folder of the reproduction (default: a new one under outputs/<week>/)",
    )
    args = parser.parse_args(argv)
    if not (args.rtol >= 0):
        parser.error(f"--rtol must be >= 0, got {args.rtol}")
    return args


def main(argv: list[str] | None = None) -> None:
    """``python -m common.reproduce RUN_ID``: re-run, compare, exit 0 if it reproduced."""
    args = parse_args(argv)
    tracking_uri = resolve_tracking_uri(args.tracking_uri)
    try:
        exit_code = reproduce(args.run_id, tracking_uri, args.rtol, args.output_dir)
    except (CannotReproduce, FileNotFoundError, StoreUnusable, ServerUnreachable) as error:
        print(f"reproduce: {error}", file=sys.stderr)
        exit_code = EXIT_REFUSED
    sys.exit(exit_code)


if __name__ == "__main__":
    main()
