"""The JSON + .npy format of a fitted estimator: it round-trips exactly, and a tampered
folder is refused in one line instead of running code or unpickling."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
from sklearn.base import BaseEstimator

from common.estimator_files import object_state, read_state, restore_object, write_state
from tests.pickles import unpickled_classes


@dataclass(frozen=True)
class Nodes:
    left: np.ndarray
    weight: float


class Toy(BaseEstimator):
    def __init__(self, alpha=1.0, ngram_range=(1, 2), name=None):
        self.alpha = alpha
        self.ngram_range = ngram_range
        self.name = name

    def fit(self):
        self.classes_ = np.array(["ham", "spam"], dtype=object)
        self.coef_ = np.array([[0.5, -1.25], [np.inf, 3.0]])
        self.vocabulary_ = {"free": np.int64(0), "prix £": 1}
        self.n_features_in_ = np.int64(2)
        self.nodes_ = Nodes(np.array([1, -1, -1]), 0.25)
        self._private = "not stored"
        return self


CLASSES = {"Toy": Toy, "Nodes": Nodes}


def saved(folder):
    toy = Toy(alpha=0.5, name="x").fit()
    write_state(object_state(toy, folder, "toy"), folder / "toy.json")
    return toy


def test_a_restored_estimator_has_the_same_parameters_and_fitted_attributes(tmp_path):
    toy = saved(tmp_path)
    with unpickled_classes() as found:
        back = restore_object(read_state(tmp_path / "toy.json"), tmp_path, CLASSES)
    assert found == []
    assert back.get_params() == toy.get_params()  # the tuple comes back a tuple
    for attr in ("classes_", "coef_", "n_features_in_"):
        np.testing.assert_array_equal(getattr(back, attr), getattr(toy, attr))
    assert back.coef_.dtype == toy.coef_.dtype
    assert back.vocabulary_ == {"free": 0, "prix £": 1}
    assert type(back.nodes_) is Nodes
    np.testing.assert_array_equal(back.nodes_.left, toy.nodes_.left)
    assert back.nodes_.weight == toy.nodes_.weight
    assert not hasattr(back, "_private")


def tamper(folder, change):
    state = read_state(folder / "toy.json")
    change(state)
    return restore_object(state, folder, CLASSES)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.update({"class": "Popen"}), "class 'Popen' is not one this model loads"),
        (
            lambda s: s["fitted"]["nodes_"]["object"].update({"class": "os.system"}),
            "not one this model loads",
        ),
        (lambda s: s["fitted"].update({"__class__": {"value": 1}}), "not a fitted attribute"),
        (lambda s: s["fitted"].update({"coef_": {"npy": "../../x.npy"}}), "not an array file"),
        (lambda s: s["params"].update({"command": "rm"}), "not a saved Toy"),
        (lambda s: s.pop("fitted"), "not a saved Toy"),
    ],
)
def test_a_tampered_state_is_refused_in_one_line(tmp_path, change, message):
    saved(tmp_path)
    with pytest.raises(ValueError, match=message) as error:
        tamper(tmp_path, change)
    assert "\n" not in str(error.value)


def test_an_array_file_holding_pickled_objects_is_refused_not_unpickled(tmp_path):
    saved(tmp_path)
    np.save(tmp_path / "toy.coef_.npy", np.array([Nodes], dtype=object), allow_pickle=True)
    with unpickled_classes() as found, pytest.raises(ValueError, match="allow_pickle=False"):
        restore_object(read_state(tmp_path / "toy.json"), tmp_path, CLASSES)
    assert found == []


def test_the_state_is_plain_json_with_arrays_beside_it(tmp_path):
    saved(tmp_path)
    state = json.loads((tmp_path / "toy.json").read_text(encoding="utf-8"))
    assert state["params"] == {"alpha": 0.5, "name": "x", "ngram_range": [1, 2]}
    assert state["fitted"]["coef_"] == {"npy": "toy.coef_.npy"}
    assert state["fitted"]["nodes_"]["object"]["fields"]["left"] == {"npy": "toy.nodes_.left.npy"}
    assert sorted(p.name for p in tmp_path.glob("*.npy")) == [
        "toy.coef_.npy",
        "toy.nodes_.left.npy",
    ]
