"""``python -m projects.week3_regression [overrides]``: the Hydra entry point of week 3."""

import hydra
from omegaconf import DictConfig

from common.entry import run_then_exit
from common.paths import config_dir
from common.tracking import Headline, run_tracked
from projects.week3_regression import config  # noqa: F401  (registers the schema)

HEADLINE = Headline("loss_gap_rel", higher_is_better=False)  # what the pipeline returns
NAME_KEYS = ("optimizer.name", "tasks")  # a run of the defaults is named after these
SUMMARY = {  # metrics the run ends with
    "loss_gap_rel": "worst relative loss gap to the closed-form optimum",
    "linear.test_r2": "linear regression: R^2 on the test split",
    "linear.steps": "linear regression: optimizer steps",
    "logistic.test_accuracy": "logistic regression: test accuracy",
    "logistic.steps": "logistic regression: optimizer steps",
}


@hydra.main(version_base="1.3", config_path=str(config_dir("week3")), config_name="week3")
def main(cfg: DictConfig) -> float:
    """One week-3 run (or a sweep's job) of the composed config."""
    from common.figure_process import preload

    preload("projects.week3_regression.pipeline")  # the second process imports it beside us
    from projects.week3_regression import pipeline  # heavy imports after the config is valid

    return run_tracked(
        cfg,
        week="week3",
        pipeline=pipeline.run,
        headline=HEADLINE,
        summary=SUMMARY,
        name_keys=NAME_KEYS,
    )


if __name__ == "__main__":
    run_then_exit(main)
