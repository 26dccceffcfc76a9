"""``python -m projects.week1_pca [overrides]``: the Hydra entry point of week 1."""

import hydra
from omegaconf import DictConfig

from common.entry import run_then_exit
from common.paths import config_dir
from common.tracking import Headline, run_tracked
from projects.week1_pca import config  # noqa: F401  (registers the schema)

HEADLINE = Headline("psnr_db", higher_is_better=True)  # what the pipeline returns
NAME_KEYS = (
    "low_rank.rank",
    "patch_codec.target_bpp",
    "patch_codec.block",
)  # a run of the defaults is named after these
SUMMARY = {  # metrics the run ends with (mean over the images)
    "psnr_db": "patch-PCA codec: PSNR (dB)",
    "bpp": "patch-PCA codec: bits per pixel",
    "jpeg_psnr_db": "JPEG at the same bits per pixel: PSNR (dB)",
    "codec_vs_jpeg_db": "codec minus JPEG (dB): above 0, ours wins",
    "svd_psnr_db": "rank-k SVD: PSNR (dB)",
    "pca_variance_kept": "PCA check: share of variance kept",
}


@hydra.main(version_base="1.3", config_path=str(config_dir("week1")), config_name="week1")
def main(cfg: DictConfig) -> float:
    """One week-1 run (or a sweep's job) of the composed config."""
    from projects.week1_pca import pipeline  # heavy imports after the config is valid

    return run_tracked(
        cfg,
        week="week1",
        pipeline=pipeline.run,
        headline=HEADLINE,
        summary=SUMMARY,
        name_keys=NAME_KEYS,
    )


if __name__ == "__main__":
    run_then_exit(main)
