"""Week 1 end to end on a small image: through the real CLI, and every bad input.

The CLI tests (slow set) run ``python -m projects.week1_pca`` as a user would (Hydra, a
real SQLite store in a temporary folder). The fast set composes the same config with
Hydra's compose API and runs it in this process, which is faster.
"""

from __future__ import annotations

import math
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra.errors import ConfigCompositionException
from PIL import Image
from sklearn.datasets import load_sample_image

from common.paths import REPO_ROOT
from common.tracking import EXIT_FAILED, run_tracked
from projects.week1_pca import (
    config,  # noqa: F401  (registers the schema)
    linalg_drills,
    pipeline,
)
from projects.week1_pca.images import LoadedImage
from projects.week1_pca.patch_codec import decode
from tests.test_curriculum import logged_names
from tests.weeks import compose_config, run_cli, run_in_process_own_store

SMALL = [  # a quick run: one small crop, few settings
    "low_rank.ranks=[2,8]",
    "low_rank.rank=8",
    "patch_codec.curve_bpp=[2.0]",
    "jpeg.qualities=[20,50,80]",
    "pca.n_components=5",
]


@pytest.fixture(scope="module")
def crop(tmp_path_factory) -> Path:
    """A 96 x 128 crop of china.jpg as a PNG file."""
    path = tmp_path_factory.mktemp("images") / "crop.png"
    Image.fromarray(load_sample_image("china.jpg")[150:246, 250:378]).save(path)
    return path


@pytest.mark.slow  # the CLI run; the fast set runs the same in this process (below)
def test_cli_run_logs_its_overrides_and_hydras_files(crop, tracking_uri, runs_of, tmp_path):
    result = run_cli(
        "week1_pca",
        f"images=[{crop}]",
        *SMALL,
        f"tracking.uri={tracking_uri}",
        output_dir=tmp_path / "run",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [run] = runs_of("week1")
    assert run.info.status == "FINISHED"
    assert run.data.tags["overrides"].startswith(f"images=[{crop}]")
    assert run.data.tags["hydra.output_dir"] == str(tmp_path / "run")
    artifact_dir = Path(runs_of.client.download_artifacts(run.info.run_id, "", str(tmp_path)))
    assert (artifact_dir / "hydra" / "overrides.yaml").is_file()
    assert (artifact_dir / "week1.log").is_file()  # the README's artifact list names it
    assert (artifact_dir / "compressed" / "crop.klt").is_file()


def test_a_run_finishes_and_logs_what_the_readme_promises(crop, tmp_path, empty_store):
    client, run, _ = run_in_process_own_store(
        "week1_pca", "week1", [f"images=[{crop}]", *SMALL], tmp_path, empty_store
    )
    assert run.info.status == "FINISHED"
    assert run.data.params["images.0"] == str(crop)
    assert run.data.params["low_rank.ranks.1"] == "8"
    artifact_dir = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path)))
    for name in logged_names(week=1):
        name = name.replace("<image>", "crop")
        if name == "week1.log":
            continue  # Hydra's log of a CLI run (the CLI test above)
        if "/" in name or name.endswith(".json"):
            assert (artifact_dir / name).is_file(), f"README promises artifact {name}"
        else:
            assert name in run.data.metrics, f"README promises metric {name}"
    # The compressed file decodes to the logged PNG, byte for byte.
    decoded = decode((artifact_dir / "compressed" / "crop.klt").read_bytes())
    logged = Image.open(artifact_dir / "compressed" / "crop_decoded.png")
    assert (decoded == np.asarray(logged).reshape(decoded.shape)).all()
    metrics = run.data.metrics
    # Every row the drill table defines passed (the count is the table's, not a number
    # copied from a run: adding a drill must not need an edit here).
    drills = linalg_drills.drill_table(np.random.default_rng(0))
    assert metrics["drills_passed"] == len(drills) == drills["check"].nunique()
    assert metrics["crop.cross_alignment"] == pytest.approx(1.0, abs=1e-12)  # W1.7
    assert metrics["crop.cross_vs_numpy_error"] < 1e-15
    assert metrics["crop.colour_round_trip_error"] < 1e-9  # W1.6, pixels up to 255
    assert metrics["crop.change_of_basis_error"] < 1e-9
    assert metrics["crop.centring_broadcast_vs_outer_error"] == 0.0
    assert metrics["crop.block_split_max_abs_diff"] == 0.0  # W1.P4
    assert metrics["lu_vs_scipy_max_rel_diff"] < 1e-12  # W1.X2, on the crop's block covariance
    assert metrics["lu_reconstruction_error"] < 1e-14
    assert metrics["hilbert_lu_residual"] < 1e-14 < metrics["hilbert_inverse_residual"]
    assert metrics["pca_explained_variance_max_rel_diff"] < 1e-8
    assert 0.9 < metrics["bpp"] < 1.1
    assert abs(metrics["crop.rate_target_miss"]) <= pipeline.RATE_RTOL  # on target: no tag
    assert pipeline.RATE_MISSED_TAG not in run.data.tags
    assert metrics["psnr_db"] > metrics["svd_psnr_db"]
    assert metrics["codec_vs_jpeg_db"] == pytest.approx(
        metrics["psnr_db"] - metrics["jpeg_psnr_db"]
    )


