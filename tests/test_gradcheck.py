"""The gradient check: it passes healthy networks of every activation on both engines, fails a
wrong derivative and names it, and sets aside (never fails on) differences across a kink."""
import math
import subprocess
import sys

import numpy as np
import pytest

from micrograd import engine, gradcheck, ops
from micrograd.config import Config
from micrograd.data import make_dataset
from micrograd.engine import Value
from micrograd.losses import KINKS, LOSSES
from micrograd.predict import layer_outputs
from micrograd.train import Interrupted, Trainer, flatten, unflatten

DATA = make_dataset("moons", 40, 0.1, 0)
REGRESSION = make_dataset("sine", 40, 0.1, 0)


def trained(epochs=5, data=DATA, **kw):
    """A trainer a few epochs into a run of a small network."""
    cfg = Config(**{"layers": [5, 4, 1], "activations": ["relu", "relu", "linear"], "epochs": 100, **kw})
    t = Trainer(cfg, data)
    for _ in range(epochs):
        t.step()
    return t


def at(trainer, weights):
    """A trainer of the same settings and data at `weights`."""
    return Trainer(trainer.cfg, trainer.train, weights=weights)


@pytest.mark.parametrize("engine_name", ["compiled", "value"])
@pytest.mark.parametrize("kw", [
    {},  # relu, hinge, L2
    {"l1": 1e-3, "l2": 0.0, "batch_size": 16},
    {"activations": ["tanh", "sigmoid", "linear"], "loss": "mse"},
    {"activations": ["leaky_relu", "silu", "linear"], "loss": "bce"},
    {"activations": ["sigmoid", "tanh", "tanh"], "loss": "sse"},
], ids=["relu-hinge", "l1-minibatch", "tanh-sigmoid-mse", "leaky-silu-bce", "tanh-out-sse"])
def test_a_healthy_network_passes_on_either_engine(engine_name, kw):
    t = trained(engine=engine_name, **kw)
    report = gradcheck.check_trainer(t)
    assert report.passed, report.verdict()
    assert report.engine == engine_name and len(report.index) == report.parameters == len(t.theta)
    assert report.samples == (16 if kw.get("batch_size") else len(DATA))
    assert [row.checked for row in report.layers] == [15, 24, 5]
    assert max(row.max_rel for row in report.layers) < 1e-6  # far inside the tolerance
    assert report.verdict().startswith("PASS")


def test_the_numbers_are_the_engine_gradient_and_central_differences():
    t = trained(l1=1e-3)
    X, Y = gradcheck.batch(t)
    report = gradcheck.check_trainer(t)
    _, grad, _ = t.objective(t.theta, X, Y)
    np.testing.assert_array_equal(report.analytic, grad)
    eps = gradcheck.EPS
    for i in (0, 7, 30, len(t.theta) - 1):
        up, down = t.theta.copy(), t.theta.copy()
        up[i] += eps
        down[i] -= eps
        numeric = (t.objective(up, X, Y, False)[0] - t.objective(down, X, Y, False)[0]) / (2 * eps)
        assert report.numeric[i] == numeric
    assert report.loss == t.objective(t.theta, X, Y, False)[0]


def test_the_check_leaves_the_weights_alone():
    t = trained()
    theta = t.theta.copy()
    gradcheck.check_trainer(t)
    np.testing.assert_array_equal(t.theta, theta)
    weights = t.weights()
    report = gradcheck.check(t.cfg, weights, DATA)
    np.testing.assert_array_equal(flatten(weights), theta)
    assert report.passed


def test_a_perturbed_gradient_fails_and_is_named(monkeypatch):
    t = trained()
    true = t.engine.loss_and_grad

    def off(by):
        def loss_and_grad(theta, X, Y, check=None):
            loss, grad, out = true(theta, X, Y, check)
            grad = grad.copy()
            grad[12] += by
            return loss, grad, out
        return loss_and_grad

    monkeypatch.setattr(t.engine, "loss_and_grad", off(1e-3))
    report = gradcheck.check_trainer(t)
    assert not report.passed and report.failed == 1
    assert report.index[report.worst] == 12 and report.layer[report.worst] == 0
    assert [row.failed for row in report.layers] == [1, 0, 0]
    assert report.verdict().startswith("FAIL: 1 of") and "parameter 12 in layer 1" in report.verdict()
    monkeypatch.setattr(t.engine, "loss_and_grad", off(1e-7))  # within atol: rounding, not a bug
    assert gradcheck.check_trainer(t).passed


def test_a_wrong_derivative_in_the_op_table_fails_the_compiled_engine(patch_op):
    tanh = ops.UNARY["tanh"]
    wrong = tanh._replace(derivative=lambda X, Y, out=None: np.multiply(1.01, tanh.derivative(X, Y), out=out))
    patch_op("tanh", wrong)
    t = trained(activations=["tanh", "tanh", "linear"], loss="mse")  # compiled from the wrong table
    report = gradcheck.check_trainer(t)
    assert not report.passed
    assert report.layers[0].failed > 0 and report.layers[2].failed == 0  # the output layer is linear


