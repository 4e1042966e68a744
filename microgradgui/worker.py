"""Training off the GUI thread.

`RunState` (no Qt) holds one training session: the `Session`, its trainers
generator and the current `Trainer`. Exactly one thread touches it at a time:
the worker while its thread runs, the GUI thread (drawing the initial weights,
exporting) while no thread runs. Pausing therefore *ends* the worker and its
thread after the current epoch; Train starts a fresh worker on the same
`RunState`, so a paused run holds no thread and closing the window while paused
has nothing to wait for. The one exception is `set_lr`, which the GUI calls at
any time: the pending rate is handed over under a lock. What the window shows
of a running session (run, epoch, progress) travels in each `Update`, read by
the worker as it emits.

`TrainWorker` is a parentless `QObject` moved to a `QThread`
(`started -> run`, `finished -> quit`, `deleteLater` on both). Stop and pause
are `threading.Event`s checked between epochs. It emits at most `MAX_EMITS_PER_S`
`progress` signals a second, each an `Update` with every `Epoch` since the
previous emit plus one fresh `Snapshot`; the last epochs of a run are always
emitted. It reports any exception through `errored(str)` and always emits
`finished`.

Back-pressure: pure-Python training holds the GIL, and a GUI frame hands the GIL back
and forth hundreds of times (PySide releases it around every Qt call, pyqtgraph paints
in Python), each time waiting for the busy worker to give it back. So the worker never
trains while the GUI draws: every emit carries a `FrameGate` the worker then waits on
(blocked, GIL released) until the GUI has drawn *and painted* that update and reports
`done()`, or `MAX_GUI_WAIT` passes. It also spaces its emits by at least
`FRAME_SPACING` x the last frame's cost (between 1/MAX_EMITS_PER_S and 1/MIN_EMITS_PER_S
seconds), so a slow frame leaves the GUI idle time of its own. While it trains, the GIL
switch interval is `SWITCH_INTERVAL`, so the GUI thread gets the GIL back within a
fraction of a millisecond (for timers, input) instead of CPython's default 5 ms.
"""
from __future__ import annotations

import gc
import sys
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
MIN_EMITS_PER_S = 15     # the adaptive spacing never lets the window fall below this frame rate
FRAME_SPACING = 2.0      # train for at least this many times the last frame's cost between emits
MAX_GUI_WAIT = 0.25      # s; a GUI that never reports a frame slows training, never stops it
SWITCH_INTERVAL = 0.0005  # s; sys.setswitchinterval while a worker trains (CPython's default: 0.005)


class FrameGate:
    """Back-pressure between the worker and the window: the worker `clear()`s it as it emits
    and `wait()`s before training on; the window calls `done(cost)` once the frame that drew
    the update is painted. Thread-safe (a `threading.Event` and a float)."""

    def __init__(self):
        self._event = threading.Event()
        self._event.set()
        self.cost = 0.0  # seconds the last frame took (redraw + paint)

    def clear(self):
        self._event.clear()

    def done(self, cost: float | None = None):
        if cost is not None:
            self.cost = float(cost)
        self._event.set()

    def is_done(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)


@dataclass
class Update:
    """What the window draws from one emit: the epochs since the last emit, one snapshot and
    where the session stood then (read by the thread that owned the state, so the window
    never reads a trainer that a worker is changing)."""

    state: "RunState"
    run: int
    epoch: int  # of the current run
    epochs_done: int  # across every run (RunState.epochs_done)
    elapsed: float  # seconds the current run has trained
    epochs: list
    snapshot: object  # micrograd.train.Snapshot
    summary: dict | None = None  # set on the emit that ends the last run
    gate: FrameGate | None = None  # call gate.done() once this update is drawn and painted


@dataclass
class RunState:
    """One session of `cfg.evals` runs, advanced one epoch at a time."""

    cfg: Config
    train: object
    test: object
    session: Session = field(init=False)
    trainer: object = field(init=False)
    finished: bool = field(init=False, default=False)
    lr: float | None = field(init=False, default=None)  # a pending learning-rate change, under _lr_lock
    diverged: list = field(init=False, default_factory=list)  # stop messages of diverged runs

    def __post_init__(self):
        # set_lr comes from the GUI thread while a worker steps: without the lock, a change made
        # between the worker taking the pending rate and clearing it would be lost.
        self._lr_lock = threading.Lock()
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
        """Change the learning rate of this and every later run, from the next epoch on.
        Safe from any thread."""
        with self._lr_lock:
            self.cfg.lr = self.lr = float(lr)

    def step(self):
        """Train one epoch of the current run; returns its `Epoch`. Call `advance()` once done."""
        with self._lr_lock:
            lr, self.lr = self.lr, None
        if lr is not None:
            self.trainer.set_lr(lr)
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
        with self._lr_lock:
            lr = self.cfg.lr
        if lr != self.trainer.optimizer.lr:
            self.trainer.set_lr(lr)
        return True

    def update(self, epochs, summary=None, gate=None) -> Update:
        """An `Update` with a fresh snapshot; called by the thread that owns the state."""
        t = self.trainer
        return Update(self, t.run, t.epoch, self.epochs_done, t.elapsed, epochs, t.snapshot(), summary, gate)

    @property
    def can_step(self):
        return not self.finished and not (self.trainer.done and self.trainer.run == self.cfg.evals - 1)


