"""A network's outputs in plain numpy, straight from its weights: for drawing
decision surfaces over thousands of grid points without building graphs."""
import numpy as np

from .ops import UNARY


def predict(weights, activations, X):
    """Outputs (n, outputs) for inputs X (n, inputs); weights per layer (W [out][in], b [out])."""
    h = np.asarray(X, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):  # huge weights give inf, not a warning
        for (W, b), act in zip(weights, activations):
            h = UNARY[act].forward(h @ np.asarray(W, dtype=float).T + np.asarray(b, dtype=float))
    return h
