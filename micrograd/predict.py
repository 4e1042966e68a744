"""A network's outputs in plain numpy, straight from its weights: for drawing
decision surfaces over thousands of grid points without building graphs."""
import numpy as np

ACTS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),  # overflow-free form of 1/(1+e^-z)
    "linear": lambda z: z,
}


def predict(weights, activations, X):
    """Outputs (n, outputs) for inputs X (n, inputs); weights per layer (W [out][in], b [out])."""
    h = np.asarray(X, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):  # huge weights give inf, not a warning
        for (W, b), act in zip(weights, activations):
            h = ACTS[act](h @ np.asarray(W, dtype=float).T + np.asarray(b, dtype=float))
    return h
