"""A network's outputs in plain numpy, straight from its weights: for drawing
decision surfaces over thousands of grid points without building graphs."""
import numpy as np

from .features import apply
from .ops import UNARY


def predict(weights, activations, X, feature_map=()):
    """Outputs (n, outputs) for inputs X; weights per layer (W [out][in], b [out]). X is (n, 2),
    the data's x1, x2, under a `feature_map` (Config.feature_map), else (n, inputs)."""
    h = apply(feature_map, X)
    with np.errstate(over="ignore", invalid="ignore"):  # huge weights give inf, not a warning
        for (W, b), act in zip(weights, activations):
            h = UNARY[act].forward(h @ np.asarray(W, dtype=float).T + np.asarray(b, dtype=float))
    return h
