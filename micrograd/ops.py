"""The op table: each unary op's scalar forward and local derivative, next to its numpy forms.

Everything that computes an op reads it here: `Value`'s methods (engine.py), the compiled
engine's generated code (compiled/emit.py) and the numpy forward pass (predict.py). Adding
an op is one entry in `UNARY`; adding its name to `ACTIVATIONS` offers it as a layer
activation to the network, the designer, the command line and the model file.

An entry holds
  scalar(x) -> (f(x), f'(x))             for one float: the `Value` engine
  forward(X, out=None) -> f(X)           elementwise on an array
  derivative(X, Y, out=None) -> f'(X)    elementwise, from the input X and the output Y = f(X)
  init                                   for an activation, the weight init that suits it (what
                                         `MLP(..., init="auto")` draws): "he" for the relu family,
                                         "xavier" for the ones near-linear around 0
  kink                                   the input where the op is not differentiable (relu's 0),
                                         or None: a finite difference across it is no gradient
                                         (micrograd.gradcheck leaves such differences out)
The array forms follow numpy's `out` convention: given `out`, they write the result there and
return it. Both forms compute the same expression, so the engines agree to rounding.
"""
import math
from typing import Callable, NamedTuple

import numpy as np


LEAKY_SLOPE = 0.01  # leaky_relu's slope below 0, PyTorch's default


class Op(NamedTuple):
    scalar: Callable
    forward: Callable
    derivative: Callable
    init: str | None = None  # activations only: "he" or "xavier" (micrograd.nn.INITS)
    kink: float | None = None  # where the derivative jumps


def _put(value, out):
    """`value` as the result: copied into `out` when one is given."""
    if out is None:
        return value
    np.copyto(out, value)
    return out


# -- relu ------------------------------------------------------------------------

def _relu(x):
    # NOTE: the gradient at exactly 0 is taken as 0, as in micrograd and PyTorch.
    return (x, 1.0) if x > 0 else (0.0, 0.0)


def _relu_np(X, out=None):
    return np.maximum(X, 0.0, out=out)


def _relu_grad_np(X, Y, out=None):
    return (X > 0.0).astype(float) if out is None else np.greater(X, 0.0, out=out)


# -- leaky relu --------------------------------------------------------------------

def _leaky_relu(x):
    # NOTE: at exactly 0 the gradient is the slope, as in PyTorch (x > 0 ? 1 : slope).
    return (x, 1.0) if x > 0 else (LEAKY_SLOPE * x, LEAKY_SLOPE)


def _leaky_relu_np(X, out=None):
    # max(x, slope x) is x above 0 and slope x below, for a slope under 1.
    return np.maximum(X, LEAKY_SLOPE * X, out=out)


def _leaky_relu_grad_np(X, Y, out=None):
    return _put(np.where(X > 0.0, 1.0, LEAKY_SLOPE), out)


# -- tanh ------------------------------------------------------------------------

def _tanh(x):
    # math.tanh saturates to +-1 for any finite input; the blog's
    # (exp(2x)-1)/(exp(2x)+1) overflows from x = 355.
    t = math.tanh(x)
    return t, 1.0 - t * t


def _tanh_grad_np(X, Y, out=None):
    out = np.multiply(Y, Y, out=out)
    return np.subtract(1.0, out, out=out)


# -- sigmoid ---------------------------------------------------------------------

def _sigmoid_value(x):
    # exp of a non-positive number only, so it never overflows.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _sigmoid(x):
    s = _sigmoid_value(x)
    return s, s * (1.0 - s)


def _sigmoid_np(X, out=None):
    # The scalar form's two branches, 1/(1+z) and z/(1+z) with z = e^-|x|.
    z = np.exp(-np.abs(X))
    return np.divide(np.where(X >= 0.0, 1.0, z), 1.0 + z, out=out)


def _sigmoid_grad_np(X, Y, out=None):
    out = np.subtract(1.0, Y, out=out)
    return np.multiply(Y, out, out=out)


# -- silu (swish): x * sigmoid(x) ------------------------------------------------------

def _silu(x):
    # d/dx = s + x s (1 - s) = s (1 + x (1 - s)), with s = sigmoid(x).
    s = _sigmoid_value(x)
    return x * s, s * (1.0 + x * (1.0 - s))


def _silu_np(X, out=None):
    return np.multiply(X, _sigmoid_np(X), out=out)


def _silu_grad_np(X, Y, out=None):
    s = _sigmoid_np(X)
    return np.multiply(s, 1.0 + X * (1.0 - s), out=out)


# -- softplus: log(1 + e^x) --------------------------------------------------------

def _softplus(x):
    # max(x, 0) + log1p(e^-|x|): exact and finite for any finite x. The derivative
    # is sigmoid(x), from the same z = e^-|x|.
    z = math.exp(-abs(x))
    s = 1.0 / (1.0 + z) if x >= 0 else z / (1.0 + z)
    return max(x, 0.0) + math.log1p(z), s


def _softplus_np(X, out=None):
    return np.add(np.maximum(X, 0.0), np.log1p(np.exp(-np.abs(X))), out=out)


def _softplus_grad_np(X, Y, out=None):
    return _sigmoid_np(X, out=out)


# -- exp, log, abs, linear ---------------------------------------------------------

def _exp(x):
    try:
        e = math.exp(x)
    except OverflowError:
        raise OverflowError(f"exp: exp({x}) overflows float64") from None
    return e, e


def _exp_grad_np(X, Y, out=None):
    return np.positive(Y, out=out)  # a copy of Y


def _log(x):
    if x <= 0:
        raise ValueError(f"log: log({x}) is undefined (needs a positive value)")
    return math.log(x), 1.0 / x


def _log_grad_np(X, Y, out=None):
    return np.reciprocal(X, out=out)


def _abs(x):
    # NOTE: like relu, the gradient at exactly 0 is taken as 0.
    return abs(x), float((x > 0) - (x < 0))


def _abs_grad_np(X, Y, out=None):
    return np.sign(X, out=out)


def _linear(x):
    return x, 1.0


def _linear_grad_np(X, Y, out=None):
    return _put(np.ones_like(X), out)


# He (Kaiming) keeps the variance of a layer that zeroes about half its inputs: the relu family.
# Xavier (Glorot) suits activations with slope 1 around 0: tanh, linear, and sigmoid (slope 1/4,
# but no better scheme among ours).
UNARY = {
    "relu": Op(_relu, _relu_np, _relu_grad_np, "he", kink=0.0),
    "tanh": Op(_tanh, np.tanh, _tanh_grad_np, "xavier"),
    "sigmoid": Op(_sigmoid, _sigmoid_np, _sigmoid_grad_np, "xavier"),
    "softplus": Op(_softplus, _softplus_np, _softplus_grad_np),
    "exp": Op(_exp, np.exp, _exp_grad_np),
    "log": Op(_log, np.log, _log_grad_np),
    "abs": Op(_abs, np.abs, _abs_grad_np, kink=0.0),
    "linear": Op(_linear, np.positive, _linear_grad_np, "xavier"),  # identity; np.positive copies
    "leaky_relu": Op(_leaky_relu, _leaky_relu_np, _leaky_relu_grad_np, "he", kink=0.0),
    "silu": Op(_silu, _silu_np, _silu_grad_np, "he"),
}

# The ops a layer may use as its activation, in the order the designer lists them.
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear", "leaky_relu", "silu")
