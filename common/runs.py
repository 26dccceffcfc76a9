"""``python -m common.runs --week 2``: a week's logged runs as a table, best first.

One row per run: its short id, name, status and start time, the params whose
values differ between the listed runs (what was changed), and the headline
metric, ranked the way the runs' week declares (:class:`common.tracking.Headline`), failed runs
(no headline) last. Runs of a sweep show their parent run in ``parent``; a
reproduction (``python -m common.reproduce``) shows the run it reproduces. The weeks are
those the store's runs name (their ``week`` tag): a new week is listed as it logs, wherever
its package lives.

``tracking.*`` params are left out of the differing ones: they say where a run
was stored, not what it computed. MLflow and pandas are imported inside the
functions, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime
from typing import TYPE_CHECKING

from common.liveness import HOST_TAG, PID_TAG, is_stale
from common.server import ServerUnreachable
from common.store import StoreUnusable, check_usable
from common.tracking import (
    HEADLINE,
    HEADLINE_METRIC_TAG,
    PARENT_TAG,
    ranks_higher,
    resolve_tracking_uri,
)

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

SHORT_ID = 8  # characters of a run id shown (and accepted by `make reproduce`)
REPRODUCES_TAG = "reproduces"  # set by common.reproduce on a reproduction
HIDDEN_PARAM_PREFIXES = ("tracking.",)  # where a run was stored, not what it computed
MAX_CELL = 40  # characters of a name or param value shown
PAGE = 1000  # runs per search request


def natural_key(name: str) -> list:
    """``week2`` before ``week10``: digits compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def logged_weeks(runs: list[Run]) -> list[str]:
    """The weeks ``runs`` name (their ``week`` tag, as ``run_tracked`` logs it), in order."""
    weeks = {run.data.tags["week"] for run in runs if run.data.tags.get("week")}
    return sorted(weeks, key=natural_key)


def resolve_week(given: str, weeks: list[str], where: str, of: str = "runs") -> str:
    """The week of ``weeks`` that ``given`` names: itself, or its number (``2`` for ``week2``).

    ``weeks`` are the weeks of the ``of`` in the store ``where``; none matching is a one-line
    error that names them.
    """
    if given in weeks:
        return given
    numbered = [week for week in weeks if re.fullmatch(rf"\D*0*{re.escape(given)}", week)]
    if given.isdigit() and len(numbered) == 1:
        return numbered[0]
    logged = f"the weeks with {of} are {', '.join(weeks)}" if weeks else f"it holds no {of}"
    raise ValueError(f"no week {given!r} in {where}: {logged}")


def open_store(tracking_uri: str) -> MlflowClient:
    """A client of an existing store that answers: :class:`StoreUnusable` (a missing or
    broken SQLite file) or :class:`ServerUnreachable` (a server down, or not MLflow's) if not."""
    from mlflow.tracking import MlflowClient

    check_usable(tracking_uri, write=False)
    return MlflowClient(tracking_uri)


