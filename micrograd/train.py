"""The training loop: one run of one configuration, one epoch per `step()`.

`Trainer` trains one run, so a caller (a `Session`, which repeats a configuration
over seeds, the command line, a worker thread in the window) can stop or pause
between any two epochs. Parameters live in a flat numpy vector `theta`; an
engine turns (theta, batch) into (loss, gradient, outputs), and the optimizer
updates theta in place.
"""
import dataclasses
import gc
import math
import random
import threading
import time
from contextlib import contextmanager

import numpy as np

from . import features
from .history import Epoch, History, Tape
from .engine import total
from .losses import LOSSES, penalty
from .nn import as_list
from .optim import OPTIMIZERS, Schedule

# A run whose parameters pass this in magnitude has diverged, whatever its loss says (a hinge
# loss can be 0 with weights of 1e25): no data set of ordinary scale needs such weights.
MAX_PARAMETER = 1e8
# Nor does any need a gradient past this: its square (Adam's second moment) overflows from ~1e154.
MAX_GRADIENT = 1e150

# Stop reasons, as shown to the user.
TOLERANCE = "tolerance reached"
EXHAUSTED = "epochs exhausted"
STOPPED = "stopped by the user"


_paused_lock = threading.Lock()
_paused = 0             # gc_paused blocks running now, in every thread; under _paused_lock
_was_enabled = False    # the collector's state when the first of them began


@contextmanager
def gc_paused():
    """Hold the cyclic collector off: a step's graphs are acyclic and freed by reference
    counting, so the collector would only walk them, pausing the GUI for nothing.

    The collector is the process's, and two threads may run an engine at once (training and a
    gradient check): the blocks are counted, and the last one to end turns it back on. (Each
    restoring what it found let one thread turn it on under the other's half-built graphs:
    collections of 5-7 ms each, GIL held, in the middle of the window's frames.)"""
    global _paused, _was_enabled
    with _paused_lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _paused_lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()


class Interrupted(Exception):
    """Raised by a `check` callback (see `Trainer.step`) to abandon the epoch in progress."""


