"""The training loop: one plain configuration in, a stream of epochs out.

`Trainer` trains one run one epoch per `step()`, so a caller (the command
line, a worker thread in the window) can stop or pause between any two
epochs. `Session` repeats a configuration over seeds seed..seed+evals-1 and
summarises the runs. Parameters live in a flat numpy vector `theta`; an
engine turns (theta, batch) into (loss, gradient, outputs), and the optimizer
updates theta in place.
"""
import dataclasses
import gc
import math
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .losses import LOSSES, batch_loss, penalty
from .nn import ACTIVATIONS, BIAS_INITS, MLP
from .optim import OPTIMIZERS, SCHEDULES, Schedule

ENGINES = ("compiled", "value")  # compiled: micrograd.compiled; value: the reference engine

# Stop reasons, as shown to the user.
TOLERANCE = "tolerance reached"
EXHAUSTED = "epochs exhausted"
STOPPED = "stopped by the user"

MAX_LAYERS = 8
MAX_WIDTH = 64
MAX_EPOCHS = 1_000_000
MAX_EVALS = 100


def is_finite(x):
    """math.isfinite, and False for an integer too big for a float (JSON allows 1 followed by
    400 zeros; float() of it raises OverflowError)."""
    try:
        return math.isfinite(x)
    except OverflowError:
        return False


@dataclass
class Config:
    """Everything that defines a training run; `to_dict`/`from_dict` round-trip it through JSON."""

    inputs: int = 2
    layers: list = field(default_factory=lambda: [16, 16, 1])  # sizes, output layer last
    activations: list = field(default_factory=lambda: ["relu", "relu", "linear"])
    bias_init: str = "zero"
    loss: str = "hinge"
    optimizer: str = "sgd"
    lr: float = 1.0
    momentum: float = 0.0
    schedule: str = "linear"
    lr_end: float = 0.1  # linear schedule: final rate as a fraction of lr
    decay_steps: int = 100  # linear schedule: epochs to decay over
    l1: float = 0.0
    l2: float = 1e-4
    batch_size: int = 0  # 0: the full batch
    epochs: int = 100
    tolerance: float = 0.0  # stop once the train loss is at or below it; 0: never
    evals: int = 1
    seed: int = 0
    engine: str = "compiled"

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        """Build and validate from a plain dict; unknown or badly typed fields are refused by name."""
        if not isinstance(d, dict):
            raise ValueError("training: expected an object")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"training: unknown field {unknown[0]!r}")
        cfg = cls(**{k: list(v) if isinstance(v, list) else v for k, v in d.items()})
        cfg.validate()
        return cfg

    def validate(self):
        """Raise ValueError naming the first bad field."""
        defaults = type(self)()
        for f in dataclasses.fields(self):
            v, want = getattr(self, f.name), type(getattr(defaults, f.name))
            ok = isinstance(v, want) and not isinstance(v, bool)
            if want is float:
                ok = isinstance(v, (int, float)) and not isinstance(v, bool) and is_finite(v)
            if not ok:
                raise ValueError(f"training.{f.name}: expected {want.__name__}, got {v!r}")

        def check(cond, name, msg):
            if not cond:
                raise ValueError(f"training.{name}: {msg}, got {getattr(self, name)!r}")

        check(1 <= self.inputs <= MAX_WIDTH, "inputs", f"must be 1..{MAX_WIDTH}")
        check(1 <= len(self.layers) <= MAX_LAYERS + 1, "layers", f"must have 1..{MAX_LAYERS + 1} layers")
        check(all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_WIDTH for n in self.layers),
              "layers", f"sizes must be integers 1..{MAX_WIDTH}")
        check(self.layers[-1] == 1, "layers", "the output layer must have 1 neuron")
        check(len(self.activations) == len(self.layers), "activations", "needs one per layer")
        check(all(a in ACTIVATIONS for a in self.activations), "activations", f"must be among {ACTIVATIONS}")
        check(self.bias_init in BIAS_INITS, "bias_init", f"must be one of {BIAS_INITS}")
        check(self.loss in LOSSES, "loss", f"must be one of {tuple(LOSSES)}")
        check(not (self.loss == "bce" and self.activations[-1] != "linear"), "loss",
              "bce takes logits: the output activation must be linear")
        check(not (self.loss == "hinge" and self.activations[-1] == "sigmoid"), "loss",
              "hinge needs -1/+1 targets, which a sigmoid output cannot reach: use a linear or tanh output")
        check(self.optimizer in OPTIMIZERS, "optimizer", f"must be one of {tuple(OPTIMIZERS)}")
        check(0 < self.lr <= 1e3, "lr", "must be in (0, 1000]")
        check(0 <= self.momentum < 1, "momentum", "must be in [0, 1)")
        check(self.schedule in SCHEDULES, "schedule", f"must be one of {SCHEDULES}")
        check(0 <= self.lr_end <= 1, "lr_end", "must be in [0, 1]")
        check(1 <= self.decay_steps <= MAX_EPOCHS, "decay_steps", f"must be 1..{MAX_EPOCHS}")
        check(0 <= self.l1 <= 10, "l1", "must be in [0, 10]")
        check(0 <= self.l2 <= 10, "l2", "must be in [0, 10]")
        check(0 <= self.batch_size <= 1_000_000, "batch_size", "must be 0 (full batch) or a positive size")
        check(1 <= self.epochs <= MAX_EPOCHS, "epochs", f"must be 1..{MAX_EPOCHS}")
        check(self.tolerance >= 0, "tolerance", "must not be negative")
        check(1 <= self.evals <= MAX_EVALS, "evals", f"must be 1..{MAX_EVALS}")
        check(0 <= self.seed < 2**32, "seed", "must be in [0, 2**32)")
        check(self.engine in ENGINES, "engine", f"must be one of {ENGINES}")

    def model(self, seed=None):
        return MLP(self.inputs, self.layers, self.activations, bias_init=self.bias_init,
                   seed=self.seed if seed is None else seed)

    def targets(self):
        """(negative, positive) target values for two classes under this loss and output."""
        if self.loss != "bce" and self.activations[-1] == "sigmoid":
            return (0.0, 1.0)
        return LOSSES[self.loss][2]


