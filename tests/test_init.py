"""Weight-init schemes: micrograd's U(-1, 1), Xavier/Glorot and He/Kaiming (uniform), and "auto",
which takes from the op table the scheme that suits each layer's activation."""
import math
import random

import numpy as np
import pytest

from micrograd import MLP, Layer, Neuron
from micrograd.losses import objective
from micrograd.nn import INITS
from micrograd.ops import ACTIVATIONS, UNARY

SIZES = [48, 40, 1]  # wide enough that the largest |w| of a layer comes close to its bound


def bound(init, act, fan_in, fan_out):
    """The bounds written out, independently of micrograd.nn."""
    if init == "auto":
        init = "he" if act in ("relu", "leaky_relu", "silu") else "xavier"
    return {"uniform": 1.0, "xavier": math.sqrt(6 / (fan_in + fan_out)), "he": math.sqrt(6 / fan_in)}[init]


def test_the_schemes():
    assert INITS == ("uniform", "xavier", "he", "auto")


def test_auto_follows_the_op_table():
    for act in ACTIVATIONS:
        want = "he" if act in ("relu", "leaky_relu", "silu") else "xavier"
        assert UNARY[act].init == want, act


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("acts", [["relu", "relu", "linear"], ["tanh", "sigmoid", "tanh"],
                                  ["leaky_relu", "silu", "sigmoid"]])
def test_each_layer_is_drawn_within_its_bound(init, acts):
    model = MLP(3, SIZES, acts, init=init, seed=1)
    for (W, b), act, fan_in, fan_out in zip(model.weights(), acts, [3, *SIZES], SIZES):
        a = bound(init, act, fan_in, fan_out)
        W = np.array(W)
        assert np.abs(W).max() <= a and (W.size < 40 or np.abs(W).max() > 0.9 * a)
        assert W.min() < 0 < W.max() and b == [0.0] * fan_out


def test_the_bounds_differ_where_they_should():
    he = MLP(2, [64, 1], ["relu", "linear"], init="he", seed=0).weights()[0][0]
    xavier = MLP(2, [64, 1], ["relu", "linear"], init="xavier", seed=0).weights()[0][0]
    assert np.abs(he).max() > 1.5 and np.abs(xavier).max() < 0.31  # sqrt(6/2) = 1.73; sqrt(6/66) = 0.30


@pytest.mark.parametrize("init", INITS)
def test_every_scheme_keeps_micrograds_draw_order(init):
    """Each neuron's weights, then its bias: a scheme only scales the draws of micrograd's init."""
    acts = ["relu", "tanh", "linear"]
    plain = MLP(2, [5, 4, 1], acts, bias_init="uniform", seed=3).weights()
    scaled = MLP(2, [5, 4, 1], acts, init=init, bias_init="uniform", seed=3).weights()
    for (W0, b0), (W, b), act, fan_in, fan_out in zip(plain, scaled, acts, [2, 5, 4], [5, 4, 1]):
        np.testing.assert_allclose(W, bound(init, act, fan_in, fan_out) * np.array(W0), rtol=1e-14, atol=0)
        assert b == b0  # biases stay U(-1, 1)


def test_seeded_is_reproducible_and_unseeded_follows_the_global_random():
    a = MLP(2, [8, 1], init="he", seed=5).weights()
    assert MLP(2, [8, 1], init="he", seed=5).weights() == a != MLP(2, [8, 1], init="he", seed=6).weights()
    random.seed(5)
    b = MLP(2, [8, 1], init="xavier").weights()
    random.seed(5)
    assert MLP(2, [8, 1], init="xavier").weights() == b


def test_layers_and_neurons_take_a_scheme():
    random.seed(0)
    layer = Layer(6, 10, "relu", init="auto")
    assert all(abs(w.data) <= 1.0 for n in layer.neurons for w in n.w)  # he: sqrt(6/6) = 1
    assert max(abs(w.data) for n in layer.neurons for w in n.w) > 0.9
    neuron = Neuron(24, "tanh", init="xavier")  # on its own: fan-out 1
    assert max(abs(w.data) for w in neuron.w) <= math.sqrt(6 / 25)


def test_an_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="unknown init 'lecun'"):
        MLP(2, [3, 1], init="lecun", seed=0)
    with pytest.raises(ValueError, match="choose from uniform, xavier, he, auto"):
        Layer(2, 3, init="glorot")


@pytest.mark.parametrize("init", ["xavier", "he", "auto"])
def test_gradients_match_finite_differences_under_every_scheme(init):
    model = MLP(3, [4, 3, 1], ["relu", "tanh", "linear"], init=init, bias_init="uniform", seed=2)
    X, ys = [[0.3, -0.7, 1.1], [-1.2, 0.4, 0.05]], [[0.5], [-1.0]]
    params = model.parameters()
    loss = objective(model, X, ys, "mse")
    model.zero_grad()
    loss.backward()
    for p in params:
        x, h = p.data, 1e-6
        p.data = x + h
        up = objective(model, X, ys, "mse").data
        p.data = x - h
        down = objective(model, X, ys, "mse").data
        p.data = x
        assert p.grad == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-7)
