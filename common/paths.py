"""Absolute locations inside the repository, independent of the working directory."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_ROOT / "configs"  # configs/<primary>/: one folder per entry point
SHARED_CONFIG_DIR = CONFIG_DIR / "shared"  # the configs every entry point composes
DATA_DIR = REPO_ROOT / "data"
RAW_DATA_DIR = DATA_DIR / "raw"  # gitignored download cache
OUTPUTS_DIR = REPO_ROOT / "outputs"  # Hydra run directories


def config_dir(primary: str) -> Path:
    """``configs/<primary>/``: the folder of a primary config (``week2``) and its groups, so
    that ``--help`` lists only the options of that entry point."""
    return CONFIG_DIR / primary