@pytest.mark.slow  # a CLI run per bad input; the messages are checked in process below
def test_cli_bad_input_is_one_line_a_non_zero_exit_and_a_failed_run(
    tracking_uri, runs_of, tmp_path
):
    result = run_cli(
        "week1_pca",
        "images=[/no/such/photo.png]",
        f"tracking.uri={tracking_uri}",
        output_dir=tmp_path / "run",
    )
    assert result.returncode == EXIT_FAILED
    errors = [line for line in result.stdout.splitlines() if "ERROR" in line]
    assert len(errors) == 1, result.stdout
    assert "image not found: /no/such/photo.png" in errors[0]
    assert "Traceback" not in result.stdout + result.stderr
    [run] = runs_of("week1")
    assert run.info.status == "FAILED"
    assert run.data.tags["error"].startswith("FileNotFoundError: image not found")
    assert "drills_passed" not in run.data.metrics  # a wrong path fails before any work


def write_truncated_jpeg(path: Path) -> None:
    Image.fromarray(load_sample_image("flower.jpg")).save(path, quality=90)
    path.write_bytes(path.read_bytes()[:2000])


BAD_IMAGES = {
    "folder": (lambda p: p.mkdir(), "image is a directory, not a file"),
    "text.jpg": (lambda p: p.write_text("not pixels"), "not an image"),
    "empty.png": (lambda p: p.write_bytes(b""), "not an image"),
    "truncated.jpg": (write_truncated_jpeg, "cannot decode image"),
}


@pytest.mark.parametrize("filename", sorted(BAD_IMAGES))
def test_bad_image_files_fail_the_run(filename, tmp_path, tracking_uri, runs_of):
    make, message = BAD_IMAGES[filename]
    make(tmp_path / filename)
    cfg = compose_config("week1", f"images=[{tmp_path / filename}]", f"tracking.uri={tracking_uri}")
    with pytest.raises(SystemExit) as exited:
        run_tracked(cfg, "week1", pipeline.run)
    assert exited.value.code == EXIT_FAILED
    [run] = runs_of("week1")
    assert run.info.status == "FAILED"
    assert message in run.data.tags["error"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["low_rank.rank=0"],
            r"^ValueError: low_rank.rank must be in \[1, 96\] for crop \(128 x 96 pixels\), got 0",
        ),
        (
            ["low_rank.ranks=[2,500]"],
            r"^ValueError: low_rank.ranks must be in \[1, 96\] for crop .*got \[500\]; drop them",
        ),
        (["pca.n_components=65"], r"pca.n_components must be in \[1, 64\] \(the digits have"),
        (["patch_codec.target_bpp=-1"], r"^ValueError: patch_codec.target_bpp: target_bpp must"),
        (["patch_codec.curve_bpp=[1,nan]"], r"^ValueError: patch_codec.curve_bpp: target_bpp"),
        (["patch_codec.block=1"], r"^ValueError: patch_codec.block: block must be an int in"),
        (["jpeg.qualities=[0,50]"], r"jpeg.qualities must be a non-empty list of Pillow quali"),
        (["images=[]"], r"^ValueError: images is empty: pass images="),
    ],
)
def test_bad_settings_fail_the_run_with_the_value(overrides, message, crop, tracking_uri, runs_of):
    cfg = compose_config(
        "week1",
        f"images=[{crop}]",
        *SMALL,
        "figures=false",  # no test reads them
        *overrides,
        f"tracking.uri={tracking_uri}",
    )
    with pytest.raises(SystemExit):
        run_tracked(cfg, "week1", pipeline.run)
    [run] = runs_of("week1")
    assert run.info.status == "FAILED"
    assert re.search(message, run.data.tags["error"]), run.data.tags["error"]
    assert "drills_passed" not in run.data.metrics  # refused before any work


