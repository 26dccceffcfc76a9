"""A fitted estimator as JSON and ``.npy`` files, without pickle, and logged as an MLflow model.

``object_state`` describes a scikit-learn-style estimator (its class name, ``get_params()``
and its fitted ``attr_`` attributes) or a dataclass (its fields) as plain JSON; each numeric
array goes to ``<prefix>.<name>.npy`` beside it. ``restore_object`` builds it again:

- a class is looked up by name in the ``classes`` the caller allows, never imported by name;
- arrays are read with ``np.load(allow_pickle=False)`` (an object array is refused), from
  plain file names inside the folder only;
- fitted attributes must be named like ``classes_``; everything else is JSON (numbers,
  strings, lists, dicts), which cannot run code.

So a tampered folder can give wrong numbers or a one-line ``ValueError``, not run code.

``log_code_model`` logs such a folder with a "models from code" file: MLflow runs the copy
of that file stored with the model, which loads the folder with the installed project's
code; nothing is unpickled. That copy is code, so it is trusted like the project itself.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import numpy as np

FITTED = re.compile(r"[a-z][a-z0-9_]*_")  # scikit-learn's fitted attributes: ``classes_``


def encode(value, folder: Path, stem: str) -> dict:
    """One value as JSON: ``{"npy": file}``, ``{"list": ...}``, ``{"dict": ...}``, ``{"object":
    state}`` (a dataclass) or ``{"value": ...}`` (a number, string, None or list)."""
    if isinstance(value, np.ndarray) and value.dtype != object:
        np.save(folder / f"{stem}.npy", value, allow_pickle=False)
        return {"npy": f"{stem}.npy"}
    if isinstance(value, np.ndarray):  # labels: strings
        return {"list": value.tolist()}
    if isinstance(value, dict):  # e.g. a vocabulary: term -> column
        return {"dict": {str(k): plain(v) for k, v in value.items()}}
    if dataclasses.is_dataclass(value):
        return {"object": object_state(value, folder, stem)}
    return {"value": plain(value)}


def plain(value):
    """A NumPy scalar as the Python number it holds; anything else as it is."""
    return value.item() if isinstance(value, np.generic) else value


def object_state(obj, folder: Path, prefix: str) -> dict:
    """Class and constructor parameters plus fitted attributes (an estimator), or class and
    fields (a dataclass); arrays go to ``folder / <prefix>.<name>.npy``."""
    name = type(obj).__name__
    if dataclasses.is_dataclass(obj):
        fields = {
            f.name: encode(getattr(obj, f.name), folder, f"{prefix}.{f.name}")
            for f in dataclasses.fields(obj)
        }
        return {"class": name, "fields": fields}
    fitted = {
        attr: encode(value, folder, f"{prefix}.{attr}")
        for attr, value in vars(obj).items()
        if FITTED.fullmatch(attr)
    }
    params = {k: list(v) if isinstance(v, tuple) else v for k, v in obj.get_params().items()}
    return {"class": name, "params": params, "fitted": fitted}


def decode(stored: dict, folder: Path, classes: Mapping[str, type]):
    """The value ``encode`` described."""
    if "npy" in stored:
        name = stored["npy"]
        if not isinstance(name, str) or Path(name).name != name or not name.endswith(".npy"):
            raise ValueError(f"{folder}: {name!r} is not an array file of this folder")
        return np.load(folder / name, allow_pickle=False)
    if "list" in stored:
        return np.asarray(stored["list"], dtype=object)
    if "object" in stored:
        return restore_object(stored["object"], folder, classes)
    return stored["dict"] if "dict" in stored else stored["value"]


def restore_object(state: dict, folder: str | Path, classes: Mapping[str, type]):
    """The estimator or dataclass ``object_state`` described, fitted again without refitting.

    ``classes``: name -> class of every class the folder may hold; any other name is refused.
    """
    folder = Path(folder)
    cls = classes.get(state.get("class"))
    if cls is None:
        raise ValueError(
            f"{folder}: class {state.get('class')!r} is not one this model loads "
            f"({', '.join(sorted(classes))})"
        )
    try:
        if "fields" in state:
            return cls(**{k: decode(v, folder, classes) for k, v in state["fields"].items()})
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in state["params"].items()}
        estimator = cls(**params)
        for attr, stored in state["fitted"].items():
            if not FITTED.fullmatch(attr):
                raise ValueError(f"{attr!r} is not a fitted attribute")
            setattr(estimator, attr, decode(stored, folder, classes))
    except (KeyError, TypeError, ValueError, OSError) as error:
        raise ValueError(f"{folder}: not a saved {cls.__name__} ({error})") from error
    return estimator


def write_state(state: dict, path: Path) -> None:
    """The JSON file of a state (UTF-8, non-ASCII terms kept readable)."""
    path.write_text(json.dumps(state, indent=1, ensure_ascii=False), encoding="utf-8")


def read_state(path: Path) -> dict:
    """The JSON file ``write_state`` wrote."""
    return json.loads(path.read_text(encoding="utf-8"))


# what loading a model from code imports (MLflow's own first): its pip requirements, pinned
CODE_MODEL_DISTRIBUTIONS = (
    "mlflow",
    "cloudpickle",
    "math-for-ml",
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
)


def pinned(distributions) -> list[str]:
    """``name==version`` of each distribution, as installed here, without a local version
    label: ``torch==2.13.0``, not ``2.13.0+cpu`` (PyPI has no such release; given the label,
    MLflow drops it with a warning)."""
    return [f"{name}=={metadata.version(name).split('+')[0]}" for name in distributions]


@contextmanager
def quiet(*loggers: str) -> Iterator[None]:
    """Only warnings and errors from ``loggers`` inside the block (their INFO is routine)."""
    found = [logging.getLogger(name) for name in loggers]
    levels = [logger.level for logger in found]
    for logger in found:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(found, levels, strict=True):
            logger.setLevel(level)


def log_code_model(
    name: str,
    code: Path,
    artifact: str,
    write: Callable[[Path], object],
    input_example,
    distributions,
) -> None:
    """Log an MLflow model from ``code`` with the folder ``write(folder)`` fills as its
    artifact ``artifact``, and its pip requirements pinned to these ``distributions``.

    ``code`` loads the folder back in ``load_context`` (``context.artifacts[artifact]``).
    Pinning saves MLflow inferring the requirements by loading the model again in a fresh
    process (seconds per run). MLflow's notes that it infers the signature from the example
    are not printed.
    """
    import mlflow

    with tempfile.TemporaryDirectory() as folder, quiet("mlflow.pyfunc", "mlflow.models.signature"):
        files = Path(folder) / artifact
        files.mkdir()
        write(files)
        mlflow.pyfunc.log_model(
            name=name,
            python_model=str(code),
            artifacts={artifact: str(files)},
            input_example=input_example,
            pip_requirements=pinned(distributions),
        )
