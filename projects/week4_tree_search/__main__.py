"""``python -m projects.week4_tree_search [overrides]``: the Hydra entry point of week 4."""

import hydra
from omegaconf import DictConfig

from common.entry import run_then_exit
from common.paths import config_dir
from common.tracking import Headline, run_tracked
from projects.week4_tree_search import config  # noqa: F401  (registers the schema)

HEADLINE = Headline("tree_accuracy", higher_is_better=True)  # what the pipeline returns
NAME_KEYS = ("tree.criterion", "tree.max_depth")  # a run of the defaults is named after these
SUMMARY = {  # metrics the run ends with
    "tree_accuracy": "our entropy tree: held-out accuracy, mean over the data sets",
    "sklearn_tree_accuracy": "scikit-learn's tree: the same",
    "search_recall_vs_bruteforce": "our cosine search: recall against brute force",
    "search_precision_at_k": "our cosine search: precision@k on digits",
    "kmeans_adjusted_rand_vs_digits": "k-means: adjusted Rand index against the digits",
}


@hydra.main(version_base="1.3", config_path=str(config_dir("week4")), config_name="week4")
def main(cfg: DictConfig) -> float:
    """One week-4 run (or a sweep's job) of the composed config."""
    from projects.week4_tree_search import pipeline  # heavy imports after the config is valid

    return run_tracked(
        cfg,
        week="week4",
        pipeline=pipeline.run,
        headline=HEADLINE,
        summary=SUMMARY,
        name_keys=NAME_KEYS,
    )


if __name__ == "__main__":
    run_then_exit(main)
