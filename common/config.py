"""Typed config schemas shared by every week, and their registration with Hydra.

Each week declares a dataclass schema whose fields are the keys of its YAML
config. Registered in Hydra's ConfigStore and named first in the YAML's
``defaults`` list, it makes a misspelled key or a wrong type fail at
composition, with Hydra's own message, before any work starts.
"""

from dataclasses import dataclass, field
from enum import Enum, StrEnum

from hydra.core.config_store import ConfigStore


@dataclass
class TrackingConfig:
    uri: str | None = None  # None: $MLFLOW_TRACKING_URI, else sqlite:///<repo>/mlflow.db
    experiment: str | None = None  # None: the week's name
    run_name: str | None = None  # None: the overrides that change the experiment, else random
    resume: bool = False  # True: a config with a FINISHED run (same config_hash) is not rerun


class Impl(Enum):
    """Whose functions the capstone runs: the project's, or the learner's (``mine/weekN/``)."""

    reference = "reference"
    mine = "mine"


class Device(StrEnum):
    """Where torch runs: ``cpu``; ``auto``: CUDA when present; ``cuda``: fails without a GPU."""

    cpu = "cpu"
    auto = "auto"
    cuda = "cuda"


@dataclass
class BaseConfig:
    seed: int = 0
    impl: Impl = Impl.reference  # mine: your exercises from mine/weekN/ where written
    figures: bool = True  # False: skip figures and big tables (sweep jobs); metrics unchanged
    tracking: TrackingConfig = field(default_factory=TrackingConfig)


def register_schema(name: str, schema: type) -> None:
    """Make ``schema`` available to ``defaults: [<name>]`` in a primary config, and with it
    the configs every entry point shares (:func:`register_shared_configs`)."""
    ConfigStore.instance().store(name=name, node=schema)
    register_shared_configs()


def register_shared_configs() -> None:
    """``configs/shared/<group>/<name>.yaml`` as ``<group>: <name>`` in any entry point's
    defaults. Each entry point's config folder is its own (``configs/week2/``), so its
    ``--help`` lists only its own groups; the shared ones come from Hydra's config store."""
    from omegaconf import OmegaConf

    from common.paths import SHARED_CONFIG_DIR

    store = ConfigStore.instance()
    for path in sorted(SHARED_CONFIG_DIR.glob("*/*.yaml")):
        text = path.read_text()
        package = "_global_" if text.startswith("# @package _global_") else None
        store.store(
            group=path.parent.name, name=path.stem, node=OmegaConf.create(text), package=package
        )


def undeclared_key(cfg) -> str | None:
    """The first key of the composed ``cfg`` that its schema (the dataclass it was composed
    from) does not declare, as a dotted path (``pca.solvr``); None if there is none, or if
    ``cfg`` has no schema. Hydra refuses a misspelled key, but ``+key=value`` adds it past
    the schema."""
    import dataclasses

    from omegaconf import OmegaConf
    from omegaconf.errors import ConfigKeyError

    schema = OmegaConf.get_type(cfg)
    if not dataclasses.is_dataclass(schema):
        return None
    try:
        OmegaConf.merge(OmegaConf.structured(schema), OmegaConf.to_container(cfg, resolve=False))
    except ConfigKeyError as error:
        return error.full_key
    return None
