"""A toy fifth week, written outside the repository: what a new week brings, and no more.

A package with a Hydra entry point that calls :func:`common.tracking.run_tracked`, a typed
schema, a headline with a direction (lower is better, against the default) and a primary
config (named ``toy5``, not after the week it logs as) that takes the shared groups
(``common/hydra``: the sweep callback; ``tracking``), which ``register_schema`` brings.
Nothing in ``common/`` names it: the tests that use it show
that common's commands work for a week they have never heard of.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from common.paths import REPO_ROOT

WEEK = "week5"  # the name it logs its runs under (run_tracked's week)
CONFIG = "toy5"  # its primary config: not named as the week
PACKAGE = "toy5_guess"  # its package: no `projects.`, no `week*_*` folder
METRIC = "squared_error"  # its headline: lower is better
TARGET = 3.0  # the pipeline's headline is (x - TARGET) ** 2
STARTED = "toy pipeline started"  # printed when the pipeline starts (a job is RUNNING)

FILES = {
    f"{PACKAGE}/__init__.py": '"""A toy week: guess a number, scored by the squared error."""\n',
    f"{PACKAGE}/config.py": '''"""The typed schema of the toy week's config."""

from dataclasses import dataclass

from common.config import BaseConfig, register_schema


@dataclass
class ToyConfig(BaseConfig):
    x: float = 0.0  # the guess
    target: float = 3.0  # what it is scored against
    wait_s: float = 0.0  # the pipeline waits this long first (a job to stop mid-run)


register_schema("toy5_schema", ToyConfig)
''',
    f"{PACKAGE}/__main__.py": f'''"""``python -m {PACKAGE} [overrides]``: the toy's entry point."""

import time
from pathlib import Path

import hydra

from common.tracking import Headline, run_tracked
from {PACKAGE} import config  # noqa: F401  (registers the schema)

HEADLINE = Headline("{METRIC}", higher_is_better=False)
CONFIGS = str(Path(__file__).resolve().parent.parent / "configs")


def pipeline(cfg) -> float:
    """Wait ``wait_s``, then score the guess: (x - target) ** 2."""
    import mlflow

    print("{STARTED}", flush=True)
    time.sleep(cfg.wait_s)
    error = (cfg.x - cfg.target) ** 2
    mlflow.log_metrics({{"{METRIC}": error, "distance": abs(cfg.x - cfg.target)}})
    return error


@hydra.main(version_base="1.3", config_path=CONFIGS, config_name="{CONFIG}")
def main(cfg) -> float:
    """One toy run (or a sweep's job)."""
    return run_tracked(cfg, week="{WEEK}", pipeline=pipeline, headline=HEADLINE)


if __name__ == "__main__":
    main()
''',
    f"configs/{CONFIG}.yaml": f"""# The toy week: guess x, scored by (x - target)^2.
defaults:
  - toy5_schema       # typed schema ({PACKAGE}/config.py)
  - common/hydra      # the shared run folders and sweep callback (registered with the schema)
  - tracking: local   # the shared tracking settings
  - _self_

x: 0.0        # the guess
target: {TARGET}   # what it is scored against
wait_s: 0.0   # seconds the pipeline waits first
figures: false
""",
}


def write_toy_week(root: Path) -> Path:
    """Write the toy week's package and config under ``root``; returns ``root``."""
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def toy_env(root: Path) -> dict[str, str]:
    """The environment of a toy run: its package and this checkout's ``common`` importable."""
    path = os.pathsep.join([str(root), str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path.rstrip(os.pathsep)}


def toy_command(*overrides: str) -> list[str]:
    """``python -m toy5_guess <overrides>``."""
    return [sys.executable, "-m", PACKAGE, *overrides]


def run_toy(root: Path, *overrides: str) -> subprocess.CompletedProcess:
    """The toy week run as a user runs a week, from ``root`` (outside the repository)."""
    return subprocess.run(
        toy_command(*overrides),
        cwd=root,
        env=toy_env(root),
        capture_output=True,
        text=True,
        timeout=300,
    )
