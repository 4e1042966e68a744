"""A session: the settings, the data and the runs trained from them.

This is what the window and the command line share, so each rule about a run lives here once:

* the one copy of the settings (`config`, `data`); `edit()` decides whether a change lets the
  current run go on or starts the session again (`CONTINUE` / `RESTART`);
* the data, loaded from a `DataSpec` or from a model file's data block; points placed by hand
  (`use_data`) change under a run that goes on;
* the runs: `evals` runs of the same configuration over seeds seed..seed+evals-1, trained
  one epoch per `step()` (so a caller can stop or pause between any two epochs);
* which run a model file gets (`best()`, written by `save()`);
* the way back: each run keeps its weights at decimated epochs (`Trainer.tape`); `at(epoch)`
  shows them, `branch(epoch)` goes on from there, keeping the run it leaves as a `Ghost`, and
  `pin()` keeps the current run so too, to compare the next ones with;
* what observers see: a `Setup` when the network or the data change, then `Snapshot`s, plain
  immutable data copied out of the run.

No Qt here. One thread at a time may call a session's methods; `edit(lr=...)` is the exception
(see there), so a window can change the rate while a worker thread trains.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from . import modelfile
from .config import PRESETS, Config, DataSpec, for_data
from .data import CUSTOM, points_of
from .history import Epoch, Ghost, History
from .train import EXHAUSTED, STOPPED, TOLERANCE, Trainer, summarize, unflatten

CONTINUE = "continue"  # the current run goes on with the new settings
RESTART = "restart"    # the session starts again from its initial weights

# Settings a run reads live: a change applies from the next epoch, even while a worker trains.
LIVE = frozenset({"lr"})
# Where a run stops is not part of its past: raising the budget or setting a tolerance lets a
# paused run go on.
EXTENDS = frozenset({"epochs", "tolerance"})
# Settings that change the initial weights: after them, the weights are drawn from the seed again.
NEW_WEIGHTS = frozenset({"inputs", "feature_map", "layers", "activations", "seed", "init", "bias_init"})
MAX_GHOSTS = 8  # runs kept to compare with (pinned, or left by a branch); the oldest goes first


@dataclass(frozen=True)
class Setup:
    """What a view needs before the first snapshot: the network and the data it trains on."""

    config: Config  # a copy: the view may keep it
    train: object   # data.Dataset
    test: object    # data.Dataset, or None
    ghosts: tuple = ()  # history.Ghost: past runs to draw beside this one

    @property
    def task(self):
        return self.train.task

    @property
    def threshold(self):
        return self.config.threshold


@dataclass(frozen=True)
class Snapshot:
    """Where a session stands, copied out for observers (another thread may go on training)."""

    run: int             # the run shown, 0-based
    runs: int            # runs in the session (evals)
    epoch: int           # epochs done in this run
    epochs: int          # this run's epoch budget
    done: int            # epochs done across runs (a run that stopped early counts as full)
    total: int           # epochs * runs
    elapsed: float       # seconds this run has trained
    new: tuple           # every Epoch since the previous snapshot, oldest first
    weights: tuple       # per layer (W [outputs][inputs], b [outputs]), copies
    grads: tuple         # the same shapes: the gradient of the last step
    stop: str | None     # why the run ended, once it has
    finished: bool       # every run has ended
    summary: dict | None = None  # across runs (`summarize`), once finished
    progress: float = 0.0  # share of the next epoch done (a long one, reported as it goes)
    measured: tuple | None = None  # (train loss, metric, test loss, metric) at weights edited since
    rewound: bool = False  # an earlier epoch of the run (`Session.at`), not where it is

    @property
    def last(self):
        """The latest Epoch this snapshot carries, or None."""
        return self.new[-1] if self.new else None


class Session:
    """`Session(config, data)`: train `config.evals` runs on `data`, one epoch per `step()`."""

    def __init__(self, config=None, data=None, *, weights=None, loaded=None, past=()):
        """`weights`: per-layer (W, b) the first run starts from instead of the seed's (an
        imported model), and `past` the Epochs that led to them (the run goes on from there; a
        restart goes back to epoch 0 from the same weights). `loaded`: the (dataset, train,
        test) of `data`, if already loaded. Raises ValueError (naming the setting) if the
        settings do not fit the data."""
        self.config = Config() if config is None else Config.from_dict(config.to_dict())
        self.data = DataSpec() if data is None else data
        self.dataset, self.train, self.test = loaded if loaded is not None else self.data.load()
        self._check(self.config)
        self.weights = weights
        self.origin = None  # (weights, past) a branch started from: where a restart goes back to
        self.ghosts = []
        self._ghosts_made = 0
        self.restart()
        if past:
            self.runs = [Trainer(self.config, self.train, self.test, 0, self.weights, past)]
            self.finished = self.trainer.done

    def _check(self, config):
        config.check_inputs(self.dataset.X.shape[1])
        config.check_task(self.dataset.task)

    # --- the runs ----------------------------------------------------------------------------

    def restart(self):
        """Back to the start of the first run: epoch 0 from the initial weights, or after a
        branch the epoch it started from (with other settings, maybe: see `branch`)."""
        self.finished = False
        weights, past = self.origin if self.origin and self.config.evals == 1 else (self.weights, ())
        self.runs = [Trainer(self.config, self.train, self.test, 0, weights, past)]

    def reset(self):
        """Back to epoch 0 from the initial weights, a branch's start forgotten."""
        self.origin = None
        self.restart()

    @property
    def trainer(self):
        """The current run."""
        return self.runs[-1]

    @property
    def can_step(self):
        """A run is left to train, and there are points to train it on."""
        return not self.finished and len(self.train) > 0

    def step(self, check=None):
        """Train one epoch of the current run, starting the next run first if the current one
        has ended; return the `Epoch`. After the last run's last epoch, `finished` is True.
        `check(fraction)`: see `Trainer.step` (it may abandon the epoch: `train.Interrupted`)."""
        if self.finished:
            raise RuntimeError("every run of the session has ended")
        if self.trainer.done:
            self.runs.append(Trainer(self.config, self.train, self.test, len(self.runs)))
        epoch = self.trainer.step(check)
        self.finished = self.trainer.done and len(self.runs) == self.config.evals
        return epoch

    def run(self):
        """Train every run to its end; yield each `Epoch` as it happens."""
        while not self.finished:
            yield self.step()

    def stop(self):
        """End the session now (the current run's last epoch says it was stopped)."""
        self.trainer.stop()
        self.finished = True

    @property
    def done_epochs(self):
        """Epochs done across every run so far (a run that stopped early counts as full)."""
        t, budget = self.trainer, self.config.epochs
        if not budget:  # until stopped: one run
            return t.epoch
        return t.run * budget + (budget if t.done else min(t.epoch, budget))

    @property
    def total_epochs(self):
        """Every run's budget together (0: a run that trains until stopped)."""
        return self.config.epochs * self.config.evals

    def summary(self):
        """Across the runs so far: final losses and metrics, epochs to tolerance, share converged."""
        return summarize([t.history for t in self.runs if t.history])

    def diverged(self):
        """A message for each run that diverged, in order."""
        several = self.config.evals > 1
        return [f"run {t.run + 1}: {t.stop_reason}" if several else t.stop_reason
                for t in self.runs if t.stop_reason and t.stop_reason.startswith("diverged")]

    # --- settings ----------------------------------------------------------------------------

    def edit(self, **changes):
        """Change settings; return CONTINUE if the current run goes on with them, RESTART if the
        session started again. Raises ValueError naming the setting, and changes nothing, if the
        result is not a valid configuration for this data.

        The rule: a learning rate applies from the next epoch (this is the one edit that is
        safe while another thread trains: the run reads it at the start of each epoch); a
        larger epoch budget (or none) or a tolerance lets the run go on, if it has not ended or
        ended only at its budget or tolerance (one run: several runs restart, to compare alike);
        anything else restarts, from the same initial weights unless the network or the seed
        changed."""
        new = self.config.replace(**changes)
        self._check(new)
        changed = {k for k in changes if getattr(new, k) != getattr(self.config, k)}
        t = self.trainer
        resumable = not t.done or (t.stop_reason in (EXHAUSTED, TOLERANCE) and new.evals == 1)
        go_on = changed <= LIVE or (changed <= LIVE | EXTENDS and resumable
                                    and (new.epochs == 0 or new.epochs > t.epoch))
        for k in changed:  # in place: the runs read this one copy
            setattr(self.config, k, getattr(new, k))
        if go_on:
            if t.done and changed & EXTENDS:
                t.resume()
                self.finished = False
            return CONTINUE
        if changed & NEW_WEIGHTS:
            self.weights = self.origin = None
        self.restart()
        return RESTART

    def set_data(self, spec):
        """Train on `spec`'s data from now on (a restart). The inputs follow the data; another
        data set brings what choosing it sets (`config.for_data`: the points a built-in set
        draws, the loss and output for its task, a learning rate and the epochs that train it;
        points placed by hand bring it only with a new task). Raises (DataError, ValueError,
        OSError) with nothing changed."""
        custom = spec.csv is None and spec.dataset == CUSTOM
        other = spec.csv != self.data.csv or (spec.csv is None and spec.dataset != self.data.dataset)
        if other and spec.csv is None and not custom:
            spec = spec.replace(samples=PRESETS[spec.dataset][0])
        loaded = spec.load()
        ds = loaded[0]
        config = self.config.for_inputs(ds.X.shape[1])
        new_task = ds.task != self.dataset.task
        if new_task or (other and not custom):
            config = for_data(config, ds.task, None if spec.csv or custom else spec.dataset, new_task=new_task)
        config.check_task(ds.task)
        if (config.inputs, config.feature_map) != (self.config.inputs, self.config.feature_map):
            self.weights = None
        self.data, (self.dataset, self.train, self.test) = spec, loaded
        self.config = config
        self.origin = None  # a branch's past was trained on other data
        self.restart()

    def use_data(self, spec):
        """Train on `spec`'s data: points placed by hand change under the current run, which goes
        on with them (CONTINUE), when the task and the inputs stay; anything else is `set_data`
        (RESTART). Raises like `set_data`, with nothing changed."""
        loaded = spec.load()
        ds = loaded[0]
        if (ds.task, ds.X.shape[1]) != (self.dataset.task, self.dataset.X.shape[1]):
            self.set_data(spec)
            return RESTART
        self.data, (self.dataset, self.train, self.test) = spec, loaded
        self.trainer.use_data(self.train, self.test)
        return CONTINUE

    def custom_data(self, points=None):
        """The data as points placed by hand (a `DataSpec`): `points` (rows as `DataSpec.points`),
        by default the points of the data now, each on its side of the split."""
        if points is None:
            points = self.data.points if self.data.dataset == CUSTOM and self.data.csv is None \
                else points_of(self.train, self.test)
        return self.data.replace(dataset=CUSTOM, csv=None, label=None, points=points, task=self.dataset.task,
                                 inputs=self.dataset.X.shape[1])

    def set_parameter(self, layer, neuron, input, value):
        """Set weight W[neuron][input] of `layer` (the bias for input None) of the current run,
        which goes on from there; returns the value it had. (The initial weights stay: a Reset
        goes back to them.) Raises ValueError for a value that is not finite, IndexError for no
        such parameter."""
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"a weight must be a finite number, got {value!r}")
        t = self.trainer
        k = t.parameter_index(layer, neuron, input)
        old, t.theta[k] = float(t.theta[k]), value
        return old

    # --- the way back ---------------------------------------------------------------------------

    def at(self, epoch):
        """A Snapshot of the current run at `epoch` (the latest epoch kept at or before it; where
        the run is now for its epoch or later), with no new Epochs: `rewound` if earlier, with
        what that epoch measured as `measured`."""
        t = self.trainer
        if epoch >= t.epoch:
            return self.snapshot()
        e, theta, grad, record = t.tape.at(epoch)
        return Snapshot(run=t.run, runs=self.config.evals, epoch=e, epochs=self.config.epochs,
                        done=self.done_epochs - (t.epoch - e), total=self.total_epochs,
                        elapsed=record.elapsed if record else 0.0, new=(), weights=tuple(unflatten(theta, t.cfg)),
                        grads=tuple(unflatten(grad, t.cfg)), stop=None, finished=False, rewound=True,
                        measured=None if record is None else (record.train_loss, record.train_metric,
                                                              record.test_loss, record.test_metric))

    def _rewound(self, epoch):
        """The current run as it was at `epoch` (see `at`): a new Trainer, (weights, past)."""
        t = self.trainer
        e, theta, _, record = t.tape.at(epoch)
        past = [x for x in t.history if x.epoch < e] + ([record] if record else [])
        return unflatten(theta, t.cfg), past

    def branch(self, epoch):
        """Go on from `epoch` of the current run (see `at`) with the settings now: the run as it
        was then replaces it, which is kept as a ghost. A restart comes back here, so settings
        changed now (other than the network or the seed) train this branch from here; `reset`
        goes back to epoch 0. One run only (evals 1): ValueError otherwise."""
        if self.config.evals != 1:
            raise ValueError("a branch goes on from one run: set evals to 1")
        t = self.trainer
        if epoch >= t.epoch:
            raise ValueError(f"the run is at epoch {t.epoch}: a branch starts from an earlier one")
        weights, past = self._rewound(epoch)
        self._keep(t, f"branched at {past[-1].epoch if past else 0}")
        self.origin = (weights, past)
        self.restart()

    def pin(self):
        """Keep the current run's curves and settings as a ghost, to compare the next runs with."""
        if self.trainer.history:
            self._keep(self.trainer, "pinned")

    def unpin(self):
        """Forget every ghost."""
        self.ghosts.clear()

    def _keep(self, trainer, how):
        if not trainer.history:
            return
        self._ghosts_made += 1
        self.ghosts.append(Ghost(f"#{self._ghosts_made} {how}", trainer.history.rows(), trainer.cfg.to_dict(),
                                 trainer.history[-1]))
        del self.ghosts[:-MAX_GHOSTS]

    # --- model files -------------------------------------------------------------------------

    def best(self):
        """The run a model file gets. With one run, that run; with several, the lowest last test
        loss (train loss without test data), diverged runs last, ties to the earlier run. Runs
        that have not trained an epoch yet count only if none has."""
        def key(t):
            e = t.history[-1]
            loss = e.test_loss if e.test_loss is not None else e.train_loss
            diverged = e.stop is not None and e.stop.startswith("diverged")
            return (diverged, loss if loss is not None and math.isfinite(loss) else math.inf, t.run)
        trained = [t for t in self.runs if t.history]
        return min(trained, key=key) if trained else self.trainer

    def save(self, path, epoch=None):
        """Write `best()` to a model file, with the settings, the data's recipe and, for several
        runs, their summary; or with `epoch`, the current run as it was then (see `at`). Returns
        the path; raises ModelFileError / OSError."""
        summary = self.summary() if self.config.evals > 1 and any(t.history for t in self.runs) else None
        run = self.best()
        if epoch is not None and epoch < self.trainer.epoch:
            weights, past = self._rewound(epoch)
            run = Trainer(self.config, self.train, self.test, self.trainer.run, weights, past)
        return modelfile.save_trainer(path, run, self.dataset, summary,
                                      test_ratio=self.data.test_ratio, split_seed=self.data.split_seed)

    @classmethod
    def from_model(cls, model, fallback=None):
        """A session that goes on from `model` (a `modelfile.Model`): its settings, its weights as
        the start, its data rebuilt from the file's data block, or else `fallback`'s data (a
        Session) if the network fits it. Returns (session, note) where the note says which data
        it took when that was not the file's; ValueError if no data fits."""
        spec, note, loaded = DataSpec.from_block(model.data), "", None
        if spec is not None:
            try:
                loaded = spec.load()
            except (ValueError, OSError) as e:  # DataError is a ValueError
                note = f"its data could not be rebuilt: {e}"
        if loaded is None or loaded[0].X.shape[1] != model.inputs:
            if fallback is None or fallback.dataset.X.shape[1] != model.inputs:
                features = "" if fallback is None else f", the current data has {fallback.dataset.X.shape[1]} features,"
                raise ValueError(f"the model takes {model.inputs} inputs{features} and the file names no data set "
                                 f"that can be rebuilt{f' ({note})' if note else ''}. Import the matching CSV first.")
            spec, loaded, note = fallback.data, (fallback.dataset, fallback.train, fallback.test), \
                note or "kept the current data"
        session = cls(model.config, spec, weights=[(np.array(W), np.array(b)) for W, b in model.weights],
                      loaded=loaded, past=_past(model))
        return session, note

    # --- observers ---------------------------------------------------------------------------

    def setup(self):
        return Setup(Config.from_dict(self.config.to_dict()), self.train, self.test, tuple(self.ghosts))

    def snapshot(self, new=(), progress=0.0, measure=False):
        """Where the session stands now, with the Epochs `new` since the previous snapshot and
        `progress`, the share of the epoch in progress done; `measure`: with the loss and metric
        at the weights now (after an edit of them; they are not an epoch)."""
        t = self.trainer
        return Snapshot(run=t.run, runs=self.config.evals, epoch=t.epoch, epochs=self.config.epochs,
                        done=self.done_epochs, total=self.total_epochs, elapsed=t.elapsed, new=tuple(new),
                        weights=tuple(t.weights()), grads=tuple(t.grads()), stop=t.stop_reason,
                        finished=self.finished, summary=self.summary() if self.finished else None,
                        progress=progress, measured=t.measure() if measure else None)


def _past(model):
    """The Epochs a model file records (its history, thinned as saved), the last one with the
    reason its run stopped: the imported run goes on from there. Stopped by the user, it may
    simply go on; at its budget, a larger budget lets it (see `Session.edit`)."""
    h = model.history
    epochs = h.get("epoch") or []
    columns = [h.get(k) or [None] * len(epochs) for k in History.FIELDS[1:]]
    past = [Epoch(0, int(e), *row) for e, *row in zip(epochs, *columns) if e is not None]
    # A loss saved as null was not finite (JSON has no inf): an Epoch's train loss is a float.
    past = [e if e.train_loss is not None else dataclasses.replace(e, train_loss=math.nan) for e in past]
    if not past:
        return ()
    stop = model.metrics.get("stop")
    if not isinstance(stop, str) or stop == STOPPED:
        stop = EXHAUSTED if model.config.epochs and past[-1].epoch >= model.config.epochs else None
    past[-1] = dataclasses.replace(past[-1], stop=stop)
    return past