@pytest.mark.parametrize(
    ("override", "message"),
    [("low_rank.rnak=3", "Key 'rnak' not in"), ("seed=abc", "could not be converted to Integer")],
)
def test_config_typos_fail_at_composition_before_any_run(override, message):
    with pytest.raises(ConfigCompositionException) as error:
        compose_config("week1", override)
    assert message in str(error.value.__cause__ or error.value)


@pytest.mark.slow  # a sweep of CLI jobs (the sweep mechanics: tests/common/test_sweep.py)
def test_cli_sweep_logs_one_finished_run_per_job(crop, tracking_uri, runs_of, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "projects.week1_pca", "-m", f"images=[{crop}]", *SMALL,
         "figures=false", "low_rank.rank=2,8", f"tracking.uri={tracking_uri}",
         f"hydra.sweep.dir={tmp_path}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs = [r for r in runs_of("week1") if "mlflow.parentRunId" in r.data.tags]  # the sweep's
    assert len(runs_of("week1")) == len(runs) + 1  # children, and their parent (common.sweep)
    assert sorted(r.data.params["low_rank.rank"] for r in runs) == ["2", "8"]
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert all("low_rank.rank=" in r.info.run_name for r in runs)


def loaded(height: int, width: int) -> LoadedImage:
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    return LoadedImage("small", "/small.png", pixels, (width, height))


def test_default_curve_ranks_above_the_image_are_dropped_with_a_log_line(caplog):
    caplog.set_level("INFO", logger="projects.week1_pca.pipeline")
    pipeline.check_ranks(loaded(30, 50), 20, pipeline.DEFAULT_RANKS)  # 40, 80, 160 > 30
    [line] = [r.getMessage() for r in caplog.records if "low_rank.ranks" in r.getMessage()]
    assert line == (
        "small: the default low_rank.ranks [40, 80, 160] are above its largest rank 30: "
        "dropped from the curve"
    )


@pytest.mark.parametrize(
    ("rank", "ranks", "message"),
    [
        (40, pipeline.DEFAULT_RANKS, r"low_rank.rank must be in \[1, 30\] for small \(50 x 30 "
         r"pixels\), got 40; pass low_rank.rank=30 or smaller$"),
        (0, [5], r"low_rank.rank must be in \[1, 30\] .*, got 0; "
         r"pass low_rank.rank between 1 and 30$"),
        (20, [5, 31, 0], r"low_rank.ranks must be in \[1, 30\] for small \(50 x 30 pixels\), "
         r"got \[0, 31\]; drop them \(the largest valid value is 30\)"),
    ],
)  # fmt: skip
def test_a_rank_the_user_sets_beyond_the_image_fails_naming_the_key(rank, ranks, message):
    with pytest.raises(ValueError, match=message):
        pipeline.check_ranks(loaded(30, 50), rank, ranks)


def test_an_image_smaller_than_the_default_ranks_runs_with_the_curve_clipped(
    tmp_path, tracking_uri, runs_of
):
    """A 24 x 32 crop with the default low_rank.ranks (up to 160): the curve keeps 5, 10, 20."""
    path = tmp_path / "tiny crop.png"
    Image.fromarray(load_sample_image("china.jpg")[150:174, 250:282]).save(path)
    cfg = compose_config(
        "week1",
        f"images=['{path}']",
        "low_rank.rank=20",
        "patch_codec.curve_bpp=[2.0]",
        "jpeg.qualities=[50]",
        "pca.n_components=5",
        f"tracking.uri={tracking_uri}",
    )
    run_tracked(cfg, "week1", pipeline.run)
    [run] = runs_of("week1")
    assert run.info.status == "FINISHED"
    table = runs_of.client.load_table(  # the rate-distortion points the figure draws
        run.info.experiment_id, "tables/tiny crop/rate_distortion.json", [run.info.run_id]
    )
    svd_settings = table.loc[table["codec"] == "svd", "setting"].tolist()
    assert svd_settings == ["k=5", "k=10", "k=20"]


@pytest.mark.parametrize(
    ("pixels", "target_bpp"),
    [
        (np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8), 1.0),  # too small
        (np.full((16, 16, 3), 90, dtype=np.uint8), 1000.0),  # more bits than a flat image takes
    ],
    ids=["7x5_at_1_bpp", "flat_at_1000_bpp"],
)
def test_a_rate_target_out_of_reach_is_a_warning_a_tag_and_a_metric(
    pixels, target_bpp, tmp_path, tracking_uri, runs_of, caplog
):
    path = tmp_path / "tiny.png"
    Image.fromarray(pixels).save(path)
    cfg = compose_config(
        "week1",
        f"images=[{path}]",
        "low_rank.rank=5",
        f"patch_codec.target_bpp={target_bpp}",
        "figures=false",
        "pca.n_components=5",
        f"tracking.uri={tracking_uri}",
    )
    run_tracked(cfg, "week1", pipeline.run)
    [run] = runs_of("week1")
    assert run.info.status == "FINISHED"  # the run stands, at the rate the codec reached
    bpp, miss = run.data.metrics["tiny.bpp"], run.data.metrics["tiny.rate_target_miss"]
    assert miss == pytest.approx(bpp / target_bpp - 1, rel=1e-12)
    assert abs(miss) > pipeline.RATE_RTOL
    tag = run.data.tags[pipeline.RATE_MISSED_TAG]
    assert tag == f"tiny: {bpp:.3g} bpp for patch_codec.target_bpp={target_bpp:g} ({miss:+.0%})"
    [warning] = [r.getMessage() for r in caplog.records if "target_bpp" in r.getMessage()]
    assert warning.startswith(
        f"tiny: the patch codec cannot reach patch_codec.target_bpp={target_bpp:g}: "
        f"its closest is {bpp:.3g} bpp ({100 * miss:+.0f}%"
    )


