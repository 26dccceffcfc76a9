"""Use a logged spam filter from the terminal: classify one message, or serve them all.

    python -m projects.week2_spam.cli predict -- "WINNER! Claim your prize"  (make predict-week2)
    python -m projects.week2_spam.cli predict --file message.txt   (FILE=; --file - reads stdin)
    python -m projects.week2_spam.cli serve --port 5001                      (make serve-week2)

After ``--`` any text is a message, even ``--help``; a message too long for a command
line (about 128 kB, the kernel's limit on one argument) goes in a file or on stdin.

Both take the newest FINISHED week-2 run's filter unless ``--run-id`` names one.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from common.server import port_taken
from common.store import exit_if_unusable
from common.tracking import resolve_tracking_uri
from projects.week2_spam.server import MAX_BODY_BYTES
from projects.week2_spam.spam_filter import MODEL_NAME

EXPERIMENT = "week2"


def chosen_run(run_id: str | None, tracking_uri: str):
    """The run ``run_id``, or the newest FINISHED week-2 run; one line if there is none."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    if run_id:
        try:
            return client.get_run(run_id)
        except MlflowException:
            raise SystemExit(f"error: no run {run_id!r} in {tracking_uri}") from None
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = (
        client.search_runs(
            [experiment.experiment_id],
            filter_string="attributes.status = 'FINISHED'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if experiment
        else []
    )
    if not runs:
        raise SystemExit(f"error: no FINISHED week2 run in {tracking_uri}; run `make week2` first")
    return runs[0]


def describe(run, chosen: bool) -> str:
    """Which run's filter this is: name, id, model, when it finished, how to pick another."""
    from datetime import datetime

    ended = run.info.end_time or run.info.start_time
    when = datetime.fromtimestamp(ended / 1000).strftime("%Y-%m-%d %H:%M")
    how = "as asked" if chosen else "the newest FINISHED week-2 run; RUN_ID=<id> picks another"
    return (
        f"using run {run.info.run_name!r} ({run.info.run_id[:8]}), "
        f"model.name={run.data.params.get('model.name', '?')}, finished {when}: {how}"
    )


def check_port_free(host: str, port: int) -> None:
    """One line, before anything starts, if ``host:port`` is taken."""
    taken = port_taken(host, port)
    if taken:
        raise SystemExit(
            f"error: port {port} on {host} is in use ({taken}); pass "
            f"SERVE_PORT=<another port>, e.g. make serve-week2 SERVE_PORT={port + 1}"
        )


def read_message(path: str) -> str:
    """The whole of a UTF-8 file (``-``: stdin) as one message; one line if it cannot be read."""
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).expanduser().read_bytes()
        return data.decode("utf-8")
    except OSError as error:
        raise SystemExit(f"error: FILE={path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise SystemExit(
            f"error: FILE={path}: byte {error.object[error.start]:#04x} at offset {error.start} "
            "is not UTF-8; re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        ) from None


def predict(text: str, uri: str, tracking_uri: str) -> None:
    """Print P(spam | text) and the terms of its posterior log-odds."""
    import mlflow

    from projects.week2_spam.server import load_model

    mlflow.set_tracking_uri(tracking_uri)
    served = load_model(uri).unwrap_python_model()
    print("\n".join(explanation_lines(text, served.spam_filter, uri)))
    calibrator = getattr(served, "calibrator", None)  # None: an uncalibrated run (or older)
    if calibrator is not None:
        p_spam = served.predict([text])[0]
        how = f"temperature T = {1 / calibrator.beta:.2f}" if hasattr(calibrator, "beta") else ""
        how = how or type(calibrator).__name__.lower()
        print(f"calibrated ({how}): P(spam | text) = {p_spam:.4f}")


def explanation_lines(text: str, spam_filter, source: str) -> list[str]:
    """The verdict, then prior + token contributions (+ absent tokens) = posterior log-odds."""
    from projects.week2_spam import explain
    from projects.week2_spam.spam_filter import filter_parts, spam_probability

    vectorizer, model = filter_parts(spam_filter)
    if type(model) not in explain.EVIDENCE:  # complement NB: no per-token probabilities
        p_spam = spam_probability(spam_filter, [text])[0]
        return [f"{'spam' if p_spam > 0.5 else 'ham'}: P(spam | text) = {p_spam:.4f}   ({source})"]
    contributions, summary = explain.explain(text, vectorizer, model)
    verdict = "spam" if summary["p_spam"] > 0.5 else "ham"
    lines = [
        f"{verdict}: P(spam | text) = {summary['p_spam']:.4f}   ({source})",
        f"prior log-odds log P(spam)/P(ham) = {summary['prior_log_odds']:+.3f}",
    ]
    if len(contributions):
        ranked = contributions.sort_values("contribution", key=abs, ascending=False)
        lines.append(ranked.head(15).to_string(index=False, float_format=lambda v: f"{v:+.3f}"))
    elif summary["absent_log_odds"]:  # Bernoulli: every token of the vocabulary is absent
        lines.append("(no known token: only the absent tokens move the prior)")
    else:
        lines.append("(no known token: the posterior is the prior)")
    if summary["absent_log_odds"]:
        lines.append(f"absent tokens (Bernoulli)          {summary['absent_log_odds']:+.3f}")
    lines.append(f"posterior log-odds = {summary['posterior_log_odds']:+.3f}")
    return lines


def serve(uri: str, host: str, port: int, tracking_uri: str, max_body_bytes: int) -> None:
    """Serve the filter on ``host:port`` (MLflow's scoring app, see ``server``) until stopped."""
    import mlflow

    from projects.week2_spam import server

    mlflow.set_tracking_uri(tracking_uri)
    model = server.load_model(uri)
    print(
        f"serving {uri} on http://{host}:{port}/invocations "
        f"(request bodies up to {max_body_bytes:,} bytes)",
        flush=True,
    )
    server.serve(model, host, port, max_body_bytes)


def positive_int(value: str) -> int:
    """argparse type: an integer >= 1."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of bytes >= 1, got {value!r}")
    return int(value)


def cli_parser() -> argparse.ArgumentParser:
    """The options of ``predict`` and ``serve``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-id", help="a week-2 run id (default: the newest FINISHED run)")
    parser.add_argument(
        "--tracking-uri", help="default: $MLFLOW_TRACKING_URI, else <repo>/mlflow.db"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    predict_parser = commands.add_parser(
        "predict",
        help="classify one message and explain it",
        description="Classify TEXT, or the contents of --file. Put TEXT after -- so that a "
        "message starting with - (even --help) is classified, not read as an option.",
    )
    message = predict_parser.add_mutually_exclusive_group(required=True)
    message.add_argument("text", nargs="?", help="the message (after --: any text)")
    message.add_argument("--file", help="read the message from this UTF-8 file (-: stdin)")
    serve_parser = commands.add_parser("serve", help="serve the filter over HTTP")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=5001)
    serve_parser.add_argument(
        "--max-body-bytes",
        type=positive_int,
        default=MAX_BODY_BYTES,
        help=f"larger request bodies get 413 (default: {MAX_BODY_BYTES:,}, 1 MiB)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    """``python -m projects.week2_spam.cli predict|serve``: say which run, then do it."""
    args = cli_parser().parse_args(argv)
    text = None if args.command != "predict" or args.file is None else read_message(args.file)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    tracking_uri = resolve_tracking_uri(args.tracking_uri)
    exit_if_unusable(tracking_uri, write=False)  # a server down: one line, not minutes
    if args.command == "serve":
        check_port_free(args.host, args.port)
    run = chosen_run(args.run_id, tracking_uri)
    print(describe(run, chosen=bool(args.run_id)), file=sys.stderr)
    uri = f"runs:/{run.info.run_id}/{MODEL_NAME}"
    if args.command == "predict":
        predict(args.text if text is None else text, uri, tracking_uri)
    else:
        serve(uri, args.host, args.port, tracking_uri, args.max_body_bytes)


if __name__ == "__main__":
    main()