def test_a_wrong_derivative_fails_the_value_engine(monkeypatch):
    def sloppy(x):
        y, d = ops.UNARY["tanh"].scalar(x)
        return y, 1.01 * d
    monkeypatch.setattr(Value, "tanh", engine._unary("tanh", sloppy))
    t = trained(engine="value", activations=["tanh", "tanh", "linear"], loss="mse")
    report = gradcheck.check_trainer(t)
    assert not report.passed and report.layers[0].failed > 0


def on_kink(t, sample=0, unit=0):
    """t's weights with hidden unit `unit` of layer 1 exactly at relu's kink for `sample`."""
    weights = t.weights()
    W, b = weights[0]
    b[unit] = -float(W[unit] @ t.train.X[sample])
    return weights


def without_kinks(monkeypatch):
    monkeypatch.setattr(gradcheck, "straddles", lambda cfg, theta, X, Y, index, eps: np.zeros(len(index), bool))


def test_a_relu_at_its_kink_is_set_aside_not_failed(monkeypatch):
    t = trained(loss="mse")  # a smooth loss: the one kink is the relu's
    kinked = at(t, on_kink(t))
    report = gradcheck.check_trainer(kinked)
    assert report.passed, report.verdict()
    flagged = set(report.index[report.kink].tolist())
    assert {0, 1, 2} <= flagged  # the unit's weights and bias: their steps cross 0 for sample 0
    assert report.layers[0].kinks == len([i for i in flagged if i < 15])
    assert "next to a kink left out" in report.verdict()
    without_kinks(monkeypatch)  # the same differences judged as gradients: a spurious failure
    failed = gradcheck.check_trainer(kinked)
    assert not failed.passed and set(failed.index[~failed.ok].tolist()) <= flagged


def test_a_hinge_margin_at_its_kink_is_set_aside(monkeypatch):
    t = trained(activations=["tanh", "tanh", "linear"])  # smooth but for the hinge
    weights = t.weights()
    W, b = weights[-1]
    X, Y = gradcheck.batch(t)
    out = layer_outputs(weights, t.cfg.activations, X)[-1][1]
    b[0] += Y[0, 0] - out[0, 0]  # sample 0's output is its target: margin 1 - y out = 0
    kinked = at(t, weights)
    report = gradcheck.check_trainer(kinked)
    assert report.passed and report.kink.mean() > 0.9  # every parameter moves sample 0's output
    without_kinks(monkeypatch)
    assert not gradcheck.check_trainer(kinked).passed


def test_l1_at_zero_is_set_aside(monkeypatch):
    t = trained(activations=["tanh", "tanh", "linear"], loss="mse", l1=1e-2)
    weights = t.weights()
    weights[1][0][2, 3] = 3e-7  # within eps of |w|'s kink
    kinked = at(t, weights)
    i = 15 + 2 * 6 + 3  # layer 2 (5 inputs and a bias per neuron): neuron 2, input 3
    assert kinked.theta[i] == 3e-7
    report = gradcheck.check_trainer(kinked)
    assert report.passed and report.index[report.kink].tolist() == [i]
    without_kinks(monkeypatch)
    failed = gradcheck.check_trainer(kinked)
    assert failed.index[~failed.ok].tolist() == [i]


def test_straddles_agrees_with_a_forward_pass_per_step():
    t = trained(activations=["relu", "leaky_relu", "linear"], l1=1e-3)
    weights = on_kink(t, sample=3, unit=2)
    weights[1][1][1] = -float(layer_outputs(weights, t.cfg.activations, t.train.X)[0][1][5] @ weights[1][0][1])
    theta = flatten(weights)
    theta[20] = 1e-7
    X, Y = t.train.X, t.Y
    acts = t.cfg.activations
    expect = []
    for i in range(len(theta)):
        sides = []
        for s in (1, -1):
            moved = theta.copy()
            moved[i] += s * gradcheck.EPS
            outs = layer_outputs(unflatten(moved, t.cfg), acts, X)
            sides.append(np.concatenate([np.sign(Z).ravel() for (Z, _), a in zip(outs, acts) if ops.UNARY[a].kink is not None]
                                        + [np.sign(KINKS["hinge"](outs[-1][1], Y)).ravel(), np.sign(moved[i:i + 1])]))
        expect.append(bool((sides[0] != sides[1]).any()))
    got = gradcheck.straddles(t.cfg, theta, X, Y, np.arange(len(theta)))
    assert got.tolist() == expect and 0 < sum(expect) < len(theta)
    part = np.array([20, 3, 17, 40])  # any subset, in any order
    assert gradcheck.straddles(t.cfg, theta, X, Y, part).tolist() == [expect[i] for i in part]


