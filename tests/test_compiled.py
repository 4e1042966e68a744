"""The compiled engine against the `Value` engine: same losses, gradients, outputs, histories.

Tolerance: relative 1e-12, plus an absolute 1e-12 x (largest magnitude in the
compared array). Both engines add the same terms in different orders (BLAS dot
products and numpy's pairwise sums vs Python's left-to-right), so each entry
differs by a few ulps *of the terms it sums*. A gradient entry that is a small
difference of large terms (a weight whose per-sample contributions cancel)
therefore has an error relative to the array's scale, not to its own size;
a purely relative check would fail on cancellation, not on a wrong gradient.
"""
import collections
import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from micrograd import Value, dot
from micrograd.compiled import CompiledEngine, Program, Unsupported
from micrograd.data import make_dataset, split
from micrograd.losses import LOSSES, objective
from micrograd.nn import ACTIVATIONS, MLP, Module
from micrograd.config import ENGINES, Config
from micrograd.ops import UNARY
from micrograd.train import Trainer, ValueEngine, make_engine

RTOL = 1e-12


def close(a, b, rtol=RTOL):
    """Equal to rounding. A gradient of 1e-7 can be the difference of terms of order 1 (bce on a
    saturated sigmoid), so the absolute slack is never below rtol, whatever the result's size."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(scale, 1.0))


def batch(cfg, n, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    X = scale * rng.normal(size=(n, cfg.inputs))
    neg, pos = cfg.targets()
    Y = np.where(rng.random((n, 1)) > 0.5, pos, neg) if cfg.loss != "mse" or seed % 2 else rng.normal(size=(n, 1))
    return X, Y


def both(cfg, model=None):
    model = model or cfg.model()
    theta = np.array([p.data for p in model.parameters()])
    return ValueEngine(model, cfg), CompiledEngine(model, cfg), theta


def assert_same(cfg, X, Y, model=None, theta=None):
    ref, comp, theta0 = both(cfg, model)
    theta = theta0 if theta is None else theta
    l0, g0, o0 = ref.loss_and_grad(theta, X, Y)
    l1, g1, o1 = comp.loss_and_grad(theta, X, Y)
    close(l1, l0)
    close(g1, g0)
    close(o1, o0)
    assert o1.shape == o0.shape == (len(X), 1)
    l2, o2 = comp.loss(theta, X, Y)
    close(l2, l0)
    close(o2, o0)
    return comp


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_every_activation_and_loss(act, loss):
    cfg = Config(inputs=3, layers=[5, 4, 1], activations=[act, act, act], loss=loss, l2=1e-3, l1=2e-3,
                 bias_init="uniform")
    X, Y = batch(cfg, 11)
    assert_same(cfg, X, Y)


@pytest.mark.parametrize("n", [1, 2, 4, 7, 64, 257])
def test_every_batch_size(n):
    cfg = Config(inputs=2, layers=[16, 16, 1], activations=["relu", "relu", "linear"], loss="hinge", l2=1e-4)
    X, Y = batch(cfg, n, seed=n)
    assert_same(cfg, X, Y)


def test_big_batches_run_in_chunks():
    cfg = Config(inputs=2, layers=[6, 1], activations=["tanh", "linear"], loss="mse", l2=0.01, l1=0.01)
    X, Y = batch(cfg, 103)
    ref, comp, theta = both(cfg)
    comp.chunk = 10  # 11 chunks, the last one of 3
    l0, g0, o0 = ref.loss_and_grad(theta, X, Y)
    l1, g1, o1 = comp.loss_and_grad(theta, X, Y)
    close(l1, l0), close(g1, g0), close(o1, o0)
    close(comp.loss(theta, X, Y)[0], l0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nin=st.integers(1, 5), sizes=st.lists(st.integers(1, 7), min_size=0, max_size=3),
       acts=st.lists(st.sampled_from(ACTIVATIONS), min_size=4, max_size=4),
       loss=st.sampled_from(sorted(LOSSES)), n=st.integers(1, 20), seed=st.integers(0, 2**16),
       l1=st.sampled_from([0.0, 0.01]), l2=st.sampled_from([0.0, 1e-3]), bias=st.sampled_from(["zero", "uniform"]))
def test_random_networks(nin, sizes, acts, loss, n, seed, l1, l2, bias):
    layers = [*sizes, 1]
    cfg = Config(inputs=nin, layers=layers, activations=acts[:len(layers)], loss=loss, l1=l1, l2=l2,
                 bias_init=bias, seed=seed)
    X, Y = batch(cfg, n, seed=seed, scale=2.0)
    assert_same(cfg, X, Y)


# -- models beyond the MLP: shared weights, permuted inputs, repeated rows ------------------

class Odd(Module):
    """Neurons sharing weights and reading their inputs in different orders: gathers, np.add.at."""

    def __init__(self):
        r = np.random.default_rng(3)
        self.nin = 3
        self.w = [Value(v) for v in r.uniform(-1, 1, 3)]
        self.b = [Value(v) for v in r.uniform(-1, 1, 3)]
        self.v = [Value(v) for v in r.uniform(-1, 1, 3)]
        self.c = Value(0.1)

    def __call__(self, x):
        h = [dot(self.w, x, self.b[0]).tanh(), dot(self.w, x, self.b[1]).relu(), dot(self.w, x, self.b[0])]
        h2 = [h[2], h[0], h[1]]  # read in another order than laid out
        z = dot(self.v, h2, self.c)
        z2 = dot([self.v[0], self.v[0], self.v[1]], [h[1], h[1], h[0]], self.c)  # repeated input row, weight
        return [(z + z2 * 0.5 + h[0] * h[0]).sigmoid()]

    def parameters(self):
        return self.w + self.b + self.v + [self.c]


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_shared_weights_and_permuted_inputs(loss):
    cfg = Config(inputs=3, layers=[3, 1], activations=["tanh", "linear"], loss=loss, l2=1e-2)
    X, Y = batch(cfg, 9)
    assert_same(cfg, X, Y, model=Odd())


class EveryOp(Module):
    """Three neurons, op `name` of the table on each (log on a positive square), then a sum neuron."""

    def __init__(self, name):
        r = np.random.default_rng(7)
        self.nin, self.name = 2, name
        self.w = [[Value(v) for v in r.uniform(-1, 1, 2)] for _ in range(3)]
        self.b = [Value(v) for v in r.uniform(-1, 1, 3)]
        self.v = [Value(v) for v in r.uniform(-1, 1, 3)]
        self.c = Value(0.1)

    def __call__(self, x):
        h = [dot(w, x, b) for w, b in zip(self.w, self.b)]
        if self.name == "log":
            h = [z * z + 0.5 for z in h]
        return [dot(self.v, [getattr(z, self.name)() for z in h], self.c)]

    def parameters(self):
        return [p for w in self.w for p in w] + self.b + self.v + [self.c]


@pytest.mark.parametrize("name", UNARY)
def test_every_table_op_compiles(name):
    cfg = Config(inputs=2, layers=[3, 1], activations=["tanh", "linear"], loss="mse")
    X, Y = batch(cfg, 13, scale=2.0)
    comp = assert_same(cfg, X, Y, model=EveryOp(name))
    assert f"{name}_forward(" in comp.program.source and f"{name}_derivative(" in comp.program.source


def test_engines_give_the_data_loss_and_the_trainer_adds_the_penalty_once():
    ds = make_dataset("moons", 30, seed=4)
    base = dict(inputs=2, layers=[5, 1], activations=["tanh", "linear"], loss="mse", bias_init="uniform")
    for engine in ENGINES:
        plain, penalized = (Config(**base, engine=engine, l1=l1, l2=l2) for l1, l2 in ((0, 0), (0.03, 0.2)))
        theta = np.array([p.data for p in plain.model().parameters()])
        a = make_engine(plain.model(), plain).loss_and_grad(theta, ds.X, ds.y[:, None])
        b = make_engine(penalized.model(), penalized).loss_and_grad(theta, ds.X, ds.y[:, None])
        assert a[0] == b[0] and np.array_equal(a[1], b[1])
        t = Trainer(penalized, ds)
        t.step()
        model = penalized.model()
        ys = [[1.0 if y > 0.5 else -1.0] for y in ds.y]  # mse's class targets
        want = objective(model, ds.X.tolist(), ys, "mse", 0.03, 0.2)
        want.backward()
        assert t.history[0].train_loss == pytest.approx(want.data, rel=1e-13)
        close(t.grad, [p.grad for p in model.parameters()])


class Loose(MLP):
    """An MLP that also multiplies its output by a parameter: not a neuron's weighted sum."""

    def __init__(self):
        super().__init__(2, [3, 1], seed=0)
        self.gain = Value(2.0)

    def __call__(self, x):
        return super().__call__(x) * self.gain

    def parameters(self):
        return super().parameters() + [self.gain]