def test_a_flat_images_infinite_psnr_is_a_nan_headline_ranked_after_a_finite_one(
    tmp_path, tracking_uri, runs_of
):
    from common import runs

    flat, noisy = tmp_path / "flat.png", tmp_path / "noisy.png"
    Image.fromarray(np.full((16, 16, 3), 90, dtype=np.uint8)).save(flat)  # coded exactly
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), np.uint8)).save(noisy)
    for path in (flat, noisy):
        cfg = compose_config(
            "week1", f"images=[{path}]", "low_rank.rank=5", "figures=false",
            "pca.n_components=5", f"tracking.uri={tracking_uri}",
        )  # fmt: skip
        run_tracked(cfg, "week1", pipeline.run)
    finite, infinite = runs_of("week1")  # newest first
    assert infinite.data.metrics["flat.psnr_db"] > 1e300  # MLflow's stand-in for inf
    assert math.isnan(infinite.data.metrics["headline"])
    assert infinite.data.tags["headline.not_finite"].startswith("the pipeline's headline was inf")
    assert math.isfinite(finite.data.metrics["headline"])
    table = runs.runs_table(runs_of("week1"), "week1")
    assert list(table["run"]) == [finite.info.run_id[:8], infinite.info.run_id[:8]]


def test_a_16_bit_image_is_compressed_as_the_image_it_is_not_a_flat_one(
    tmp_path, tracking_uri, runs_of
):
    rng = np.random.default_rng(0)  # a gradient with texture, spanning the 16-bit range
    gradient = np.linspace(3000, 60000, 48 * 64).reshape(48, 64) + rng.normal(0, 800, (48, 64))
    Image.fromarray(np.clip(gradient, 0, 65535).astype(np.uint16)).save(tmp_path / "deep.png")
    cfg = compose_config(
        "week1", f"images=[{tmp_path / 'deep.png'}]", "low_rank.rank=5", "figures=false",
        "pca.n_components=5", f"tracking.uri={tracking_uri}",
    )  # fmt: skip
    run_tracked(cfg, "week1", pipeline.run)
    [run] = runs_of("week1")
    metrics = run.data.metrics
    assert math.isfinite(metrics["deep.psnr_db"])  # clipped at 255 it was inf, at 0.003 bpp
    assert metrics["deep.bpp"] == pytest.approx(1.0, rel=pipeline.RATE_RTOL)  # target reached