class TrainWorker(QtCore.QObject):
    progress = QtCore.Signal(object)  # Update
    errored = QtCore.Signal(str)
    finished = QtCore.Signal()

    def __init__(self, state: RunState, max_emits_per_s: float = MAX_EMITS_PER_S, epochs: int | None = None):
        super().__init__()  # no parent: it is moved to its own thread
        self.state = state
        self.epochs = epochs  # train this many epochs, then end as if paused (None: until stopped)
        self.interval = 1.0 / max_emits_per_s
        self.min_interval = max(self.interval, 1.0 / MIN_EMITS_PER_S)
        self.stop_event = threading.Event()
        self.pause_event = threading.Event()
        self.gate = FrameGate()

    def stop(self):
        self.stop_event.set()
        self.gate.done()  # wake a worker waiting for the GUI

    def pause(self):
        self.pause_event.set()
        self.gate.done()

    def _emit(self, epochs, summary=None, gated=False):
        if gated:
            self.gate.clear()
        self.progress.emit(self.state.update(epochs, summary, self.gate if gated else None))

    def emit_interval(self) -> float:
        """Seconds between emits: 1/max_emits_per_s, or FRAME_SPACING x the last frame's cost."""
        return min(max(self.interval, FRAME_SPACING * self.gate.cost), self.min_interval)

    @QtCore.Slot()
    def run(self):
        st = self.state
        pending, last, trained = [], 0.0, 0
        try:
            while not (self.stop_event.is_set() or self.pause_event.is_set()):
                if not self.gate.is_done():
                    # The GUI is drawing our last update: let it have the GIL to itself.
                    if not self.gate.wait(MAX_GUI_WAIT):
                        self.gate.done()  # no word from the GUI: train on regardless
                    last = time.monotonic()  # the spacing counts from the end of the frame
                    continue
                if st.trainer.done:
                    if not st.advance():
                        break
                    continue
                pending.append(st.step())
                trained += 1
                if trained == self.epochs:
                    break
                now = time.monotonic()
                if st.trainer.done or now - last >= self.emit_interval():
                    self._emit(pending, gated=True)
                    pending, last = [], now
            if st.trainer.done and st.trainer.run == st.cfg.evals - 1 and not st.finished:
                st.advance()  # the last run has ended (a Step's epoch may end it): the session is finished
            if pending:
                self._emit(pending)
            if st.finished:
                self._emit([], summary=st.session.summary())
        except Exception as e:  # noqa: BLE001 - every failure reaches the user as a message
            traceback.print_exc()
            self.errored.emit(f"{type(e).__name__}: {e}")
        finally:
            _thaw_heap()  # here, not from thread.finished: a slot there is lost if the thread is deleted first
            self.finished.emit()


_frozen_lock = threading.Lock()
_frozen_workers = 0  # workers running with the heap frozen; under _frozen_lock


def _freeze_heap():
    """Freeze every object that exists now out of the cyclic collector's reach while workers run.

    The reference engine allocates millions of objects per second; the collector's full passes
    would walk the window's own objects each time, from whichever thread allocates (often the
    GUI's: 50+ ms pauses). Frozen, they are skipped. Collect first: garbage cycles of earlier
    sessions (a dropped compiled-engine Program...) would otherwise be frozen for good."""
    global _frozen_workers
    with _frozen_lock:
        if _frozen_workers == 0:
            gc.collect()
            gc.freeze()
        _frozen_workers += 1


def _thaw_heap():
    """Undo `_freeze_heap` once the last running worker has ended (any thread may call it)."""
    global _frozen_workers
    with _frozen_lock:
        _frozen_workers -= 1
        if _frozen_workers == 0:
            gc.unfreeze()


def start_worker(state: RunState, on_progress, on_errored, on_thread_finished, max_emits_per_s=MAX_EMITS_PER_S,
                 epochs=None):
    """Create a worker and its thread, wire them, start; returns (thread, worker).
    `epochs`: end after that many epochs (Step), else train until stopped or paused."""
    if sys.getswitchinterval() > SWITCH_INTERVAL:
        sys.setswitchinterval(SWITCH_INTERVAL)  # process-wide; harmless when nothing contends
    _freeze_heap()  # on the GUI thread: what the collection frees is freed here; the worker thaws
    thread = QtCore.QThread()
    thread.setObjectName("trainingThread")
    LIVE_THREADS.add(thread)
    worker = TrainWorker(state, max_emits_per_s, epochs)
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
