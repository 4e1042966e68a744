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
import time
from contextlib import contextmanager

import numpy as np

from .history import Epoch, History
from .losses import LOSSES, batch_loss, penalty
from .nn import as_list
from .optim import OPTIMIZERS, Schedule

# Stop reasons, as shown to the user.
TOLERANCE = "tolerance reached"
EXHAUSTED = "epochs exhausted"
STOPPED = "stopped by the user"


@contextmanager
def gc_paused():
    """Hold the cyclic collector off: a step's graphs are acyclic and freed by reference
    counting, so the collector would only walk them, pausing the GUI for nothing."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class ValueEngine:
    """The reference engine: builds the `Value` graph of every sample, every step.

    Like every engine it gives the data loss; the Trainer adds the penalties on theta.
    """

    name = "value"
    fallback_reason = None

    def __init__(self, model, cfg):
        self.model, self.cfg = model, cfg
        self.params = model.parameters()

    def _forward(self, theta, X, Y):
        for p, v in zip(self.params, theta.tolist()):
            p.data = v
        outs = [self.model(x) for x in X.tolist()]
        obj = batch_loss(self.cfg.loss, outs, Y.tolist())
        return obj, np.array([[o.data for o in as_list(out)] for out in outs])

    def loss(self, theta, X, Y):
        """(data loss, outputs (n, outputs)) at theta, no gradient."""
        with gc_paused():
            obj, outs = self._forward(theta, X, Y)
            return obj.data, outs

    def loss_and_grad(self, theta, X, Y):
        """(data loss, d loss / d theta, outputs) at theta."""
        with gc_paused():
            obj, outs = self._forward(theta, X, Y)
            self.model.zero_grad()
            obj.backward()
            return obj.data, np.array([p.grad for p in self.params]), outs


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
    if task == "classification":
        return float(np.mean((out > threshold) == (y > 0.5)))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum((y - out) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0


class Trainer:
    """One run: `step()` trains one epoch and returns its `Epoch`; `done` once it stopped."""

    def __init__(self, cfg, train, test=None, run=0, weights=None):
        """`cfg` is read live: a learning rate, an epoch budget or a tolerance changed on it
        between steps applies from the next step. `weights`: per-layer (W, b) to start from
        instead of the ones drawn from the seed (an imported model)."""
        cfg.validate()
        if train.X.shape[1] != cfg.inputs:
            raise ValueError(f"the data has {train.X.shape[1]} features but the network takes {cfg.inputs} inputs")
        if len(train) == 0:
            raise ValueError("the training set is empty")
        self.cfg, self.run, self.task = cfg, run, train.task
        self.seed = cfg.seed + run
        self.model = cfg.model(self.seed)
        self.engine = make_engine(self.model, cfg)
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
        self.train, self.test = train, test if test is not None and len(test) else None
        self.Y = self._targets(train)
        self.Ytest = self._targets(self.test) if self.test else None
        self.shuffle = random.Random(self.seed)
        self.epoch, self.elapsed, self.stop_reason = 0, 0.0, None
        self.history = History(run)

    def _targets(self, ds):
        y = ds.y
        if self.task == "classification":
            neg, pos = self.targets
            y = np.where(y > 0.5, pos, neg)
        return y.reshape(-1, 1)

    @property
    def done(self):
        return self.stop_reason is not None

    def stop(self):
        if not self.done:
            self.stop_reason = STOPPED
            if self.history:
                self.history.replace_last(dataclasses.replace(self.history[-1], stop=STOPPED))

    def step(self):
        """Train one epoch (one optimizer step per batch) and return what it measured.

        The test loss and metric are at the parameters the epoch started
        from, and so are the train ones with a full batch: the train loss
        comes free with the forward pass, and the two stay comparable. With
        mini-batches the train loss combines the batches' as the loss does
        its samples: their mean for a mean loss, their sum for `sse`.
        """
        if self.done:
            raise RuntimeError(f"the run has ended: {self.stop_reason}")
        t0 = time.perf_counter()
        test_loss = test_metric = None
        if self.test is not None:
            test_loss, test_out = self._guarded(self.engine.loss, self.test.X, self.Ytest)
            test_metric = None if test_out is None else metric(self.task, test_out, self.test.y, self.threshold)
        n = len(self.train)
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
        total, diverged = 0.0, False
        mean = LOSSES[self.cfg.loss][1] == "mean"
        for idx in batches:
            loss, grad, out = self._guarded(self.engine.loss_and_grad, self.train.X[idx], self.Y[idx])
            if out is None or not np.isfinite(grad).all():
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
            if not np.isfinite(self.theta).all():
                self.theta[:] = self._backup  # keep the last finite parameters
                total, diverged = math.inf, True
                break
        self.epoch += 1
        self.elapsed += time.perf_counter() - t0
        train_loss = total / n if mean else total
        if diverged:
            self.stop_reason = f"diverged at epoch {self.epoch}"
        elif self.cfg.tolerance and train_loss <= self.cfg.tolerance:
            self.stop_reason = TOLERANCE
        elif self.epoch >= self.cfg.epochs:
            self.stop_reason = EXHAUSTED
        train_metric = None if diverged else metric(self.task, outs, self.train.y, self.threshold)
        rec = Epoch(self.run, self.epoch, train_loss, test_loss, train_metric, test_metric,
                    lr, self.elapsed, self.stop_reason)
        self.history.append(rec)
        return rec

    def _guarded(self, fn, X, Y):
        """fn(theta, X, Y) plus the L1/L2 penalty, with a non-finite loss, or the Value
        engine's OverflowError, turned into (inf, None, None): the caller treats that as
        divergence. The engines leave the penalty out: it involves only theta, so it is
        added here, once, the same for both."""
        try:
            loss, *rest = fn(self.theta, X, Y)
        except OverflowError:
            return math.inf, None, None
        if self.cfg.l1 or self.cfg.l2:
            value, grad = penalty(self.theta, self.cfg.l1, self.cfg.l2)
            loss += value
            if len(rest) == 2:  # loss_and_grad: (gradient, outputs)
                rest[0] = rest[0] + grad
        if not math.isfinite(loss):
            return math.inf, *(None,) * len(rest)
        return loss, *rest

    def weights(self):
        """Per layer (W [outputs][inputs], b [outputs]) as numpy arrays, cut from a flat vector."""
        return _unflatten(self.theta, self.cfg)

    def grads(self):
        """Like `weights()`, for the gradient of the last step."""
        return _unflatten(self.grad, self.cfg)

    def predict(self, X):
        """Model outputs (n, outputs) for inputs X (n, inputs)."""
        X = np.asarray(X, dtype=float).reshape(-1, self.cfg.inputs)
        return self.engine.loss(self.theta, X, np.zeros((len(X), 1)))[1]


def _unflatten(vec, cfg):
    """Micrograd's parameter order (per neuron: weights then bias) -> per layer (W, b)."""
    out, i = [], 0
    for nin, nout in zip([cfg.inputs, *cfg.layers], cfg.layers):
        block = vec[i:i + nout * (nin + 1)].reshape(nout, nin + 1)
        out.append((block[:, :nin].copy(), block[:, nin].copy()))
        i += nout * (nin + 1)
    return out


def flatten(weights):
    """Inverse of `_unflatten`: per layer (W, b) -> one vector in parameter order."""
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