@pytest.mark.parametrize("shape", [(1, 5, 3), (2, 2, 3), (3, 1, 1)], ids=str)
def test_a_tiny_image_runs_to_the_end_figures_included(shape, tmp_path, tracking_uri, runs_of):
    pixels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    Image.fromarray(pixels.squeeze(axis=2) if shape[2] == 1 else pixels).save(tmp_path / "t.png")
    cfg = compose_config(
        "week1", f"images=[{tmp_path / 't.png'}]", "low_rank.rank=1", "pca.n_components=5",
        f"tracking.uri={tracking_uri}",
    )  # fmt: skip
    run_tracked(cfg, "week1", pipeline.run)
    [run] = runs_of("week1")
    assert run.info.status == "FINISHED"
    figures = runs_of.client.list_artifacts(run.info.run_id, "figures/t")
    assert {f.path.rsplit("/", 1)[-1] for f in figures} >= {"reconstructions.png"}


@pytest.mark.slow  # two CLI runs
def test_readme_quoting_runs_an_image_whose_path_has_spaces_and_accents(
    tracking_uri, runs_of, tmp_path
):
    """The README's ``images='["..."]'``, split as a POSIX shell splits it, through the CLI."""
    documented = re.search(
        r"python -m projects\.week1_pca (images='\[\"([^\"]+)\"\]')",
        (REPO_ROOT / "README.md").read_text(),
    )
    assert documented, "the README shows the quoting of an image path"
    path = tmp_path / "my photos" / "a b é.png"
    path.parent.mkdir()
    Image.fromarray(load_sample_image("china.jpg")[150:182, 250:298]).save(path)
    override = documented.group(1).replace(documented.group(2), str(path))
    args = ["low_rank.rank=8", "figures=false", *SMALL[2:], f"tracking.uri={tracking_uri}"]
    unquoted = run_cli("week1_pca", f"images=[{path}]", *args, output_dir=tmp_path / "unquoted")
    assert unquoted.returncode != 0
    assert "LexerNoViableAltException" in unquoted.stderr  # why the README quotes it
    result = run_cli("week1_pca", *shlex.split(override), *args, output_dir=tmp_path / "run")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [run] = runs_of("week1")
    assert run.info.status == "FINISHED"
    assert run.data.params["images.0"] == str(path)
    assert "a b é.bpp" in run.data.metrics


def test_two_images_off_target_are_both_in_the_tag(tmp_path, tracking_uri, runs_of):
    rng = np.random.default_rng(1)
    paths = [tmp_path / "wide.png", tmp_path / "tall.png"]
    for path, shape in zip(paths, [(5, 7, 3), (7, 5, 3)], strict=True):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)
    cfg = compose_config(
        "week1",
        f"images=[{paths[0]},{paths[1]}]",
        "low_rank.rank=5",
        "figures=false",
        "pca.n_components=5",
        f"tracking.uri={tracking_uri}",
    )
    run_tracked(cfg, "week1", pipeline.run)
    [run] = runs_of("week1")
    wide, tall = run.data.tags[pipeline.RATE_MISSED_TAG].split("; ")
    assert wide.startswith("wide: ")
    assert tall.startswith("tall: ")


def test_the_rate_search_shows_named_progress_only_when_it_is_slow(capsys, monkeypatch):
    with pipeline.search_progress("crop", 4) as bar:  # ends at once: no bar drawn
        for _ in range(4):
            bar.update()
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(pipeline, "PROGRESS_DELAY_S", 0.0)  # as if it ran longer
    with pipeline.search_progress("crop", 4) as bar:
        bar.update()
    err = capsys.readouterr().err  # tqdm writes to stderr
    assert "crop: rate search" in err
    assert "0/4" in err