class ValueEngine:
    """The reference engine: builds the `Value` graph of every sample, every step.

    Like every engine it gives the data loss; the Trainer adds the penalties on theta. With a
    `check` callback it builds and back-propagates the batch a few samples at a time (the
    gradients add up across the pieces to the whole batch's), calling check(fraction done)
    in between, so a caller can report progress or abandon a long step.
    """

    name = "value"
    fallback_reason = None
    WORK_PER_CHECK = 4096  # parameters x samples between two checks: ~10 ms of graph

    def __init__(self, model, cfg):
        self.model, self.cfg = model, cfg
        self.params = model.parameters()
        self.per_check = max(1, self.WORK_PER_CHECK // len(self.params))

    def _run(self, theta, X, Y, want_grad, check):
        for p, v in zip(self.params, theta.tolist()):
            p.data = v
        fn, reduce, _ = LOSSES[self.cfg.loss]
        n = len(X)
        size = self.per_check if check is not None else n
        X, Y, loss, outs = X.tolist(), Y.tolist(), 0.0, []
        if want_grad:
            self.model.zero_grad()
        for start in range(0, n, size):
            piece = [as_list(self.model(x)) for x in X[start:start + size]]
            obj = total(fn(o, y) for o, y in zip(piece, Y[start:start + size]))
            if reduce == "mean":
                obj = obj * (1.0 / n)
            if want_grad:
                obj.backward()  # the leaves' grads add up over the pieces
            loss += obj.data
            outs.extend([o.data for o in out] for out in piece)
            if check is not None:
                check(min(start + size, n) / n)
        return loss, np.array(outs)

    def loss(self, theta, X, Y, check=None):
        """(data loss, outputs (n, outputs)) at theta, no gradient."""
        with gc_paused():
            return self._run(theta, X, Y, False, check)

    def loss_and_grad(self, theta, X, Y, check=None):
        """(data loss, d loss / d theta, outputs) at theta."""
        with gc_paused():
            loss, outs = self._run(theta, X, Y, True, check)
            return loss, np.array([p.grad for p in self.params]), outs


def make_engine(model, cfg):
    """The engine cfg.engine names. The compiled one falls back to the `Value` engine
    for what it cannot compile; `engine.fallback_reason` then says why (else None)."""
    if cfg.engine == "compiled":
        from .compiled import CompiledEngine, Unsupported
        try:
            return CompiledEngine(model, cfg)
        except Unsupported as e:
            engine = ValueEngine(model, cfg)
            engine.fallback_reason = f"compiled engine unavailable, using the reference engine: {e}"
            return engine
    return ValueEngine(model, cfg)


def metric(task, outputs, y, threshold):
    """Accuracy (classification: class 1 where the output is above `threshold`) or R^2."""
    if len(y) == 0:
        return None
    out = outputs[:, 0]
    if task == "classification":  # count_nonzero: a third of np.mean's time, and this runs twice an epoch
        return np.count_nonzero((out > threshold) == (y > 0.5)) / len(y)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum((y - out) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0


class Trainer:
    """One run: `step()` trains one epoch and returns its `Epoch`; `done` once it stopped."""

    def __init__(self, cfg, train, test=None, run=0, weights=None, past=()):
        """`cfg` is read live: a learning rate, an epoch budget or a tolerance changed on it
        between steps applies from the next step. `weights`: per-layer (W, b) to start from
        instead of the ones drawn from the seed (an imported model); `past`: the Epochs that
        led there (the run goes on from the last one: its epoch count, time and stop reason)."""
        cfg.validate()
        self.cfg, self.run, self.task = cfg, run, train.task
        self.seed = cfg.seed + run
        self.model = cfg.model(self.seed)
        self.engine = make_engine(self.model, cfg)
        self._compiled = None  # a compiled engine for `measure`, when the run's is the Value engine
        self.theta = np.array([p.data for p in self.model.parameters()])
        if weights is not None:
            theta = flatten(weights)
            if theta.shape != self.theta.shape or not np.isfinite(theta).all():
                raise ValueError(f"the weights do not fit the network {cfg.inputs}-"
                                 f"{'-'.join(map(str, cfg.layers))} (or are not finite)")
            self.theta = theta
        self.grad = np.zeros_like(self.theta)
        self._backup = np.empty_like(self.theta)
        self.optimizer = OPTIMIZERS[cfg.optimizer](
            lr=cfg.lr, schedule=Schedule(cfg.schedule, cfg.lr_end, cfg.decay_steps),
            **({"momentum": cfg.momentum} if cfg.optimizer == "sgd" else {}))
        self.targets = cfg.targets()  # (negative, positive) class targets
        self.threshold = cfg.threshold
        self.use_data(train, test)
        self.shuffle = random.Random(self.seed)
        self.epoch, self.elapsed, self.stop_reason = 0, 0.0, None
        self.history = History(run)
        for e in past:
            self.history.append(e)
        if past:
            self.epoch, self.elapsed, self.stop_reason = past[-1].epoch, past[-1].elapsed or 0.0, past[-1].stop
        self.tape = Tape(len(self.theta), self.epoch)  # the weights to rewind to
        self.tape.record(self.epoch, self.theta, self.grad, past[-1] if past else None)

    def use_data(self, train, test=None):
        """Train on these points from the next epoch on (points placed by hand change while the
        run goes on): the same task and inputs, any number of points (Session.can_step refuses
        to step on none)."""
        self.cfg.check_inputs(train.X.shape[1])
        if train.task != self.task:
            raise ValueError(f"the run is {self.task}; the data is {train.task}")
        self.train, self.test = train, test if test is not None and len(test) else None
        # The network's inputs, computed once: the data's own, or the features of cfg.feature_map.
        self.X = features.apply(self.cfg.feature_map, train.X)
        self.Xtest = features.apply(self.cfg.feature_map, self.test.X) if self.test else None
        self.Y = self._targets(train)
        self.Ytest = self._targets(self.test) if self.test else None

    def _targets(self, ds):
        y = ds.y
        if self.task == "classification":
            neg, pos = self.targets
            y = np.where(y > 0.5, pos, neg)
        return y.reshape(-1, 1)

    @property
    def done(self):
        return self.stop_reason is not None

    def resume(self):
        """Let a run that stopped at its budget or tolerance go on (its settings changed)."""
        if self.stop_reason in (EXHAUSTED, TOLERANCE):
            self.stop_reason = None

    def stop(self):
        if not self.done:
            self.stop_reason = STOPPED
            if self.history:
                self.history.replace_last(dataclasses.replace(self.history[-1], stop=STOPPED))

    def step(self, check=None):
        """Train one epoch (one optimizer step per batch) and return what it measured.

        The test loss and metric are at the parameters the epoch started
        from, and so are the train ones with a full batch: the train loss
        comes free with the forward pass, and the two stay comparable. With
        mini-batches the train loss combines the batches' as the loss does
        its samples: their mean for a mean loss, their sum for `sse`.

        `check(fraction)`, if given, is called every few samples with the share of the epoch
        done; it may raise `Interrupted`, which abandons the epoch: the run is left exactly as
        it was before it (parameters, optimizer, batch order), and the exception goes on.
        """
        if self.done:
            raise RuntimeError(f"the run has ended: {self.stop_reason}")
        if not len(self.train):
            raise ValueError("there are no training points")
        if check is None:
            return self._step(None)
        saved = (self.theta.copy(), self.grad, self.shuffle.getstate(),
                 {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in vars(self.optimizer).items()})
        try:
            return self._step(check)
        except Interrupted:
            self.theta[:], self.grad, state, optimizer = saved
            self.shuffle.setstate(state)
            vars(self.optimizer).update(optimizer)
            raise

    def _step(self, check):
        t0 = time.perf_counter()
        n = len(self.train)
        tested = len(self.test) if self.test is not None else 0
        work = tested + n  # samples this epoch runs: the test set first, then the training set

        def part(done, size):  # check(), with a call's own fraction as a share of the epoch
            if check is None:
                return None
            return lambda f: check((done + f * size) / work)

        test_loss = test_metric = None
        if self.test is not None:
            test_loss, _, test_out = self._guarded(False, self.Xtest, self.Ytest, part(0, tested))
            test_metric = None if test_out is None else metric(self.task, test_out, self.test.y, self.threshold)
            if check is not None:
                check(tested / work)
        size = self.cfg.batch_size or n
        # The base rate is read from the config each epoch (it may change between epochs);
        # the schedule counts epochs, so it means the same for any batch size.
        self.optimizer.lr = self.cfg.lr
        lr = self.optimizer.schedule(self.optimizer.lr, self.epoch)
        if size < n:
            order = np.array(self.shuffle.sample(range(n), n))
            batches = [order[i:i + size] for i in range(0, n, size)]
            outs = np.empty((n, 1))
        else:
            batches = [slice(None)]  # the whole set, no copy
        total, diverged, done = 0.0, False, 0
        mean = LOSSES[self.cfg.loss][1] == "mean"
        for idx in batches:
            count = size if size < n else n
            loss, grad, out = self._guarded(True, self.X[idx], self.Y[idx],
                                            part(tested + done, min(count, n - done)))
            done += len(out) if out is not None else 0
            if out is None or not np.isfinite(grad).all() or np.abs(grad).max() > MAX_GRADIENT:
                total, diverged = math.inf, True
                break
            total += loss * len(out) if mean else loss
            if size < n:
                outs[idx] = out
            else:
                outs = out
            self._backup[:] = self.theta
            self.optimizer.update(self.theta, grad, lr)
            self.grad = grad
            if not np.isfinite(self.theta).all() or np.abs(self.theta).max() > MAX_PARAMETER:
                self.theta[:] = self._backup  # keep the last parameters that were not running away
                total, diverged = math.inf, True
                break
            if check is not None:
                check((tested + done) / work)
        self.epoch += 1
        self.elapsed += time.perf_counter() - t0
        train_loss = total / n if mean else total
        if diverged:
            self.stop_reason = f"diverged at epoch {self.epoch}"
        elif self.cfg.tolerance and train_loss <= self.cfg.tolerance:
            self.stop_reason = TOLERANCE
        elif self.cfg.epochs and self.epoch >= self.cfg.epochs:
            self.stop_reason = EXHAUSTED
        train_metric = None if diverged else metric(self.task, outs, self.train.y, self.threshold)
        rec = Epoch(self.run, self.epoch, train_loss, test_loss, train_metric, test_metric,
                    lr, self.elapsed, self.stop_reason)
        self.history.append(rec)
        self.tape.record(self.epoch, self.theta, self.grad, rec)
        return rec

    def objective(self, theta, X, Y, want_grad=True, check=None, engine=None):
        """(loss + L1/L2 penalty, its gradient or None, outputs) at `theta` (a flat parameter
        vector, not necessarily the run's) on the batch (X, Y): what a step descends, computed
        by the run's engine (or `engine`). The engines leave the penalty out: it involves only
        theta, so it is added here, once, the same for both. The Value engine may raise
        OverflowError."""
        engine = engine or self.engine
        if want_grad:
            loss, grad, out = engine.loss_and_grad(theta, X, Y, check)
        else:
            (loss, out), grad = engine.loss(theta, X, Y, check), None
        if self.cfg.l1 or self.cfg.l2:
            value, penalty_grad = penalty(theta, self.cfg.l1, self.cfg.l2, want_grad)
            loss += value
            if want_grad:
                grad += penalty_grad  # the engine's gradient is a fresh array
        return loss, grad, out

    def _guarded(self, want_grad, X, Y, check=None, engine=None):
        """`objective` at the run's theta; a non-finite loss or the Value engine's OverflowError
        gives (inf, None, None): the caller treats that as divergence."""
        try:
            loss, grad, out = self.objective(self.theta, X, Y, want_grad, check, engine)
        except OverflowError:
            return math.inf, None, None
        if not math.isfinite(loss):
            return math.inf, None, None
        return loss, grad, out

    def weights(self):
        """Per layer (W [outputs][inputs], b [outputs]) as numpy arrays, cut from a flat vector."""
        return unflatten(self.theta, self.cfg)

    def grads(self):
        """Like `weights()`, for the gradient of the last step."""
        return unflatten(self.grad, self.cfg)

    def parameter_index(self, layer, neuron, input=None):
        """Where weight W[neuron][input] of `layer` (its bias for input None) is in theta:
        micrograd's order, each neuron's weights then its bias."""
        sizes = [self.cfg.inputs, *self.cfg.layers]
        if not (0 <= layer < len(self.cfg.layers) and 0 <= neuron < sizes[layer + 1]
                and (input is None or 0 <= input < sizes[layer])):
            raise IndexError(f"no parameter ({layer}, {neuron}, {input}) in this network")
        start = sum(nout * (nin + 1) for nin, nout in zip(sizes, sizes[1:layer + 1]))
        nin = sizes[layer]
        return start + neuron * (nin + 1) + (nin if input is None else input)

    def measure(self):
        """(train loss, train metric, test loss, test metric) at the parameters now, without a
        step: what the run would report after an edit of its weights."""
        result = [None] * 4
        engine = self._gauge()
        if len(self.train):
            loss, _, out = self._guarded(False, self.X, self.Y, engine=engine)
            result[:2] = loss, None if out is None else metric(self.task, out, self.train.y, self.threshold)
        if self.test is not None:
            test_loss, _, test_out = self._guarded(False, self.Xtest, self.Ytest, engine=engine)
            result[2:] = test_loss, None if test_out is None else metric(self.task, test_out, self.test.y,
                                                                          self.threshold)
        return tuple(result)

    def _gauge(self):
        """The engine `measure` uses: the compiled one whatever the run's (the same loss to
        rounding, ~1e-15). The Value engine took 1.5 s for an 8x64 network, on the window's
        thread, at every point placed or weight set by hand."""
        if self.engine.name == "compiled":
            return self.engine
        if self._compiled is None:
            self._compiled = make_engine(self.model, dataclasses.replace(self.cfg, engine="compiled"))
        return self._compiled

    def predict(self, X):
        """Model outputs (n, outputs) for the data's inputs X (n, cfg.data_inputs)."""
        X = features.apply(self.cfg.feature_map, np.asarray(X, dtype=float).reshape(-1, self.cfg.data_inputs))
        return self.engine.loss(self.theta, X, np.zeros((len(X), 1)))[1]


def unflatten(vec, cfg):
    """Micrograd's parameter order (per neuron: weights then bias) -> per layer (W, b)."""
    out, i = [], 0
    for nin, nout in zip([cfg.inputs, *cfg.layers], cfg.layers):
        block = vec[i:i + nout * (nin + 1)].reshape(nout, nin + 1)
        out.append((block[:, :nin].copy(), block[:, nin].copy()))
        i += nout * (nin + 1)
    return out


def flatten(weights):
    """Inverse of `unflatten`: per layer (W, b) -> one vector in parameter order."""
    return np.concatenate([np.column_stack([np.asarray(W, float), np.asarray(b, float)]).ravel()
                           for W, b in weights])


def summarize(histories):
    """Across runs: final losses and metrics (mean, std, min, max), epochs to tolerance, share converged."""
    finals = [h[-1] for h in histories]

    def stats(values):
        values = [v for v in values if v is not None]
        if not values:
            return None
        a = np.array(values, dtype=float)
        with np.errstate(invalid="ignore"):  # a diverged run's inf makes the std nan, quietly
            return {"mean": float(a.mean()), "std": float(a.std()), "min": float(a.min()), "max": float(a.max())}

    reached = [f.epoch for f in finals if f.stop == TOLERANCE]
    return {
        "runs": len(finals),
        "train_loss": stats(f.train_loss for f in finals),
        "test_loss": stats(f.test_loss for f in finals),
        "train_metric": stats(f.train_metric for f in finals),
        "test_metric": stats(f.test_metric for f in finals),
        "epochs_to_tolerance": stats(reached),
        "converged": len(reached) / len(finals) if finals else 0.0,
    }
