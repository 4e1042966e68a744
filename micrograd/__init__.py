"""micrograd studio's engine: scalar autograd, networks, losses, optimizers and training.

No Qt here: everything in this package runs from a plain script or notebook.
"""
from .engine import Value, dot, to_dot, total, walk
from .nn import MLP, Layer, Module, Neuron

__all__ = ["MLP", "Layer", "Module", "Neuron", "Value", "dot", "to_dot", "total", "walk"]
