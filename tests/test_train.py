"""The training loop: Trainer steps, stop reasons, divergence, determinism, summaries."""
import dataclasses
import math

import numpy as np
import pytest

from micrograd.data import CLASSIFICATION, DATASETS, make_dataset, split
from micrograd.config import ENGINES, Config
from micrograd.train import EXHAUSTED, STOPPED, TOLERANCE, Trainer, ValueEngine, unflatten, flatten, summarize


def config_for(ds, **kw):
    base = dict(inputs=ds.X.shape[1], layers=[6, 1], activations=["tanh", "linear"])
    if ds.task == "regression":
        base.update(loss="mse", lr=0.05, schedule="constant")
    base.update(kw)
    return Config(**base)


def run(trainer):
    while not trainer.done:
        trainer.step()
    return trainer.history


def no_elapsed(history):
    return [dataclasses.replace(e, elapsed=0.0) for e in history]


@pytest.mark.parametrize("name", DATASETS)
def test_every_builtin_dataset_trains(name):
    ds = make_dataset(name, 30, 0.1, 0)
    train, test = split(ds, 0.2, 0)
    t = Trainer(config_for(ds, epochs=3), train, test)
    hist = run(t)
    assert [e.epoch for e in hist] == [1, 2, 3]
    assert [e.stop for e in hist] == [None, None, EXHAUSTED]
    for e in hist:
        assert math.isfinite(e.train_loss) and math.isfinite(e.test_loss)
        assert e.train_metric is not None and e.test_metric is not None
        if name in CLASSIFICATION:
            assert 0.0 <= e.train_metric <= 1.0
    assert hist[-1].train_loss < hist[0].train_loss
    assert t.predict(test.X).shape == (len(test), 1)


def test_tolerance_stops_early():
    ds = make_dataset("gaussian", 40, 0.1, 0)
    t = Trainer(Config(tolerance=0.3, epochs=50), ds)
    hist = run(t)
    assert t.stop_reason == TOLERANCE == hist[-1].stop
    assert len(hist) < 50
    assert hist[-1].train_loss <= 0.3 < min(e.train_loss for e in hist[:-1])


def test_summary_without_tolerance():
    s = summarize([[dataclasses.replace(Trainer(Config(epochs=1), make_dataset("moons", 10)).step())]])
    assert s["converged"] == 0.0 and s["epochs_to_tolerance"] is None and s["test_loss"] is None


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy overflow inside the compiled engine
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name,lr", [("plane", 1000.0), ("sine", 10.0)])
def test_divergence_is_reported_and_parameters_stay_finite(name, lr, engine):
    ds = make_dataset(name, 20, 0.1, 0)
    t = Trainer(Config(inputs=ds.X.shape[1], layers=[4, 1], activations=["relu", "linear"], loss="mse",
                       optimizer="sgd", lr=lr, schedule="constant", epochs=100, engine=engine), ds)
    before = None
    while not t.done:
        before = t.theta.copy()
        e = t.step()
    assert e.stop == t.stop_reason == f"diverged at epoch {e.epoch}"
    assert e.epoch < 100
    assert not math.isfinite(e.train_loss) and e.train_metric is None
    assert np.isfinite(t.theta).all()
    assert np.array_equal(t.theta, before)  # the last finite parameters, untouched
    assert all(math.isfinite(h.train_loss) for h in t.history[:-1])
    with pytest.raises(RuntimeError, match="diverged"):
        t.step()


@pytest.mark.parametrize("engine", ENGINES)
def test_same_config_same_history_bit_for_bit(engine):
    ds = make_dataset("circles", 40, 0.1, 3)
    train, test = split(ds, 0.25, 3)
    cfg = Config(layers=[5, 5, 1], activations=["relu", "tanh", "linear"], batch_size=7, momentum=0.5,
                 bias_init="uniform", epochs=4, seed=11, engine=engine)
    a, b = Trainer(cfg, train, test), Trainer(Config.from_dict(cfg.to_dict()), train, test)
    run(a), run(b)
    assert no_elapsed(a.history) == no_elapsed(b.history)
    assert np.array_equal(a.theta, b.theta)
    c = Trainer(dataclasses.replace(cfg, seed=12), train, test)
    run(c)
    assert no_elapsed(c.history) != no_elapsed(a.history)


def test_mini_batch_steps_per_epoch():
    ds = make_dataset("moons", 40, 0.1, 0)
    full = Trainer(Config(epochs=2, schedule="constant", lr=0.1), ds)
    mini = Trainer(Config(epochs=2, schedule="constant", lr=0.1, batch_size=8), ds)
    run(full), run(mini)
    assert full.optimizer.t == 2 and mini.optimizer.t == 10
    assert all(math.isfinite(e.train_loss) for e in mini.history)
    assert not np.array_equal(full.theta, mini.theta)
    odd = Trainer(Config(epochs=1, batch_size=16), ds)  # 16 + 16 + 8
    odd.step()
    assert odd.optimizer.t == 3


