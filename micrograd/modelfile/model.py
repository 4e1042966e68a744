"""A loaded model: its settings, its weights and what was recorded with them."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..config import Config
from ..predict import predict as forward


class ModelFileError(ValueError):
    """A model file was refused (or could not be written); the message names the file and field."""


@dataclass
class Model:
    """A loaded (or about to be saved) model: settings, weights and what was recorded with them."""

    config: Config
    weights: list  # per layer: (W ndarray [outputs][inputs], b ndarray [outputs])
    data: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    path: str | None = None

    @property
    def inputs(self):
        """The inputs `predict` takes: the data's (two, x1 and x2, under a feature map)."""
        return self.config.data_inputs

    @property
    def feature_map(self):
        """The features the network computes from x1, x2 (features.NAMES); [] for none."""
        return list(self.config.feature_map)

    @property
    def layers(self):
        return list(self.config.layers)

    @property
    def activations(self):
        return list(self.config.activations)

    @property
    def task(self):
        """'classification', 'regression', or None when the file does not say."""
        return self.data.get("task")

    @property
    def classes(self):
        return list(self.data.get("classes") or [])

    @property
    def features(self):
        return list(self.data.get("features") or [f"x{i + 1}" for i in range(self.inputs)])

    @property
    def parameter_count(self):
        return sum(W.size + b.size for W, b in self.weights)

    def predict(self, X):
        """Outputs (n, outputs) for inputs X (n, inputs) or one sample (inputs,), in plain numpy;
        the feature map, if any, is applied first."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != self.inputs:
            raise ValueError(f"the model takes {self.inputs} inputs, got data shaped {X.shape}")
        return forward(self.weights, self.config.activations, X, self.config.feature_map)

    @property
    def threshold(self):
        """Outputs above this are class 1 (classification)."""
        return self.config.threshold

    def classify(self, X):
        """Class indices (0/1) for a classification model; -1 where the output is not finite
        (nan or inf: a diverged model, or inputs far outside its range), which has no class."""
        if self.task != "classification":
            raise ValueError("this model was not trained for classification")
        out = self.predict(X)[:, 0]
        return np.where(np.isfinite(out), out > self.threshold, -1).astype(int)

    def class_names(self, X):
        """Predicted class names (from the training data's labels); None where the output is not finite."""
        names = self.classes or ["0", "1"]
        return [names[k] if k >= 0 else None for k in self.classify(X)]

    def to_mlp(self):
        """A micrograd `MLP` with these weights (for gradients, graphs, further training). It takes
        the network's inputs: under a feature map, `features.apply(model.feature_map, X)`."""
        mlp = self.config.model()
        mlp.load_weights([(W.tolist(), b.tolist()) for W, b in self.weights])
        return mlp