def test_unsupported_models_fall_back_and_say_why():
    cfg = Config(inputs=2, layers=[3, 1], activations=["relu", "linear"])
    with pytest.raises(Unsupported, match="outside a weighted sum"):
        CompiledEngine(Loose(), cfg)
    engine = make_engine(Loose(), cfg)
    assert isinstance(engine, ValueEngine)
    assert "outside a weighted sum" in engine.fallback_reason
    ok = make_engine(cfg.model(), cfg)
    assert isinstance(ok, CompiledEngine) and ok.fallback_reason is None
    assert make_engine(cfg.model(), dataclasses.replace(cfg, engine="value")).fallback_reason is None


def test_the_compiled_engine_is_the_default():
    assert ENGINES[0] == "compiled" and "value" in ENGINES
    assert Config().engine == "compiled"
    Config(engine="value").validate()


def test_layers_fuse_into_one_matmul_each_and_blocks_are_views():
    cfg = Config(inputs=2, layers=[16, 16, 1], activations=["relu", "relu", "linear"], loss="hinge")
    prog = Program(cfg.model(), "hinge")
    ops = [line.split(": ")[1] for line in prog.describe()]
    assert ops.count("dot x16") == 2 and ops.count("dot x1") == 1 and ops.count("relu x16") == 2
    # every layer reads the previous one as a view (no gathers), and every theta block is a view
    assert "np.take" not in prog.source and "add.at" not in prog.source and "theta_grad[" not in prog.source
    assert prog.source.count("np.matmul") == 3 + 3 + 2  # forward, dW per layer, dX for hidden inputs