def test_learning_rate_is_read_from_the_config_each_epoch():
    ds = make_dataset("moons", 20, 0.1, 0)
    cfg = Config(epochs=5, schedule="constant", lr=0.5, optimizer="sgd")
    t = Trainer(cfg, ds)
    t.step()
    cfg.lr = 0.01
    before = t.theta.copy()
    e = t.step()
    assert e.lr == 0.01
    np.testing.assert_array_equal(t.theta, before - 0.01 * t.grad)


def test_initial_weights_are_taken_when_they_fit():
    ds = make_dataset("moons", 20, 0.1, 0)
    cfg = Config(layers=[3, 1], activations=["relu", "linear"])
    w = [(np.full((3, 2), 0.5), np.arange(3.0)), (np.ones((1, 3)), np.zeros(1))]
    t = Trainer(cfg, ds, weights=w)
    for (W, b), (W2, b2) in zip(w, t.weights()):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)
    with pytest.raises(ValueError, match="do not fit"):
        Trainer(cfg, ds, weights=w[:1])
    with pytest.raises(ValueError, match="not finite"):
        Trainer(cfg, ds, weights=[(np.full((3, 2), np.nan), np.zeros(3)), w[1]])


def test_stop_between_steps():
    t = Trainer(Config(epochs=10), make_dataset("moons", 20))
    t.step(), t.step()
    t.stop()
    assert t.done and t.stop_reason == STOPPED == t.history[-1].stop
    assert len(t.history) == 2
    with pytest.raises(RuntimeError, match="stopped by the user"):
        t.step()
    t.stop()  # idempotent
    assert t.stop_reason == STOPPED


def test_weights_grads_and_flatten():
    ds = make_dataset("moons", 20)
    cfg = Config(layers=[3, 2, 1], activations=["relu", "sigmoid", "linear"], epochs=2)
    t = Trainer(cfg, ds)
    t.step()
    w = t.weights()
    assert [W.shape for W, _ in w] == [(3, 2), (2, 3), (1, 2)] and [b.shape for _, b in w] == [(3,), (2,), (1,)]
    assert np.array_equal(flatten(w), t.theta)
    assert all(np.array_equal(a, b) for (A, B), (C, D) in zip(unflatten(flatten(w), cfg), w)
               for a, b in ((A, C), (B, D)))
    grads = t.grads()
    assert [G.shape for G, _ in grads] == [W.shape for W, _ in w]
    np.testing.assert_array_equal(flatten(grads), t.grad)
    w[0][0][0, 0] = 123.0  # a copy
    assert t.weights()[0][0][0, 0] != 123.0


def test_bce_accuracy_uses_the_logit_threshold():
    # bce's output is a logit: class 1 when it is above 0, not above the 0.5 midpoint of its 0/1 targets.
    ds = make_dataset("moons", 60, 0.3, 1)
    cfg = Config(loss="bce", lr=0.3, schedule="constant", epochs=6)
    assert cfg.threshold == 0.0
    assert Config().threshold == 0.0
    assert Config(loss="mse", activations=["relu", "relu", "sigmoid"]).threshold == 0.5
    t = Trainer(cfg, ds)
    for _ in range(6):
        out = t.predict(ds.X)[:, 0]
        e = t.step()
        assert e.train_metric == np.mean((out > 0) == (ds.y > 0.5))


@pytest.mark.parametrize("engine", ENGINES)
def test_micrograd_demo_reaches_97_percent(engine):
    # moons, 100 points, noise 0.1; 2-16-16-1 relu/linear; hinge + 1e-4 L2; full batch;
    # SGD lr 1.0 -> 0.1 over 100 steps, micrograd's U(-1, 1) weights.
    cfg = Config(init="uniform", optimizer="sgd", lr=1.0, decay_steps=100, epochs=100)
    assert (cfg.layers, cfg.activations, cfg.loss, cfg.l2, cfg.batch_size, cfg.schedule, cfg.lr_end) == \
        ([16, 16, 1], ["relu", "relu", "linear"], "hinge", 1e-4, 0, "linear", 0.1)
    ds = make_dataset("moons", 100, 0.1, 0)
    t = Trainer(dataclasses.replace(cfg, engine=engine), ds)
    assert t.engine.name == engine
    hist = run(t)
    assert len(hist) == 100 and hist[-1].stop == EXHAUSTED
    assert hist[-1].train_metric >= 0.97
    final = np.mean((t.predict(ds.X)[:, 0] > 0) == (ds.y > 0.5))  # at the final parameters
    assert final >= 0.97
    assert hist[-1].lr == pytest.approx(0.109)  # 1.0 decayed linearly towards 0.1


