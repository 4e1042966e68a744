"""Training off the GUI thread.

`RunState` (no Qt) holds one training session: the `Session`, its trainers
generator and the current `Trainer`. Exactly one thread touches it at a time:
the worker while its thread runs, the GUI thread (Step, set_lr, drawing the
initial weights) while no thread runs. Pausing therefore *ends* the worker and
its thread after the current epoch; Train starts a fresh worker on the same
`RunState`, so a paused run holds no thread and closing the window while paused
has nothing to wait for.

`TrainWorker` is a parentless `QObject` moved to a `QThread`
(`started -> run`, `finished -> quit`, `deleteLater` on both). Stop and pause
are `threading.Event`s checked between epochs. It emits at most `MAX_EMITS_PER_S`
`progress` signals a second, each an `Update` with every `Epoch` since the
previous emit plus one fresh `Snapshot`; the last epochs of a run are always
emitted. It reports any exception through `errored(str)` and always emits
`finished`.
"""
from __future__ import annotations

import threading
import time
import traceback
import weakref
from dataclasses import dataclass, field

from PySide6 import QtCore

from micrograd.train import Config, Session

# Every QThread the GUI creates; tests/conftest.py fails a test that leaves one running.
LIVE_THREADS: "weakref.WeakSet[QtCore.QThread]" = weakref.WeakSet()

MAX_EMITS_PER_S = 30


@dataclass
class Update:
    """What the window draws from one emit: the epochs since the last emit and one snapshot."""

    state: "RunState"
    run: int
    epochs: list
    snapshot: object  # micrograd.train.Snapshot
    summary: dict | None = None  # set on the emit that ends the last run


@dataclass
class RunState:
    """One session of `cfg.evals` runs, advanced one epoch at a time."""

    cfg: Config
    train: object
    test: object
    session: Session = field(init=False)
    trainer: object = field(init=False)
    finished: bool = field(init=False, default=False)
    lr: float | None = field(init=False, default=None)  # a pending learning-rate change
    diverged: list = field(init=False, default_factory=list)  # stop messages of diverged runs

    def __post_init__(self):
        self.cfg = Config.from_dict(self.cfg.to_dict())  # our own copy: the GUI keeps editing its own
        self.session = Session(self.cfg, self.train, self.test)
        self._trainers = self.session.trainers()
        self.trainer = next(self._trainers)  # run 0 exists at once: its initial weights are drawn

    @property
    def total_epochs(self):
        return self.cfg.epochs * self.cfg.evals

    @property
    def epochs_done(self):
        """Epochs completed across every run so far (a run that stopped early counts as full)."""
        t = self.trainer
        return t.run * self.cfg.epochs + (self.cfg.epochs if t.done else t.epoch)

    def set_lr(self, lr):
        """Change the learning rate of this and every later run, from the next epoch on."""
        self.cfg.lr = float(lr)
        self.lr = float(lr)

    def step(self):
        """Train one epoch of the current run; returns its `Epoch`. Call `advance()` once done."""
        if self.lr is not None:
            self.trainer.set_lr(self.lr)
            self.lr = None
        epoch = self.trainer.step()
        if epoch.stop and epoch.stop.startswith("diverged"):
            self.diverged.append(f"run {epoch.run + 1}: {epoch.stop}" if self.cfg.evals > 1 else epoch.stop)
        return epoch

    def advance(self):
        """Move on to the next run; False (and `finished`) when every run is done."""
        try:
            self.trainer = next(self._trainers)
        except StopIteration:
            self.finished = True
            return False
        if self.cfg.lr != self.trainer.optimizer.lr:
            self.trainer.set_lr(self.cfg.lr)
        return True

    @property
    def can_step(self):
        return not self.finished and not (self.trainer.done and self.trainer.run == self.cfg.evals - 1)


class TrainWorker(QtCore.QObject):
    progress = QtCore.Signal(object)  # Update
    errored = QtCore.Signal(str)
    finished = QtCore.Signal()

    def __init__(self, state: RunState, max_emits_per_s: float = MAX_EMITS_PER_S):
        super().__init__()  # no parent: it is moved to its own thread
        self.state = state
        self.interval = 1.0 / max_emits_per_s
        self.stop_event = threading.Event()
        self.pause_event = threading.Event()

    def stop(self):
        self.stop_event.set()

    def pause(self):
        self.pause_event.set()

    def _emit(self, epochs, summary=None):
        st = self.state
        self.progress.emit(Update(st, st.trainer.run, epochs, st.trainer.snapshot(), summary))

    @QtCore.Slot()
    def run(self):
        st = self.state
        pending, last = [], 0.0
        try:
            while not (self.stop_event.is_set() or self.pause_event.is_set()):
                if st.trainer.done:
                    if not st.advance():
                        break
                    continue
                pending.append(st.step())
                now = time.monotonic()
                if st.trainer.done or now - last >= self.interval:
                    self._emit(pending)
                    pending, last = [], now
            if pending:
                self._emit(pending)
            if st.finished:
                self._emit([], summary=st.session.summary())
        except Exception as e:  # noqa: BLE001 - every failure reaches the user as a message
            traceback.print_exc()
            self.errored.emit(f"{type(e).__name__}: {e}")
        finally:
            self.finished.emit()


def start_worker(state: RunState, on_progress, on_errored, on_thread_finished, max_emits_per_s=MAX_EMITS_PER_S):
    """Create a worker and its thread, wire them, start; returns (thread, worker)."""
    thread = QtCore.QThread()
    thread.setObjectName("trainingThread")
    LIVE_THREADS.add(thread)
    worker = TrainWorker(state, max_emits_per_s)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    # Direct: quit from the worker thread itself, so a GUI thread blocked in wait() is not needed.
    worker.finished.connect(thread.quit, QtCore.Qt.ConnectionType.DirectConnection)
    thread.finished.connect(worker.deleteLater)
    thread.finished.connect(thread.deleteLater)
    worker.progress.connect(on_progress)
    worker.errored.connect(on_errored)
    thread.finished.connect(on_thread_finished)
    thread.start()
    return thread, worker