def test_no_recompilation_per_step_and_buffers_per_batch_size():
    cfg = Config(inputs=2, layers=[4, 1], activations=["tanh", "linear"], loss="mse", batch_size=8,
                 lr=0.05)  # trains (at lr 1 it diverges)
    ds = make_dataset("moons", 40, seed=1)
    t = Trainer(cfg, ds)
    prog = t.engine.program
    for _ in range(5):
        t.step()
    assert t.engine.program is prog and set(prog._bound) == {8}


@pytest.mark.parametrize("opt", [dict(optimizer="sgd"), dict(optimizer="sgd", momentum=0.9),
                                 dict(optimizer="adam", lr=0.01)])
@pytest.mark.parametrize("setup", [
    dict(layers=[8, 8, 1], activations=["relu", "relu", "linear"], loss="hinge", l2=1e-4),
    dict(layers=[6, 1], activations=["tanh", "tanh"], loss="mse", l1=1e-3, batch_size=7),
    dict(layers=[5, 1], activations=["sigmoid", "linear"], loss="bce", batch_size=16),
    dict(layers=[4, 4, 1], activations=["tanh", "tanh", "tanh"], loss="sse", lr=0.05, schedule="constant"),
])
def test_training_histories_match(setup, opt):
    ds = make_dataset("moons", 60, seed=2)
    train, test = split(ds, 0.25, seed=2)
    runs = {}
    for engine in ENGINES:
        # micrograd's init: with Xavier's smaller weights the L1 setup at lr 0.5 and momentum 0.9
        # bounces, and a 1-ulp difference flips sign(w) of a weight near 0 (chaos, not a bug)
        cfg = Config(epochs=12, seed=5, engine=engine, init="uniform", **{**dict(lr=0.5), **setup, **opt})
        t = Trainer(cfg, train, test)
        assert t.engine.name == engine
        while not t.done:
            t.step()
        runs[engine] = t
    a, b = runs["compiled"], runs["value"]
    assert len(a.history) == len(b.history)
    for key in ("train_loss", "test_loss", "train_metric", "test_metric"):
        close([getattr(e, key) for e in a.history], [getattr(e, key) for e in b.history], 1e-11)
    close(a.theta, b.theta, 1e-11)
    close(a.grad, b.grad, 1e-11)