@pytest.mark.parametrize("name", ["sine", "plane"])
def test_regression_r2_improves(name):
    ds = make_dataset(name, 40, 0.05, 0)
    t = Trainer(config_for(ds, layers=[8, 1], epochs=40), ds)
    hist = run(t)
    assert hist[-1].train_metric > hist[0].train_metric + 0.3
    assert hist[-1].train_metric > 0.5


def test_trainer_refuses_mismatched_data():
    with pytest.raises(ValueError, match="training.inputs: the network takes 2 inputs but the data has 1 features"):
        Trainer(Config(), make_dataset("sine", 10))


def test_bce_needs_a_linear_output():
    with pytest.raises(ValueError, match="training.loss: bce takes logits"):
        Config(loss="bce", activations=["relu", "relu", "sigmoid"]).validate()


def test_schedule_counts_epochs_whatever_the_batch_size():
    ds = make_dataset("moons", 40, 0.1, seed=1)
    rates = []
    for batch in (0, 7):
        t = Trainer(Config(batch_size=batch, epochs=3, decay_steps=10, lr=1.0), ds)
        rates.append([t.step().lr for _ in range(3)])
    assert rates[0] == rates[1] == [1.0 * (1 - 0.9 * k / 10) for k in range(3)]


def test_test_loss_is_measured_at_the_same_parameters_as_the_train_loss():
    ds = make_dataset("moons", 40, 0.1, seed=1)
    t = Trainer(Config(epochs=2), ds, ds)
    first = t.step()
    assert first.test_loss == pytest.approx(first.train_loss, rel=1e-12)


def test_hinge_refuses_a_sigmoid_output():
    with pytest.raises(ValueError, match="training.loss: hinge needs -1/\\+1 targets"):
        Config(loss="hinge", activations=["relu", "relu", "sigmoid"]).validate()


