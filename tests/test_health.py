"""Layer health: each statistic and flag against a network built to show it (or not)."""
import math

import numpy as np
import pytest

from micrograd import health
from micrograd.config import Config
from micrograd.data import make_dataset
from micrograd.losses import penalty
from micrograd.session import Session
from micrograd.config import DataSpec
from micrograd.train import Trainer, flatten, unflatten

X = make_dataset("moons", 50, 0.1, 0).X


def network(acts=("relu", "relu", "linear"), layers=(6, 4, 1), seed=0, **kw):
    cfg = Config(layers=list(layers), activations=list(acts), seed=seed, **kw)
    return cfg, Trainer(cfg, make_dataset("moons", 50, 0.1, 0)).weights()


def zero_grads(weights):
    return [(np.zeros_like(W), np.zeros_like(b)) for W, b in weights]


def test_dead_relus_are_counted_and_a_mostly_dead_layer_is_flagged():
    cfg, weights = network(l2=0.0)
    W, b = weights[0]
    b[:4] = -100.0  # 4 of 6 units below 0 on every sample
    h = health.measure(cfg, weights, zero_grads(weights), X)
    assert h[0].dead == pytest.approx(4 / 6) and health.DEAD in h[0].flags
    assert "67% of its relu units are dead" in h[0].message(health.DEAD)
    b[:4] = 0.0
    b[0] = -100.0
    h = health.measure(cfg, weights, zero_grads(weights), X)
    assert h[0].dead == pytest.approx(1 / 6) and not h[0].flags
    assert h[2].dead is None and h[2].saturated is None  # linear


def test_a_unit_alive_on_one_sample_is_not_dead():
    cfg, weights = network()
    W, b = weights[0]
    z = X @ W[0] + b[0]
    b[0] -= z.max() - 1e-9  # positive on exactly one sample
    assert (X @ W[0] + b[0] > 0).sum() == 1
    h = health.measure(cfg, weights, zero_grads(weights), X)
    assert h[0].dead == 0.0


def test_saturation_is_the_same_point_for_tanh_and_sigmoid():
    """sigmoid(x) = (1 + tanh(x/2)) / 2: a sigmoid layer with weights 2W is saturated exactly
    where a tanh layer with W is."""
    cfg, weights = network(("tanh", "tanh", "linear"))
    for scale in (0.5, 3.0, 30.0):
        tanh_w = [(W * scale, b * scale) if k == 0 else (W, b) for k, (W, b) in enumerate(weights)]
        sig_w = [(2 * W, 2 * b) if k == 0 else (W, b) for k, (W, b) in enumerate(tanh_w)]
        sig_cfg = cfg.replace(activations=["sigmoid", "tanh", "linear"])
        t = health.measure(cfg, tanh_w, zero_grads(tanh_w), X)[0]
        s = health.measure(sig_cfg, sig_w, zero_grads(sig_w), X)[0]
        H = np.tanh(X @ tanh_w[0][0].T + tanh_w[0][1])
        expect = np.mean(np.mean(np.abs(H) > 0.99, axis=0) > 0.5)
        assert t.saturated == s.saturated == expect
    assert t.saturated > 0.5 and health.SATURATED in t.flags and health.SATURATED in s.flags


def test_a_saturated_output_is_not_flagged():
    cfg, weights = network(("tanh", "tanh", "tanh"))
    W, b = weights[-1]
    b[:] = 50.0
    h = health.measure(cfg, weights, zero_grads(weights), X)
    assert h[-1].saturated == 1.0 and not h[-1].flags


def grads_with(weights, cfg, ratios, lr=None):
    """Data-loss gradients with ‖∇‖/‖W‖ = ratios[k] per layer, plus the penalty's."""
    out = []
    for (W, b), r in zip(weights, ratios):
        norm = math.sqrt(np.sum(W ** 2) + np.sum(b ** 2))
        G, g = np.ones_like(W), np.ones_like(b)
        scale = r * norm / math.sqrt(G.size + g.size)
        out.append((G * scale, g * scale))
    theta = flatten(weights)
    return unflatten(flatten(out) + penalty(theta, cfg.l1, cfg.l2)[1], cfg)