def test_every_kink_is_in_the_tables():
    """An op whose derivative jumps names its kink in the op table; a loss whose per-sample
    graph goes through such an op is in losses.KINKS, with the kinked op's input."""
    for name, op in ops.UNARY.items():
        if name in ("log",):
            continue  # defined on x > 0 only
        for x in (-0.7, 0.0, 0.4) if op.kink is None else ():
            left, right = op.scalar(x - 1e-9)[1], op.scalar(x + 1e-9)[1]
            assert abs(left - right) < 1e-6, name
        if op.kink is not None:
            assert op.scalar(op.kink - 1e-9)[1] != op.scalar(op.kink + 1e-9)[1], name
    for name, (fn, _, targets) in LOSSES.items():
        out, y = 0.3, targets[1]
        root = fn([Value(out)], [y])
        nodes, _ = engine.walk(root)
        kinked = [v for v in nodes if v.op in ops.UNARY and ops.UNARY[v.op].kink is not None]
        assert bool(kinked) == (name in KINKS), name
        for v in kinked:
            assert v.parents[0].data == pytest.approx(KINKS[name](np.array(out), y))


def test_pick_spreads_a_sample_over_every_layer():
    cfg = Config(layers=[16, 16, 1], activations=["relu", "relu", "linear"])
    assert gradcheck.pick(cfg).tolist() == list(range(337))
    few = gradcheck.pick(cfg, 20)
    sizes = np.cumsum(gradcheck.layer_sizes(cfg))
    per_layer = np.bincount(np.searchsorted(sizes, few, side="right"), minlength=3)
    assert per_layer.tolist() == [3, 16, 1] and (np.diff(few) > 0).all()


def test_affordable_checks_everything_on_a_small_network_and_a_sample_on_a_big_one():
    assert gradcheck.affordable(trained()) is None
    big = Trainer(Config(layers=[64, 64, 1], activations=["relu", "relu", "linear"], engine="value"), DATA)
    count = gradcheck.affordable(big)
    assert 3 <= count < len(big.theta)
    assert count * len(big.theta) * len(DATA) <= gradcheck.WORK["value"]


def test_a_diverged_point_is_refused():
    t = trained()
    weights = t.weights()
    weights[0][0][0, 0] = np.inf
    with pytest.raises(ValueError, match="not finite"):
        gradcheck.check(t.cfg, weights, DATA)


def test_progress_reports_and_can_abandon_the_check():
    t = trained()
    seen = []
    gradcheck.check_trainer(t, 10, progress=seen.append)
    assert len(seen) == len(gradcheck.pick(t.cfg, 10)) and seen[-1] == 1.0 and seen == sorted(seen)

    def stop(fraction):
        if fraction > 0.5:
            raise Interrupted
    theta = t.theta.copy()
    with pytest.raises(Interrupted):
        gradcheck.check_trainer(t, progress=stop)
    np.testing.assert_array_equal(t.theta, theta)


def test_relative_error_reads_small_gradients_on_the_absolute_scale():
    assert gradcheck.relative_error(2.0, 1.0) == 0.5
    assert gradcheck.relative_error(1e-12, 3e-12) == pytest.approx(2e-12 / 0.01)
    assert math.isnan(gradcheck.relative_error(1.0, math.nan))


def test_the_checks_import_no_qt():
    code = ("import sys, micrograd.gradcheck, micrograd.health; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'microgradgui')]; "
            "assert not bad, bad")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def test_a_network_on_input_features_is_checked_on_its_features():
    """The check fed the data's x1, x2 to a network that takes x1, x2, x1² and x1·x2."""
    from micrograd.session import Session
    s = Session(Config(inputs=4, feature_map=["x1", "x2", "x1sq", "x1x2"], layers=[5, 1],
                       activations=["tanh", "linear"], loss="mse"))
    s.step()
    report = gradcheck.check_trainer(s.trainer)
    assert report.passed and report.parameters == 5 * 5 + 6


def test_a_check_on_the_value_engine_reports_within_each_pass_and_stops_there():
    """A pass of the Value engine over the whole batch at once built (and then freed, the GIL
    held) every sample's graph: a check must go a few samples at a time, so a cancel stops it
    mid-pass too."""
    t = trained(engine="value", layers=[32, 32, 1])
    forwards = []
    model_call = type(t.engine.model).__call__

    def counted(model, x):
        forwards.append(1)
        return model_call(model, x)

    def cancel(fraction):
        raise Interrupted
    per_pass = t.engine.per_check
    assert per_pass < len(DATA)  # else this network proves nothing
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(type(t.engine.model), "__call__", counted)
        with pytest.raises(Interrupted):
            gradcheck.check_trainer(t, progress=cancel)
    assert len(forwards) == per_pass