@dataclass
class Epoch:
    """What one epoch measured: with full batches, at the parameters the epoch started from;
    with mini-batches, the train loss and metric gather each batch's as the parameters move."""

    run: int
    epoch: int  # 1-based: the number of epochs done
    train_loss: float
    test_loss: float | None
    train_metric: float  # accuracy (classification) or R^2 (regression)
    test_metric: float | None
    lr: float
    elapsed: float  # seconds spent training in this run, pauses excluded
    stop: str | None = None  # why the run ended, on its last epoch


@dataclass
class Snapshot:
    """An epoch plus copies of every layer's weights [outputs][inputs], biases, and their gradients."""

    epoch: Epoch
    weights: list  # per layer: (W ndarray, b ndarray)
    grads: list


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
        return obj, np.array([[o.data for o in out] for out in outs])

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

    def __init__(self, cfg, train, test=None, run=0):
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
        self.grad = np.zeros_like(self.theta)
        self._backup = np.empty_like(self.theta)
        self.optimizer = OPTIMIZERS[cfg.optimizer](
            lr=cfg.lr, schedule=Schedule(cfg.schedule, cfg.lr_end, cfg.decay_steps),
            **({"momentum": cfg.momentum} if cfg.optimizer == "sgd" else {}))
        self.targets = cfg.targets()  # (negative, positive) class targets
        self.threshold = decision_threshold(cfg)
        self.train, self.test = train, test if test is not None and len(test) else None
        self.Y = self._targets(train)
        self.Ytest = self._targets(self.test) if self.test else None
        self.shuffle = random.Random(self.seed)
        self.epoch, self.elapsed, self.stop_reason = 0, 0.0, None
        self.history = []

    def _targets(self, ds):
        y = ds.y
        if self.task == "classification":
            neg, pos = self.targets
            y = np.where(y > 0.5, pos, neg)
        return y.reshape(-1, 1)

    @property
    def done(self):
        return self.stop_reason is not None

    def set_lr(self, lr):
        """Change the base learning rate; the next step uses it (the schedule still applies)."""
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"learning rate must be a positive number, got {lr}")
        self.optimizer.lr = lr

    def stop(self):
        if not self.done:
            self.stop_reason = STOPPED
            if self.history:
                self.history[-1].stop = STOPPED

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
        # The schedule counts epochs, so it means the same for any batch size.
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

    def snapshot(self):
        """Copies of the latest epoch, the weights and the last gradient."""
        last = self.history[-1] if self.history else None
        return Snapshot(last, _unflatten(self.theta, self.cfg), _unflatten(self.grad, self.cfg))

    def sync_model(self):
        """Write theta into the `Value` model (for predictions, export, drawing)."""
        for p, v in zip(self.model.parameters(), self.theta.tolist()):
            p.data = v
        return self.model

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


class Session:
    """`evals` independent runs of one configuration, seeds seed..seed+evals-1."""

    def __init__(self, cfg, train, test=None):
        cfg.validate()
        self.cfg, self.train, self.test = cfg, train, test
        self.runs = []  # finished and current Trainers

    def trainers(self):
        """Yield each run's Trainer in turn; the caller steps it until `done`."""
        for run in range(self.cfg.evals):
            trainer = Trainer(self.cfg, self.train, self.test, run)
            self.runs.append(trainer)
            yield trainer

    def run(self):
        """Train every run to its end; yield each Epoch as it happens."""
        for trainer in self.trainers():
            while not trainer.done:
                yield trainer.step()

    def summary(self):
        return summarize([t.history for t in self.runs if t.history])


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


def decision_threshold(cfg):
    """Outputs above this are class 1: the midpoint of the two targets, except under bce,
    whose output is a logit (p = sigmoid(z) > 0.5 exactly when z > 0)."""
    if cfg.loss == "bce":
        return 0.0
    neg, pos = cfg.targets()
    return (neg + pos) / 2
