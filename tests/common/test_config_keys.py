"""A key the schema does not declare stops the run at composition, ``+key=value`` included.

Hydra refuses ``pca.solvr=svd`` itself; its hint, ``+pca.solvr=svd``, adds the key past the
schema. ``undeclared_key`` finds it in every week's composed config, and the CLI exits 1
with one line before any run exists: in this process for every week, and in a real
subprocess on a fresh store for week 1 (``make test-slow``).
"""

from __future__ import annotations

import shutil

import pytest
from mlflow.tracking import MlflowClient

from common.config import undeclared_key
from tests.weeks import compose_config, run_cli

TYPOS = {  # week -> (package, a misspelled key added with +)
    "week1": ("week1_pca", "+pca.solvr=svd"),
    "week2": ("week2_spam", "+model.alpah=0.5"),
    "week3": ("week3_regression", "+optimizer.nmae=adam"),
    "week4": ("week4_tree_search", "+typo_at_the_top=1"),
}


@pytest.mark.parametrize("week", sorted(TYPOS))
def test_a_key_added_with_plus_is_found_and_the_declared_ones_pass(week):
    package, typo = TYPOS[week]
    __import__(f"projects.{package}.config")  # registers the schema, as the entry point does
    assert undeclared_key(compose_config(week)) is None
    key = typo.removeprefix("+").split("=")[0]
    assert undeclared_key(compose_config(week, typo)) == key


def test_every_experiment_config_declares_only_schema_keys():
    from common.paths import CONFIG_DIR

    for path in sorted(CONFIG_DIR.glob("week*/experiment/*.yaml")):
        week = path.parent.parent.name
        __import__(f"projects.{TYPOS[week][0]}.config")
        cfg = compose_config(week, f"+experiment={path.stem}")
        assert undeclared_key(cfg) is None, path


def test_a_config_of_no_schema_has_no_undeclared_key():
    from omegaconf import OmegaConf

    assert undeclared_key(OmegaConf.create({"seed": 0, "anything": {"goes": 1}})) is None


@pytest.mark.parametrize("week", sorted(TYPOS))
def test_a_run_with_a_plus_typo_exits_1_in_one_line_before_any_run(week, tracking_uri, capsys):
    from common.tracking import run_tracked

    package, typo = TYPOS[week]
    __import__(f"projects.{package}.config")
    cfg = compose_config(week, typo, f"tracking.uri={tracking_uri}")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        run_tracked(cfg, week, lambda cfg: pytest.fail("the pipeline ran"))
    assert exited.value.code == 1
    key = typo.removeprefix("+").split("=")[0]
    assert capsys.readouterr().err.splitlines() == [
        f"error: {key} is not a setting of {week} (added with +?): check its spelling;"
        f" `make {week} ARGS=--help` lists every key"
    ]
    assert MlflowClient(tracking_uri).get_experiment_by_name(week) is None  # nothing opened


@pytest.mark.slow  # the same, through the CLI: its twin above runs in this process
def test_the_cli_refuses_a_plus_typo_in_one_line_before_any_run(tmp_path, empty_store):
    shutil.copyfile(empty_store, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_cli("week1_pca", "+pca.solvr=svd", f"tracking.uri={uri}", output_dir=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: pca.solvr is not a setting of week1 (added with +?): check its spelling;"
        " `make week1 ARGS=--help` lists every key"
    ]
    assert MlflowClient(uri).search_runs(["0"]) == []
    assert MlflowClient(uri).get_experiment_by_name("week1") is None  # nothing was opened
