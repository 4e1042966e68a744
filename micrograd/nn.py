"""Neurons, layers and multilayer perceptrons built from `Value`s.

As in micrograd: a `Neuron` holds its weights `w` and bias `b`; a `Layer` is a list of
neurons; an `MLP` is a list of layers; a layer of one neuron gives a bare `Value`, any other
a list. Code written for micrograd, or for the tutorials' `MLP(nin, nouts, activation, step)`
with its `update_parameters()`, runs unchanged.

Beyond micrograd: an activation per layer, a choice of weight init (`INITS`), biases at 0 or
U(-1, 1), and `seed=`: a model built with a seed draws from its own `random.Random(seed)`, so
the same seed gives the same network bit for bit whatever else uses `random`; a model built
without one draws from Python's global `random`, in micrograd's order (each neuron's weights,
then its bias), so `random.seed(1337)` reproduces micrograd's numbers.
"""
import math
import random

from .engine import Value, dot
from .ops import ACTIVATIONS, UNARY  # the window, the command line and the model file read ACTIVATIONS here

BIAS_INITS = ("zero", "uniform")  # micrograd's 0, or the blog's U(-1, 1)
# Weights U(-a, a): "uniform" a = 1 (micrograd's); "xavier" (Glorot) a = sqrt(6 / (fan_in + fan_out));
# "he" (Kaiming) a = sqrt(6 / fan_in); "auto" picks per layer what the op table says suits its activation.
INITS = ("uniform", "xavier", "he", "auto")


def init_bound(init, act, fan_in, fan_out):
    """The bound a of U(-a, a) that `init` draws a layer's weights from."""
    if init == "auto":
        init = UNARY[act].init
    if init == "xavier":
        return math.sqrt(6.0 / (fan_in + fan_out))
    if init == "he":
        return math.sqrt(6.0 / fan_in)
    return 1.0


def as_list(out):
    """A model's output as a list of Values: a bare Value (one output neuron) becomes [out]."""
    return [out] if isinstance(out, Value) else list(out)


def _bare(outs):
    """micrograd's rule: one output is returned bare, several as a list."""
    return outs[0] if len(outs) == 1 else outs


def _checked(act, nonlin, init, bias_init):
    """The activation (micrograd's `nonlin=True/False` means relu/linear), after checking the names."""
    if nonlin is not None:
        act = "relu" if nonlin else "linear"
    for name, value, choices in (("activation", act, ACTIVATIONS), ("init", init, INITS),
                                 ("bias init", bias_init, BIAS_INITS)):
        if value not in choices:
            raise ValueError(f"unknown {name} {value!r}; choose from {', '.join(choices)}")
    return act


class Module:
    def parameters(self):
        return []

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0.0


class Neuron(Module):
    """`Neuron(nin, "tanh")`: act(b + w . x). Without `rng`, the weights come from the global `random`.

    `nout`: the size of the layer it belongs to (Xavier's fan-out; 1 for a neuron on its own).
    """

    def __init__(self, nin, act="relu", *, nonlin=None, init="uniform", bias_init="zero", nout=1, rng=None):
        act = _checked(act, nonlin, init, bias_init)
        rng = random if rng is None else rng
        a = init_bound(init, act, nin, nout)
        self.w = [Value(rng.uniform(-a, a)) for _ in range(nin)]
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
    """`Layer(nin, nout, "relu")`: nout neurons on the same inputs; one output is returned bare."""

    def __init__(self, nin, nout, act="relu", *, nonlin=None, init="uniform", bias_init="zero", rng=None):
        act = _checked(act, nonlin, init, bias_init)
        self.neurons = [Neuron(nin, act, init=init, bias_init=bias_init, nout=nout, rng=rng) for _ in range(nout)]
        self.act = act

    def __call__(self, x):
        return _bare([n(x) for n in self.neurons])

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self):
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """`MLP(2, [16, 16, 1])`: two inputs, two relu layers of 16, one linear output.

    `activations`: one name for every layer, output included (the tutorials'
    `MLP(nin, nouts, "tanh", step)`), or a list with one per layer; without it hidden
    layers use `hidden` and the last layer `output`. `step`: the learning rate of
    `update_parameters()`. `init`: how the weights are drawn (`INITS`). Calling the
    model on one sample (a list of numbers or Values) gives a Value for a one-neuron
    output layer, else a list of Values.
    """

    def __init__(self, nin, sizes, activations=None, step=None, *, hidden="relu", output="linear",
                 init="uniform", bias_init="zero", seed=None):
        sizes = list(sizes)
        if not sizes or nin < 1 or any(not isinstance(n, int) or n < 1 for n in [nin, *sizes]):
            raise ValueError(f"layer sizes must be positive integers, got inputs={nin}, layers={sizes}")
        if activations is None:
            activations = [hidden] * (len(sizes) - 1) + [output]
        elif isinstance(activations, str):
            activations = [activations] * len(sizes)
        activations = list(activations)
        if len(activations) != len(sizes):
            raise ValueError(f"{len(sizes)} layers but {len(activations)} activations")
        rng = random if seed is None else random.Random(seed)
        dims = [nin, *sizes]
        self.nin, self.step = nin, step
        self.layers = [Layer(dims[i], dims[i + 1], act, init=init, bias_init=bias_init, rng=rng)
                       for i, act in enumerate(activations)]

    def __call__(self, x):
        if len(x) != self.nin:
            raise ValueError(f"the model takes {self.nin} inputs, got {len(x)}")
        for layer in self.layers:  # lists between layers, even for a hidden layer of one neuron
            x = [n(x) for n in layer.neurons]
        return _bare(x)

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def update_parameters(self):
        """One plain gradient-descent step of size `step`, as the tutorials' MLP does it."""
        if self.step is None:
            raise ValueError("update_parameters() needs a step: build the model as MLP(nin, nouts, activation, step)")
        for p in self.parameters():
            p.data += self.step * -p.grad

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
