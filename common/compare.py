"""``make compare``: two (or more) runs side by side, and the UI page that compares them.

    python -m common.compare                # the two newest FINISHED runs of one week
    python -m common.compare 3f9c1a2b 77d0  # these runs (ids or unique prefixes)
    python -m common.compare --week 3       # the two newest FINISHED week-3 runs

Prints what a learner asks first of two runs: what was changed (the params whose values
differ), what came of it (the headline, then every metric whose value differs, the
largest relative change first), and the URL of MLflow's Compare page for exactly these
runs. A sweep's parent run (it has no params of its own) is never picked by default.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import urllib.parse
from typing import TYPE_CHECKING

from common.reproduce import CannotReproduce, find_run
from common.runs import (
    SHORT_ID,
    differing_keys,
    differing_params,
    logged_weeks,
    open_store,
    resolve_week,
    search_all,
    shorten,
)
from common.server import ServerUnreachable
from common.store import StoreUnusable
from common.summary import ui_base
from common.sweep import JOBS_TAG
from common.tracking import HEADLINE, HEADLINE_METRIC_TAG, resolve_tracking_uri

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

MAX_METRIC_ROWS = 25  # the differing metrics shown, largest relative change first


def newest_finished(
    client: MlflowClient, week: str | None, count: int = 2, where: str = "the store"
) -> list[Run]:
    """The ``count`` newest FINISHED runs that are not sweep parents: of ``week`` (a name or
    its number, :func:`common.runs.resolve_week`), or of the week of the newest such run."""
    query = "attributes.status = 'FINISHED'"
    runs = [run for run in search_all(client, query) if JOBS_TAG not in run.data.tags]
    runs.sort(key=lambda run: run.info.start_time, reverse=True)
    if week is not None:
        week = resolve_week(week, logged_weeks(runs), where, of="FINISHED runs")
    elif runs:
        week = runs[0].data.tags.get("week")
    return [run for run in runs if run.data.tags.get("week") == week][:count]


def compare_url(tracking_uri: str, runs: list[Run]) -> str:
    """MLflow's Compare page for ``runs``: the server itself, else a local ``make ui``."""
    base = ui_base(tracking_uri)
    run_ids = json_list([run.info.run_id for run in runs])
    experiments = json_list(sorted({run.info.experiment_id for run in runs}))
    return f"{base}/#/compare-runs?runs={run_ids}&experiments={experiments}"


def json_list(values: list[str]) -> str:
    """A list of strings as the UI's routes take it: compact JSON, percent-encoded."""
    return urllib.parse.quote(json.dumps(values, separators=(",", ":")))


def relative_change(values: list[float | None]) -> float:
    """max |v - v_0| / |v_0| over the runs (inf when v_0 is 0 or a run lacks the metric)."""
    first = values[0]
    if first is None or any(v is None for v in values) or first == 0:
        return math.inf
    return max(abs(v - first) / abs(first) for v in values)


def table(rows: list[list[str]]) -> list[str]:
    """Rows of cells as left-aligned text columns, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def value(number: float | None) -> str:
    """A metric as 6 significant digits; blank when the run lacks it."""
    return "" if number is None else f"{number:.6g}"


def report(runs: list[Run], tracking_uri: str) -> str:
    """The runs, the params that differ, the headline and the metrics that differ, the URL."""
    header = [
        "",
        *(f"{run.info.run_id[:SHORT_ID]} {shorten(run.info.run_name or '')}" for run in runs),
    ]
    changed = differing_params(runs)
    cells = ([key, *(shorten(run.data.params.get(key, "")) for run in runs)] for key in changed)
    lines = table([header, *cells])
    if not changed:
        lines.append("(every param is the same: a rerun, or a different seed of the code)")
    metric = runs[0].data.tags.get(HEADLINE_METRIC_TAG)
    headline = [
        f"{HEADLINE} ({metric})" if metric else HEADLINE,
        *(value(run.data.metrics.get(HEADLINE)) for run in runs),
    ]
    metrics = [run.data.metrics for run in runs]
    moved = [key for key in differing_keys(metrics) if key != HEADLINE]
    moved.sort(key=lambda key: -relative_change([m.get(key) for m in metrics]))
    rows = [[key, *(value(m.get(key)) for m in metrics)] for key in moved[:MAX_METRIC_ROWS]]
    lines += ["", *table([header, headline, *rows])]
    if len(moved) > MAX_METRIC_ROWS:
        lines.append(f"... {len(moved) - MAX_METRIC_ROWS} more metrics differ")
    lines += ["", f"compare them in the UI: make ui, then {compare_url(tracking_uri, runs)}"]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line: run ids, --week, --tracking-uri."""
    parser = argparse.ArgumentParser(
        prog="python -m common.compare", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "runs", nargs="*", help="run ids or unique prefixes (default: the newest two)"
    )
    parser.add_argument(
        "--week", help="with no runs given: the newest two of this week (week2, or 2)"
    )
    parser.add_argument("--tracking-uri", help="default: $MLFLOW_TRACKING_URI, else mlflow.db")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """``python -m common.compare``: print the comparison, or one line saying why not."""
    args = parse_args(argv)
    tracking_uri = resolve_tracking_uri(args.tracking_uri)
    try:
        client = open_store(tracking_uri)
        if args.runs:
            runs = [find_run(client, run_id, tracking_uri) for run_id in args.runs]
        else:
            runs = newest_finished(client, args.week, where=tracking_uri)
    except (CannotReproduce, ValueError, StoreUnusable, ServerUnreachable) as error:
        sys.exit(f"compare: {error}")
    if len(runs) < 2:
        week = runs[0].data.tags.get("week") if runs else None
        which = f"FINISHED {week} runs" if week else "FINISHED runs of one week"
        sys.exit(
            f"compare: needs two runs, found {len(runs)} {which} in {tracking_uri}; "
            "run the week twice (with a setting changed), or pass RUNS=<id>,<id>"
        )
    print(report(runs, tracking_uri))


if __name__ == "__main__":
    main()