def test_a_diverging_run_stops_quietly(recwarn):
    cfg = Config(layers=[8, 1], activations=["relu", "linear"], loss="mse", optimizer="sgd", lr=1e3, epochs=50)
    t = Trainer(cfg, make_dataset("moons", 50, seed=0))
    while not t.done:
        t.step()
    assert t.stop_reason.startswith("diverged") and np.isfinite(t.theta).all()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_engines_for_the_same_shape_share_one_compiled_program():
    """A Reset, a new seed or the next run of an evals session compiles nothing again; engines
    sharing a program still give each its own numbers (theta is copied in on every call)."""
    ds = make_dataset("moons", 30, seed=4)
    cfg = Config(layers=[7, 5, 1], activations=["tanh", "relu", "linear"])
    a, b = Trainer(cfg, ds), Trainer(dataclasses.replace(cfg, seed=9), ds)
    assert a.engine.program is b.engine.program
    assert Trainer(dataclasses.replace(cfg, loss="mse"), ds).engine.program is not a.engine.program
    for t in (a, b, a):
        reference = ValueEngine(t.model, t.cfg).loss_and_grad(t.theta, t.train.X, t.Y)
        got = t.engine.loss_and_grad(t.theta, t.train.X, t.Y)
        close(got[0], reference[0], 1e-12)
        close(got[1], reference[1], 1e-12)


def test_an_mlp_compiles_on_first_use_not_in_the_constructor(monkeypatch):
    """A new network's program is built by the thread that trains it (8 x 64: 0.2-0.4 s),
    not by the window's thread that makes the Trainer on every setting that restarts a run."""
    from micrograd.compiled import engine as engine_module
    built = []
    real = engine_module.Program
    monkeypatch.setattr(engine_module, "Program", lambda *a: built.append(1) or real(*a))
    monkeypatch.setattr(engine_module, "_PROGRAMS", collections.OrderedDict())
    cfg = Config(inputs=2, layers=[5, 3, 1], activations=["silu", "tanh", "linear"], loss="mse")
    trainer = Trainer(cfg, make_dataset("moons", 20, seed=0))
    assert built == []
    trainer.step()
    assert built == [1]
    Trainer(cfg, make_dataset("moons", 20, seed=1)).step()  # the same shape: no second compile
    assert built == [1]


def test_a_compile_calls_check_every_few_milliseconds_and_stops_where_it_raises(monkeypatch):
    """A new network's first step compiles its program (8 x 64: 0.1-0.4 s) with no check point:
    a Pause, Reset or Import waited for the compile to end with the window frozen (a soak's
    longest gaps, 210-250 ms, each an 8 x 64 Step followed by an Import)."""
    from micrograd.compiled import engine as engine_module
    from micrograd.train import Interrupted
    monkeypatch.setattr(engine_module, "_PROGRAMS", collections.OrderedDict())
    cfg = Config(inputs=2, layers=[64] * 8 + [1], activations=["tanh"] * 8 + ["linear"], loss="mse")
    t = Trainer(cfg, make_dataset("moons", 20, seed=0))
    X, Y = t.train.X[:1], t.Y[:1]  # one sample: one chunk, so every check is the compile's
    seen = []
    t.engine.loss_and_grad(t.theta, X, Y, seen.append)
    assert len(seen) >= 10 and set(seen) == {0.0}

    def stop(fraction):
        raise Interrupted
    monkeypatch.setattr(engine_module, "_PROGRAMS", collections.OrderedDict())
    t = Trainer(cfg, make_dataset("moons", 20, seed=0))
    with pytest.raises(Interrupted):
        t.engine.loss_and_grad(t.theta, X, Y, stop)
    assert t.engine._program is None and not engine_module._PROGRAMS  # nothing half-built is kept
    assert np.isfinite(t.engine.loss_and_grad(t.theta, X, Y)[0])  # it compiles the next time


def test_a_compile_holds_no_lock_while_it_checks(monkeypatch):
    """A check may wait (for the window's turn, a frame's gate): the program cache's lock held
    meanwhile made the window's own call for a program (`Trainer.measure`) wait with it."""
    from micrograd.compiled import engine as engine_module
    monkeypatch.setattr(engine_module, "_PROGRAMS", collections.OrderedDict())
    cfg = Config(inputs=2, layers=[4, 1], activations=["tanh", "linear"], loss="mse")
    t = Trainer(cfg, make_dataset("moons", 20, seed=0))
    free = []

    def check(fraction):
        free.append(engine_module._PROGRAMS_LOCK.acquire(blocking=False))
        if free[-1]:
            engine_module._PROGRAMS_LOCK.release()
    t.engine.loss_and_grad(t.theta, t.train.X[:1], t.Y[:1], check)
    assert free and all(free)
    assert Trainer(cfg, make_dataset("moons", 20, seed=1)).engine.program is t.engine.program  # kept for the shape