def test_gradient_norms_leave_the_penalty_out():
    cfg, weights = network(l1=1e-3, l2=1e-2)
    h = health.measure(cfg, weights, grads_with(weights, cfg, [0.0, 0.0, 0.0]), X)
    assert all(layer.grad_norm < 1e-15 for layer in h)  # the penalty's gradient alone
    h = health.measure(cfg, weights, grads_with(weights, cfg, [0.2, 0.1, 0.05]), X, lr=0.5)
    for layer, ratio, (W, b) in zip(h, [0.2, 0.1, 0.05], weights):
        norm = math.sqrt(np.sum(W ** 2) + np.sum(b ** 2))
        assert layer.weight_norm == pytest.approx(norm)
        assert layer.grad_norm == pytest.approx(ratio * norm)
        assert layer.update == pytest.approx(0.5 * ratio)
        assert not layer.flags


def test_a_gradient_explodes_when_a_step_outgrows_the_layer():
    cfg, weights = network(lr=0.01)
    h = health.measure(cfg, weights, grads_with(weights, cfg, [150.0, 50.0, 80.0]), X)
    assert [health.EXPLODES in layer.flags for layer in h] == [True, False, False]
    assert "1.5x its size" in h[0].message(health.EXPLODES) and "lower the learning rate" in h[0].message(health.EXPLODES)
    h = health.measure(cfg, weights, grads_with(weights, cfg, [150.0, 50.0, 80.0]), X, lr=0.001)
    assert not any(layer.flags for layer in h)  # the same gradient at a tenth the rate


def test_a_gradient_vanishes_relative_to_a_later_layer():
    cfg, weights = network()
    h = health.measure(cfg, weights, grads_with(weights, cfg, [1e-6, 2e-2, 1e-2]), X)
    assert [health.VANISHES in layer.flags for layer in h] == [True, False, False]
    assert h[0].lag == pytest.approx(2e4) and h[2].lag is None
    assert "20,000x slower" in h[0].message(health.VANISHES)
    tiny = health.measure(cfg, weights, grads_with(weights, cfg, [1e-9, 2e-9, 1e-9]), X)
    assert not any(layer.flags for layer in tiny)  # small everywhere: converging, not vanishing
    none = health.measure(cfg, weights, grads_with(weights, cfg, [0.0, 2e-2, 1e-2]), X)[0]
    assert none.lag == math.inf and "none reaches it" in none.message(health.VANISHES)


def test_no_gradient_flags_before_the_first_step_or_at_a_zero_gradient():
    cfg, weights = network(("relu", "relu", "linear"), l2=1e-2)
    for grads in (zero_grads(weights), grads_with(weights, cfg, [0.0, 0.0, 0.0])):
        h = health.measure(cfg, weights, grads, X)
        assert not any(layer.flags for layer in h) and all(layer.lag is None for layer in h)
        assert all(layer.grad_norm < 1e-15 and layer.update < 1e-15 for layer in h)  # not the penalty's


def test_a_diverged_step_explodes():
    cfg, weights = network()
    grads = grads_with(weights, cfg, [0.1, 0.1, 0.1])
    grads[1][0][0, 0] = np.nan
    assert health.EXPLODES in health.measure(cfg, weights, grads, X)[1].flags


def test_samples_are_evenly_spaced_and_bounded():
    big = np.arange(5000.0).reshape(-1, 1)
    picked = health.samples(big, 1000)
    assert len(picked) == 1000 and picked[0, 0] == 0 and picked[-1, 0] == 4999
    assert health.samples(X) is not X or len(X) <= health.MAX_SAMPLES


def test_a_rate_too_high_kills_the_relus_of_a_real_run():
    """The micrograd demo's network with plain SGD at lr 5: a measured run, not built weights."""
    s = Session(Config(optimizer="sgd", lr=5.0, schedule="constant", epochs=10), DataSpec())
    flags = set()
    while not s.finished:
        e = s.step()
        snap = s.snapshot()
        flags |= {(layer.layer, f) for layer in health.measure(s.config, snap.weights, snap.grads, s.train.X, e.lr)
                  for f in layer.flags}
    assert (0, health.DEAD) in flags
