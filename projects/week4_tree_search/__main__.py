"""``python -m projects.week4_tree_search [overrides]``: the Hydra entry point of week 4."""

import hydra
from omegaconf import DictConfig

from common.paths import CONFIG_DIR
from common.tracking import run_tracked
from projects.week4_tree_search import config  # noqa: F401  (registers the schema)


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="week4")
def main(cfg: DictConfig) -> float:
    from projects.week4_tree_search import pipeline  # heavy imports after the config is valid

    return run_tracked(cfg, week="week4", pipeline=pipeline.run)


if __name__ == "__main__":
    main()
