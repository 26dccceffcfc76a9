"""The few lines a run ends with: what it measured, where its files are, how to open it.

A learner's first question after a run is "what happened?". The answer is printed once the
run is closed, from what the store holds (so it shows what was logged, not what the
pipeline meant to log)::

    week1 FINISHED in 18.4 s, run 0c1d2e3f ("low_rank.rank=20")
      psnr_db        32.356  codec PSNR (dB), mean over the images
      ...
      slowest steps: china: rate search 4.1 s | flower: rate search 3.9 s | ...
      files:   /repo/mlartifacts/week1/0c1d.../artifacts
      open it: make ui, then http://127.0.0.1:5000/#/experiments/1/runs/0c1d...
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping

from common.steps import Step, slowest

UI_URL = "http://127.0.0.1:5000"  # `make ui` with its defaults


def ui_base(tracking_uri: str) -> str:
    """Where the MLflow UI of a store is: the tracking server itself, else a local ``make ui``."""
    return tracking_uri.rstrip("/") if tracking_uri.startswith("http") else UI_URL


def run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    """Where the MLflow UI shows this run."""
    return f"{ui_base(tracking_uri)}/#/experiments/{experiment_id}/runs/{run_id}"


def metric_lines(metrics: Mapping[str, float], described: Mapping[str, str]) -> list[str]:
    """``name  value  what it is`` for each described metric the run logged, in order."""
    present = [name for name in described if name in metrics]
    width = max((len(name) for name in present), default=0)
    values = {name: f"{metrics[name]:.6g}" for name in present}
    value_width = max((len(value) for value in values.values()), default=0)
    return [
        f"  {name:<{width}}  {values[name]:<{value_width}}  {described[name]}" for name in present
    ]


def steps_line(steps: list[Step], width: int) -> str | None:
    """The slowest top-level steps on one line of at most ``width`` characters."""
    parts = [f"{s.name} {s.seconds:.1f} s" for s in slowest(steps)]
    if not parts:
        return None
    line = "  slowest steps: " + " | ".join(parts)
    return line if len(line) <= width else line[: width - 3] + "..."


def summary_lines(
    run, tracking_uri: str, seconds: float, described: Mapping[str, str], steps: list[Step]
) -> list[str]:
    """The end-of-run summary of the MLflow ``run`` (as read back from the store)."""
    width = shutil.get_terminal_size((100, 24)).columns
    info = run.info
    name = f' ("{info.run_name}")' if info.run_name else ""
    week = run.data.tags.get("week", "")
    lines = [f"{week} {info.status} in {seconds:.1f} s, run {info.run_id}{name}"]
    lines += metric_lines(run.data.metrics, described)
    lines += [line for line in [steps_line(steps, width)] if line]
    if info.artifact_uri.startswith("file://"):
        lines.append(f"  files:   {info.artifact_uri.removeprefix('file://')}")
    url = run_url(tracking_uri, info.experiment_id, info.run_id)
    opener = "open it:" if tracking_uri.startswith("http") else "open it: make ui, then"
    lines.append(f"  {opener} {url}")
    return lines