def test_sse_minibatch_loss_sums_the_batches():
    ds = make_dataset("sine", 40, 0.0, seed=1)
    cfg = dict(inputs=1, layers=[4, 1], activations=["tanh", "linear"], loss="sse", l2=0.0, lr=1e-6,
               schedule="constant", epochs=1)
    full = Trainer(Config(**cfg), ds).step().train_loss
    mini = Trainer(Config(batch_size=40, **cfg), ds).step().train_loss  # one batch of all: same number
    assert mini == pytest.approx(full, rel=1e-12)
    halves = Trainer(Config(batch_size=20, **cfg), ds).step().train_loss
    assert halves == pytest.approx(full, rel=1e-3)  # a sum over all samples, not a mean of sums


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("batch", [0, 7])
def test_an_interrupted_epoch_leaves_the_run_as_it_was(engine, batch):
    """check() raising Interrupted mid-epoch (a pause on a slow network) abandons the epoch:
    parameters, optimizer state and batch order are as before, and the next step is the very
    step an uninterrupted run takes."""
    from micrograd.train import Interrupted
    ds = make_dataset("moons", 40, 0.1, 0)
    train, test = split(ds, 0.25, 0)
    cfg = Config(layers=[16, 16, 1], activations=["relu", "relu", "linear"], optimizer="adam", lr=0.01,
                 batch_size=batch, epochs=10, engine=engine)
    a, b = Trainer(cfg, train, test), Trainer(cfg, train, test)
    a.step(), b.step()
    before = (a.theta.copy(), a.optimizer.t, a.shuffle.getstate(), a.epoch, len(a.history))
    quiet = lambda fraction: None  # noqa: E731 - with a check the Value engine works in pieces: b does too
    fractions = []

    def interrupt(fraction):
        fractions.append(fraction)
        if fraction > 0.5:
            raise Interrupted
    with pytest.raises(Interrupted):
        a.step(interrupt)
    assert (a.theta.tolist(), a.optimizer.t, a.shuffle.getstate(), a.epoch, len(a.history)) == \
        (before[0].tolist(), *before[1:])
    assert fractions == sorted(fractions) and 0 < fractions[-1] <= 1
    seen = []
    e = a.step(seen.append)
    assert no_elapsed([e]) == no_elapsed([b.step(quiet)]) and np.array_equal(a.theta, b.theta)
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_the_value_engine_in_pieces_gives_the_same_gradient():
    ds = make_dataset("circles", 50, 0.1, 0)
    for loss in ("hinge", "sse"):
        cfg = Config(layers=[8, 8, 1], activations=["tanh", "relu", "linear"], loss=loss, engine="value")
        whole, pieces = Trainer(cfg, ds), Trainer(cfg, ds)
        pieces.engine.per_check = 3  # 17 pieces of 3 samples (and one of 2)
        calls = []
        l1, g1, o1 = whole.engine.loss_and_grad(whole.theta, whole.train.X, whole.Y)
        l2, g2, o2 = pieces.engine.loss_and_grad(pieces.theta, pieces.train.X, pieces.Y, calls.append)
        assert len(calls) == 17 and calls[-1] == 1.0
        np.testing.assert_allclose(l2, l1, rtol=1e-13)
        np.testing.assert_allclose(g2, g1, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(o2, o1)


@pytest.mark.parametrize("engine", ENGINES)
def test_runaway_weights_are_a_divergence(engine):
    """At lr 1000 the weights run to 1e13-1e25 while a hinge loss can stay finite (even 0): a
    run whose parameters pass MAX_PARAMETER is stopped as diverged, with the last ones that did not."""
    from micrograd.train import MAX_PARAMETER
    ds = make_dataset("moons", 40, 0.1, 0)
    t = Trainer(Config(optimizer="sgd", lr=1000.0, schedule="constant", epochs=200, engine=engine), ds)
    with np.errstate(all="ignore"):
        run(t)
    assert t.stop_reason.startswith("diverged") and t.epoch < 200
    assert np.abs(t.theta).max() <= MAX_PARAMETER


def test_reference_engine_overflow_on_the_test_set_is_a_divergence():
    """The Value engine raises OverflowError ((o - y)**2 of an output near 1e200); on the test
    pass that was returned as three values where two were unpacked: 'too many values to unpack'."""
    ds = make_dataset("plane", 40, 0.1, 0)
    train, test = split(ds, 0.25, 0)
    cfg = Config(layers=[2, 1], activations=["linear", "linear"], loss="mse", engine="value")
    huge = [(np.full((2, 2), 1e100), np.zeros(2)), (np.full((1, 2), 1e100), np.zeros(1))]
    t = Trainer(cfg, train, test, weights=huge)
    e = t.step()
    assert e.stop == "diverged at epoch 1" and e.test_loss == math.inf and e.train_metric is None


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_features_of_1e300_diverge_quietly(optimizer, recwarn):
    """A CSV with features near 1e300: Adam squared the gradient (a numpy overflow warning on
    stderr) and the run ended 'epochs exhausted' at a loss of 1.9e299. A gradient that large is
    a divergence, on the first epoch, with no warning."""
    from micrograd.data import Dataset
    rng = np.random.default_rng(0)
    y = np.arange(40) % 2.0
    ds = Dataset(rng.random((40, 2)) * 1e300 + y[:, None] * 1e300, y, "classification", ["a", "b"], "y", {})
    t = Trainer(Config(optimizer=optimizer, epochs=20), ds)
    run(t)
    assert t.stop_reason == "diverged at epoch 1"
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_gc_paused_holds_the_collector_off_until_the_last_thread_leaves():
    """Training and a gradient check run engines in two threads: the one that ends first must
    not turn the collector back on under the other."""
    import gc
    import threading
    from micrograd.train import gc_paused
    inside, leave = threading.Event(), threading.Event()

    def other():
        with gc_paused():
            inside.set()
            leave.wait(10)
    assert gc.isenabled()
    with gc_paused():
        thread = threading.Thread(target=other)
        thread.start()
        inside.wait(10)
    assert not gc.isenabled()  # the other thread is still in its block
    leave.set()
    thread.join()
    assert gc.isenabled()


def test_measure_goes_through_the_compiled_engine_whatever_the_runs(monkeypatch):
    """`measure` runs on the window's thread after every point placed or weight set by hand:
    through the Value engine an 8x64 network took 1.5 s. The compiled engine gives the same
    loss to rounding."""
    cfg = Config(layers=[6, 4, 1], activations=["tanh", "relu", "linear"], engine="value", l2=1e-3)
    t = Trainer(cfg, make_dataset("moons", 40, seed=2), make_dataset("moons", 10, seed=3))
    t.step()
    reference = (t._guarded(False, t.X, t.Y)[0], t._guarded(False, t.Xtest, t.Ytest)[0])
    monkeypatch.setattr(ValueEngine, "loss", lambda *a, **k: pytest.fail("measured by the Value engine"))
    train_loss, train_acc, test_loss, test_acc = t.measure()
    assert train_loss == pytest.approx(reference[0], rel=1e-12) and test_loss == pytest.approx(reference[1], rel=1e-12)
    assert 0.0 <= train_acc <= 1.0 and 0.0 <= test_acc <= 1.0
