"""A network's outputs in plain numpy, straight from its weights: for drawing decision surfaces
and what each neuron computes over thousands of grid points without building graphs, and for
looking inside (each layer's activations, for the layer-health statistics)."""
import numpy as np

from .features import apply
from .ops import UNARY


def layer_outputs(weights, activations, X, feature_map=()):
    """Per layer (Z, H): its pre-activations W h + b and its activations act(Z), each (n, outputs
    of the layer), for inputs X; weights per layer (W [out][in], b [out]). X is (n, 2), the data's
    x1, x2, under a `feature_map` (Config.feature_map), else (n, inputs). One batched pass: the
    last H is `predict`'s output."""
    h = apply(feature_map, X)
    out = []
    with np.errstate(over="ignore", invalid="ignore"):  # huge weights give inf, not a warning
        for (W, b), act in zip(weights, activations):
            z = h @ np.asarray(W, dtype=float).T + np.asarray(b, dtype=float)
            h = UNARY[act].forward(z)
            out.append((z, h))
    return out


def predict(weights, activations, X, feature_map=()):
    """Outputs (n, outputs) for inputs X (see `layer_outputs`)."""
    return layer_outputs(weights, activations, X, feature_map)[-1][1]
