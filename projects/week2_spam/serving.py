"""The spam filter as an MLflow model, logged as code (no pickle).

MLflow runs this file when it loads the model ("models from code"). The fitted
filter travels as the artifact ``filter``: the JSON and ``.npy`` files of
``spam_filter.save_filter`` (with the run's calibration map, if it calibrated:
then P(spam) is the calibrated one). Raw messages in (a list of strings), P(spam) out;
the type hints give the model its signature. Served, it answers
``{"inputs": ["msg", ...]}`` on ``/invocations`` with ``{"predictions": [p, ...]}``
(``{"inputs": []}``: ``{"predictions": []}``); ``server`` serves it.
"""

from __future__ import annotations

import mlflow
from mlflow.pyfunc import PythonModel

from projects.week2_spam.spam_filter import load_calibration, load_filter, spam_probability


class SpamFilterModel(PythonModel):
    def load_context(self, context) -> None:
        """Load the fitted filter (and its calibration map, if any) when MLflow loads it."""
        self.spam_filter = load_filter(context.artifacts["filter"])
        self.calibrator = load_calibration(context.artifacts["filter"])

    def predict(self, model_input: list[str], params=None) -> list[float]:
        """P(spam | text) for each message (calibrated if the run calibrated), as floats."""
        return spam_probability(self.spam_filter, model_input, self.calibrator).tolist()


mlflow.models.set_model(SpamFilterModel())
