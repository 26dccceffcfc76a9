"""``python -m projects.week2_spam [overrides]``: the Hydra entry point of week 2."""

import hydra
from omegaconf import DictConfig

from common.entry import run_then_exit
from common.paths import config_dir
from common.tracking import Headline, run_tracked
from projects.week2_spam import config  # noqa: F401  (registers the schema)

HEADLINE = Headline(
    "test_mcc, or cv_mcc_mean with eval=cv", higher_is_better=True
)  # what the pipeline returns
NAME_KEYS = ("model.name", "model.alpha", "eval")  # a run of the defaults is named after these
SUMMARY = {  # metrics the run ends with (test_*: eval=holdout, cv_*: eval=cv)
    "test_mcc": "our filter: Matthews correlation on the held-out messages",
    "sklearn_test_mcc": "scikit-learn's naive Bayes: the same",
    "test_f1": "our filter: F1 of the spam class",
    "test_roc_auc": "our filter: ROC AUC",
    "test_log_loss": "our filter: log loss of P(spam) (see calibration.method)",
    "test_saturated_share": "our filter: share of P(spam) outside (0.01, 0.99)",
    "cv_mcc_mean": "our filter: Matthews correlation, mean over the folds",
    "mcnemar_p_value": "McNemar's test, ours vs scikit-learn: p-value",
}


@hydra.main(version_base="1.3", config_path=str(config_dir("week2")), config_name="week2")
def main(cfg: DictConfig) -> float:
    """One week-2 run (or a sweep's job) of the composed config."""
    from projects.week2_spam import pipeline  # heavy imports after the config is valid

    return run_tracked(
        cfg,
        week="week2",
        pipeline=pipeline.run,
        headline=HEADLINE,
        summary=SUMMARY,
        name_keys=NAME_KEYS,
    )


if __name__ == "__main__":
    run_then_exit(main)