def search_all(client: MlflowClient, filter_string: str) -> list[Run]:
    """Every active run of every experiment that matches ``filter_string`` (all pages)."""
    experiment_ids = [e.experiment_id for e in client.search_experiments()]
    if not experiment_ids:
        return []
    found, token = [], None
    while True:
        page = client.search_runs(experiment_ids, filter_string, max_results=PAGE, page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            return found


def fetch_runs(client: MlflowClient, week: str, logged: list[Run] | None = None) -> list[Run]:
    """The runs tagged ``week`` (of ``logged``, else searched), plus the sweep parents of any
    of them."""
    if logged is None:
        runs = search_all(client, f"tags.week = '{week}'")
    else:
        runs = [run for run in logged if run.data.tags.get("week") == week]
    listed = {run.info.run_id for run in runs}
    parents = {run.data.tags.get(PARENT_TAG) for run in runs} - listed - {None}
    known = {run.info.run_id: run for run in logged or []}
    return runs + [known.get(parent) or client.get_run(parent) for parent in sorted(parents)]


def shorten(text: str, width: int = MAX_CELL) -> str:
    """``text`` cut to ``width`` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def differing_keys(mappings: list) -> list[str]:
    """Keys whose value is not the same in every mapping (a missing key counts as a value)."""
    keys = sorted({key for mapping in mappings for key in mapping})
    return [key for key in keys if len({repr(mapping.get(key)) for mapping in mappings}) > 1]


def differing_params(runs: list[Run]) -> list[str]:
    """Param keys whose value is not the same in every run, ``tracking.*`` left out."""
    changed = differing_keys([run.data.params for run in runs])
    return [key for key in changed if not key.startswith(HIDDEN_PARAM_PREFIXES)]


def runs_table(runs: list[Run], week: str, metrics: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per run: id, name, status, start, relations, differing params, headline, metrics.

    Differing params: those whose values differ between the runs that are not sweep parents.

    Sorted best first by the headline (in the direction the runs' tags declare), runs
    without one last,
    ties newest first.
    """
    import pandas as pd

    children = {}
    for run in runs:
        parent = run.data.tags.get(PARENT_TAG)
        if parent:
            children[parent] = children.get(parent, 0) + 1
    # a sweep's parent has no params of its own: they would all look changed beside it
    params = differing_params([run for run in runs if run.info.run_id not in children])
    table = pd.DataFrame([run_row(run, children, params, metrics) for run in runs])
    if table.empty:
        return table
    table = table.sort_values("_start_ms", ascending=False, kind="stable")
    table = table.sort_values(
        HEADLINE,
        ascending=not ranks_higher(run.data.tags for run in runs),
        na_position="last",
        kind="stable",
    )
    unused = [c for c in ("parent", REPRODUCES_TAG) if not table[c].astype(bool).any()]
    return table.drop(columns=["_start_ms", *unused]).reset_index(drop=True)


def run_row(run: Run, children: dict[str, int], params: list[str], metrics) -> dict:
    """One run's row of :func:`runs_table`; ``children``: a sweep parent's id -> its jobs."""
    run_id, tags = run.info.run_id, run.data.tags
    parent = tags.get(PARENT_TAG, "")[:SHORT_ID]
    if run_id in children:
        parent = f"sweep of {children[run_id]}"
    return {
        "run": run_id[:SHORT_ID],
        "name": shorten(run.info.run_name or ""),
        "status": run.info.status + (" (stale)" if is_stale(run.info.status, tags) else ""),
        "start": datetime.fromtimestamp(run.info.start_time / 1000).strftime("%Y-%m-%d %H:%M"),
        "parent": parent,
        REPRODUCES_TAG: tags.get(REPRODUCES_TAG, "")[:SHORT_ID],
        **{key: shorten(run.data.params.get(key, "")) for key in params},
        HEADLINE: run.data.metrics.get(HEADLINE, float("nan")),
        **{name: run.data.metrics.get(name, float("nan")) for name in metrics},
        "_start_ms": run.info.start_time,
    }


def render(table: pd.DataFrame) -> str:
    """The table as plain text, numbers with 6 significant digits, missing values blank."""
    return table.to_string(index=False, na_rep="", float_format=lambda x: f"{x:.6g}")


def describe_week(
    runs: list[Run],
    tracking_uri: str,
    week: str,
    metrics: tuple[str, ...] = (),
    status: str | None = None,
    limit: int | None = None,
) -> str:
    """The heading and the table of ``week``'s ``runs``, or one line saying there is none."""
    if status:
        runs = [run for run in runs if run.info.status == status]
    which = f"{status} {week}" if status else week
    if not runs:
        return f"no {which} runs in {tracking_uri}"
    table = runs_table(runs, week, metrics)
    shown = table if limit is None else table.head(limit)
    order = "higher" if ranks_higher(run.data.tags for run in runs) else "lower"
    metric = next(
        (r.data.tags[HEADLINE_METRIC_TAG] for r in runs if HEADLINE_METRIC_TAG in r.data.tags), None
    )
    heading = (
        f"{which}: {len(table)} runs in {tracking_uri}, best first by {HEADLINE} "
        f"({f'{metric}, ' if metric else ''}{order} is better)"
        + (f", top {len(shown)} shown" if len(shown) < len(table) else "")
    )
    return f"{heading}\n{render(shown)}"


def close_stale(client: MlflowClient, weeks: list[str], logged: list[Run]) -> list[str]:
    """End every stale run of ``weeks`` (RUNNING, its process gone) as KILLED; one line each."""
    closed = []
    for week in weeks:
        for run in fetch_runs(client, week, logged):
            tags = run.data.tags
            if not is_stale(run.info.status, tags):
                continue
            why = f"stale: its process {tags[PID_TAG]} on {tags[HOST_TAG]} is gone"
            client.set_tag(run.info.run_id, "error", why)
            client.set_terminated(run.info.run_id, "KILLED")
            closed.append(f"{week} run {run.info.run_id} ({run.info.run_name}): KILLED, {why}")
    return closed


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line: --week, --metrics, --status, --limit, --close-stale."""
    parser = argparse.ArgumentParser(
        prog="python -m common.runs",
        description="Logged runs of a week as a table: differing params and headline, best first.",
    )
    parser.add_argument(
        "--week", help="week2, or 2 (default: every week the store holds, one table each)"
    )
    parser.add_argument(
        "--metrics",
        default="",
        help="more metric columns, comma-separated, e.g. --metrics test_f1,test_roc_auc",
    )
    parser.add_argument(
        "--status", choices=["FINISHED", "FAILED", "KILLED", "RUNNING"], help="only these runs"
    )
    parser.add_argument("--limit", type=int, help="show the best N runs of each week")
    parser.add_argument(
        "--close-stale",
        action="store_true",
        help="end RUNNING runs whose process (on this host) is gone as KILLED, then list",
    )
    parser.add_argument(
        "--tracking-uri", help="the run store (default: $MLFLOW_TRACKING_URI, else mlflow.db)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """``python -m common.runs``: one table per week, or the stale runs it closed."""
    args = parse_args(argv)
    tracking_uri = resolve_tracking_uri(args.tracking_uri)
    metrics = tuple(name.strip() for name in args.metrics.split(",") if name.strip())
    try:
        client = open_store(tracking_uri)
        logged = search_all(client, "")
        weeks = logged_weeks(logged)
        if args.week:
            weeks = [resolve_week(args.week, weeks, tracking_uri)]
    except (ValueError, StoreUnusable, ServerUnreachable) as error:
        sys.exit(f"runs: {error}")
    if not weeks:
        print(f"no runs in {tracking_uri} yet: run a week first (`make help` lists them)")
        return
    if args.close_stale:
        closed = close_stale(client, weeks, logged)
        print("\n".join(closed) if closed else "no stale runs: every RUNNING run has its process")
        return
    tables = []
    for week in weeks:
        runs = fetch_runs(client, week, logged)
        tables.append(describe_week(runs, tracking_uri, week, metrics, args.status, args.limit))
    print("\n\n".join(tables))


if __name__ == "__main__":
    main()
