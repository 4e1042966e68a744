"""Neurons, layers and multilayer perceptrons built from `Value`s.

As in micrograd: a `Neuron` holds its weights `w` and bias `b`; a `Layer` is
a list of neurons; an `MLP` is a list of layers. Unlike micrograd each layer
has its own activation, and every model draws its initial weights from its own
`random.Random(seed)`, so the same seed gives the same network, bit for bit.
"""
import random

from .engine import Value, dot
from .ops import ACTIVATIONS  # the window, the command line and the model file read it from here
BIAS_INITS = ("zero", "uniform")  # micrograd's 0, or the blog's U(-1, 1)


class Module:
    def parameters(self):
        return []

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0.0


class Neuron(Module):
    def __init__(self, nin, act="linear", rng=None, bias_init="zero"):
        if act not in ACTIVATIONS:
            raise ValueError(f"unknown activation {act!r}; choose from {', '.join(ACTIVATIONS)}")
        if bias_init not in BIAS_INITS:
            raise ValueError(f"unknown bias init {bias_init!r}; choose from {', '.join(BIAS_INITS)}")
        rng = rng or random.Random(0)
        self.w = [Value(rng.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(rng.uniform(-1, 1) if bias_init == "uniform" else 0.0)
        self.act = act

    def __call__(self, x):
        out = dot(self.w, x, self.b)
        return out if self.act == "linear" else getattr(out, self.act)()

    def parameters(self):
        return self.w + [self.b]

    def __repr__(self):
        return f"{self.act.capitalize()}Neuron({len(self.w)})"


class Layer(Module):
    def __init__(self, nin, nout, act="linear", rng=None, bias_init="zero"):
        rng = rng or random.Random(0)
        self.neurons = [Neuron(nin, act, rng, bias_init) for _ in range(nout)]
        self.act = act

    def __call__(self, x):
        return [n(x) for n in self.neurons]

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self):
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """`MLP(2, [16, 16, 1])`: two inputs, two relu layers of 16, one linear output.

    `activations` gives one name per layer; without it hidden layers use
    `hidden` and the last layer `output`. Calling the model on one sample
    (a list of numbers or Values) returns a list with one Value per output.
    """

    def __init__(self, nin, sizes, activations=None, *, hidden="relu", output="linear",
                 bias_init="zero", seed=0):
        sizes = list(sizes)
        if not sizes or nin < 1 or any(not isinstance(n, int) or n < 1 for n in [nin, *sizes]):
            raise ValueError(f"layer sizes must be positive integers, got inputs={nin}, layers={sizes}")
        if activations is None:
            activations = [hidden] * (len(sizes) - 1) + [output]
        activations = list(activations)
        if len(activations) != len(sizes):
            raise ValueError(f"{len(sizes)} layers but {len(activations)} activations")
        rng = random.Random(seed)
        dims = [nin, *sizes]
        self.nin = nin
        self.layers = [Layer(dims[i], dims[i + 1], act, rng, bias_init) for i, act in enumerate(activations)]

    def __call__(self, x):
        if len(x) != self.nin:
            raise ValueError(f"the model takes {self.nin} inputs, got {len(x)}")
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    @property
    def sizes(self):
        return [len(layer.neurons) for layer in self.layers]

    @property
    def activations(self):
        return [layer.act for layer in self.layers]

    def weights(self):
        """Copies of each layer's weights [outputs][inputs] and biases [outputs], as floats."""
        return [([[w.data for w in n.w] for n in layer.neurons], [n.b.data for n in layer.neurons])
                for layer in self.layers]

    def grads(self):
        """Like `weights()`, for the gradients."""
        return [([[w.grad for w in n.w] for n in layer.neurons], [n.b.grad for n in layer.neurons])
                for layer in self.layers]

    def load_weights(self, params):
        """Set every weight and bias from `weights()`-shaped nested lists (shapes checked first)."""
        if len(params) != len(self.layers):
            raise ValueError(f"expected {len(self.layers)} layers of parameters, got {len(params)}")
        for k, (layer, (W, b)) in enumerate(zip(self.layers, params)):
            nin = len(layer.neurons[0].w)
            if len(W) != len(layer.neurons) or len(b) != len(layer.neurons) or any(len(r) != nin for r in W):
                raise ValueError(f"layer {k}: expected weights {len(layer.neurons)}x{nin} and "
                                 f"{len(layer.neurons)} biases")
        for layer, (W, b) in zip(self.layers, params):
            for n, row, bias in zip(layer.neurons, W, b):
                for w, v in zip(n.w, row):
                    w.data = float(v)
                n.b.data = float(bias)

    def __repr__(self):
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
