"""A trained week-3 model as an MLflow model, logged as code: no pickle, no torch.export.

MLflow runs this file when it loads the model ("models from code"). The weights travel as
the artifact ``weights``: ``w.npy`` (shape (p,)) and ``b.npy`` (shape ()), read with
``allow_pickle=False`` into a float64 ``torch.nn.Linear(p, 1)`` on the CPU, the trained
model (``mlflow.pyfunc.load_model(uri).unwrap_python_model().layer``). Feature rows in,
shape (n, p); the layer's output out, shape (n, 1): X w + b, the prediction of the linear
task and the logit of the logistic one. (MLflow's PyTorch flavor would save the layer by
pickle, or by ``torch.export``, whose import costs about 2.4 s of CPU once per run.)
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import torch
from mlflow.pyfunc import PythonModel

WEIGHTS = ("w", "b")  # the .npy files of the artifact ``weights``


def linear_layer(w: np.ndarray, b: np.ndarray) -> torch.nn.Linear:
    """torch.nn.Linear(p, 1) in float64 computing x -> w . x + b (weight w as its one row)."""
    layer = torch.nn.Linear(len(w), 1, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(w).reshape(1, -1))
        layer.bias.copy_(torch.as_tensor(b).reshape(1))
    return layer


class LinearModel(PythonModel):
    def load_context(self, context) -> None:
        """Rebuild the trained layer from its weights when MLflow loads the model."""
        folder = Path(context.artifacts["weights"])
        w, b = (np.load(folder / f"{name}.npy", allow_pickle=False) for name in WEIGHTS)
        self.layer = linear_layer(w, b)

    def predict(self, model_input: np.ndarray, params=None) -> np.ndarray:
        """The layer's output X w + b for the rows of ``model_input``, shape (n, 1)."""
        with torch.no_grad():
            return self.layer(torch.as_tensor(np.asarray(model_input), dtype=torch.float64)).numpy()


mlflow.models.set_model(LinearModel())
