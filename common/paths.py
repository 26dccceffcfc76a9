"""Absolute locations inside the repository, independent of the working directory."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_ROOT / "configs"
DATA_DIR = REPO_ROOT / "data"
RAW_DATA_DIR = DATA_DIR / "raw"  # gitignored download cache
OUTPUTS_DIR = REPO_ROOT / "outputs"  # Hydra run directories
