"""Choices are in the schema: each one a config group (``model=complement``) and an Enum.

A value outside its choices fails at composition, before any run exists, with the allowed
values in Hydra's message; ``--help`` lists each week's own groups and options only; and
each Enum names exactly the options its code can run.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
from hydra.errors import ConfigCompositionException, MissingConfigException

from common.config import Device
from common.devices import DEVICES
from common.paths import REPO_ROOT, config_dir
from tests.weeks import compose_config

PACKAGES = {
    "week1": "week1_pca",
    "week2": "week2_spam",
    "week3": "week3_regression",
    "week4": "week4_tree_search",
}
# week, config group, the key it sets, the Enum's name in the week's config module
GROUPS = [
    ("week1", "pca", "pca.solver", "Solver"),
    ("week2", "model", "model.name", "Model"),
    ("week3", "optimizer", "optimizer.name", "Optimizer"),
    ("week4", "tree", "tree.criterion", "Criterion"),
    ("week4", "search", "search.metric", "Metric"),
]
OTHER_CHOICES = [
    ("week1", "patch_codec.basis", "CodecBasis"),
    ("week2", "eval", "Evaluation"),
    ("week2", "calibration.method", "Calibration"),
    ("week3", "device", "Device"),
]


def enum_of(week: str, name: str):
    return getattr(importlib.import_module(f"projects.{PACKAGES[week]}.config"), name)


def value_at(cfg, key: str):
    for part in key.split("."):
        cfg = cfg[part]
    return cfg


@pytest.mark.parametrize(("week", "group", "key", "enum"), GROUPS, ids=lambda v: str(v))
def test_each_option_of_a_group_composes_and_sets_its_key(week, group, key, enum):
    options = sorted(path.stem for path in (config_dir(week) / group).glob("*.yaml"))
    assert options == sorted(member.value for member in enum_of(week, enum))
    for option in options:
        assert value_at(compose_config(week, f"{group}={option}"), key) == option


@pytest.mark.parametrize(("week", "group", "key", "enum"), GROUPS, ids=lambda v: str(v))
def test_an_option_outside_a_group_fails_at_composition_with_the_options(week, group, key, enum):
    with pytest.raises(MissingConfigException, match=rf"Could not find '{group}/bogus'"):
        compose_config(week, f"{group}=bogus")
    members = ", ".join(member.value for member in enum_of(week, enum))
    with pytest.raises(ConfigCompositionException) as raised:
        compose_config(week, f"{key}=bogus")
    assert f"Invalid value 'bogus', expected one of [{members}]" in str(raised.value.__cause__)


@pytest.mark.parametrize(("week", "key", "enum"), OTHER_CHOICES)
def test_a_choice_without_a_group_is_checked_at_composition_too(week, key, enum):
    members = ", ".join(member.value for member in enum_of(week, enum))
    with pytest.raises(ConfigCompositionException) as raised:
        compose_config(week, f"{key}=bogus")
    assert f"Invalid value 'bogus', expected one of [{members}]" in str(raised.value.__cause__)


def test_each_enum_names_exactly_what_its_code_runs():
    from projects.week1_pca.pca import SKLEARN_SOLVER, SOLVERS
    from projects.week1_pca.pipeline import CODEC_BASES
    from projects.week2_spam.calibration import CALIBRATORS
    from projects.week2_spam.spam_filter import MODELS, REFERENCE_MODELS
    from projects.week3_regression.pipeline import TRAINERS
    from projects.week4_tree_search.search import METRICS
    from projects.week4_tree_search.tree import IMPURITY

    def names(week, enum):
        return {member.value for member in enum_of(week, enum)}

    assert names("week1", "Solver") == set(SOLVERS) == set(SKLEARN_SOLVER)
    assert names("week1", "CodecBasis") == set(CODEC_BASES)
    assert names("week2", "Model") == set(MODELS) == set(REFERENCE_MODELS)
    assert names("week2", "Calibration") == {"none", *CALIBRATORS}
    assert names("week3", "Optimizer") == set(TRAINERS)
    assert names("week4", "Criterion") == set(IMPURITY)
    assert names("week4", "Metric") == set(METRICS)
    assert {member.value for member in Device} == set(DEVICES)


@pytest.mark.parametrize("week", sorted(PACKAGES))
def test_help_lists_the_weeks_own_groups_with_their_options_and_no_other_weeks(week):
    result = subprocess.run(
        [sys.executable, "-m", f"projects.{PACKAGES[week]}", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    groups = result.stdout.split("== Configuration groups ==")[1].split("== Config ==")[0]
    listed = dict(line.split(": ") for line in groups.splitlines() if ": " in line)
    experiments = sorted(path.stem for path in (config_dir(week) / "experiment").glob("*.yaml"))
    assert listed.pop("experiment") == ", ".join(experiments)
    assert listed.pop("common") == "hydra"
    assert listed.pop("tracking") == "local"
    own = {group: key for w, group, key, _ in GROUPS if w == week}
    assert set(listed) == set(own)
    for group, options in listed.items():
        expected = sorted(path.stem for path in (config_dir(week) / group).glob("*.yaml"))
        assert options == ", ".join(expected)
