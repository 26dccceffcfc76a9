"""Our decision tree as an MLflow model, logged as code (no pickle).

MLflow runs this file when it loads the model ("models from code"). The fitted tree
travels as the artifact ``tree``: the JSON and ``.npy`` files of ``tree.save_tree``
(``common.estimator_files``), in which only the classes of ``tree.LOADABLE`` load. Feature
rows in (an array of shape (n, n_features)), predicted classes out; the signature comes from
the input example the pipeline logs.
"""

from __future__ import annotations

import mlflow
import numpy as np
from mlflow.pyfunc import PythonModel

from projects.week4_tree_search.tree import load_tree


class TreeModel(PythonModel):
    def load_context(self, context) -> None:
        """Load the fitted tree when MLflow loads the model."""
        self.tree = load_tree(context.artifacts["tree"])

    def predict(self, model_input: np.ndarray, params=None) -> np.ndarray:
        """The class the tree predicts for each row of ``model_input``."""
        return self.tree.predict(model_input)


mlflow.models.set_model(TreeModel())
