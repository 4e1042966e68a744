"""A network's outputs in plain numpy, straight from its weights: for drawing
decision surfaces over thousands of grid points without building graphs, and for
looking inside (each layer's activations, for the layer-health statistics)."""
import numpy as np

from .ops import UNARY


def predict(weights, activations, X):
    """Outputs (n, outputs) for inputs X (n, inputs); weights per layer (W [out][in], b [out])."""
    return layer_outputs(weights, activations, X)[-1][1]


def layer_outputs(weights, activations, X):
    """Per layer (Z, H): its pre-activations W h + b and its activations act(Z), each
    (n, outputs of the layer), for inputs X (n, inputs). The last H is `predict`'s output."""
    h = np.asarray(X, dtype=float)
    out = []
    with np.errstate(over="ignore", invalid="ignore"):  # huge weights give inf, not a warning
        for (W, b), act in zip(weights, activations):
            z = h @ np.asarray(W, dtype=float).T + np.asarray(b, dtype=float)
            h = UNARY[act].forward(z)
            out.append((z, h))
    return out
