"""A network's outputs in plain numpy, straight from its weights: for drawing decision
surfaces and what each neuron computes over thousands of grid points without building graphs."""
import numpy as np

from .ops import UNARY


def layer_outputs(weights, activations, X):
    """Every layer's outputs, [(n, neurons) per layer], for inputs X (n, inputs); weights per
    layer (W [out][in], b [out]). One batched pass: the last is the network's output."""
    h = np.asarray(X, dtype=float)
    outputs = []
    with np.errstate(over="ignore", invalid="ignore"):  # huge weights give inf, not a warning
        for (W, b), act in zip(weights, activations):
            h = UNARY[act].forward(h @ np.asarray(W, dtype=float).T + np.asarray(b, dtype=float))
            outputs.append(h)
    return outputs


def predict(weights, activations, X):
    """Outputs (n, outputs) for inputs X (n, inputs)."""
    return layer_outputs(weights, activations, X)[-1]
