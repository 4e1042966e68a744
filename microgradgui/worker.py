"""Training off the GUI thread.

A `micrograd.session.Session` is touched by one thread at a time: the worker while its
thread runs, the GUI thread (drawing the initial weights, exporting) while no thread runs.
Pausing therefore *ends* the worker and its thread after the current epoch; Train starts
a fresh worker on the same session, so a paused run holds no thread and closing the
window while paused has nothing to wait for. The one exception is a learning-rate edit,
which the session allows from any thread (`Session.edit`).

`TrainWorker` is a parentless `QObject` moved to a `QThread`
(`started -> run`, `finished -> quit`, `deleteLater` on both). Stop and pause
are `threading.Event`s checked between epochs. It emits at most `MAX_EMITS_PER_S`
`progress` signals a second, each a `Frame`: a `Snapshot` with every `Epoch` since the
previous emit, taken by the worker itself (the window never reads a session a worker is
changing); the last epochs of a run are always emitted. It reports any exception
through `errored(str)` and always emits `finished`.

Back-pressure: pure-Python training holds the GIL, and a GUI frame hands the GIL back
and forth hundreds of times (PySide releases it around every Qt call, pyqtgraph paints
in Python), each time waiting for the busy worker to give it back. So the worker never
trains while the GUI draws: every emit carries a `FrameGate` the worker then waits on
(blocked, GIL released) until the GUI has drawn *and painted* that update and reports
`done()`, or `MAX_GUI_WAIT` passes. It also spaces its emits by at least
`FRAME_SPACING` x the last frame's cost (between 1/MAX_EMITS_PER_S and 1/MIN_EMITS_PER_S
seconds), so a slow frame leaves the GUI idle time of its own. While it trains, the GIL
switch interval is `SWITCH_INTERVAL`, so the GUI thread gets the GIL back within a
fraction of a millisecond (for timers, input) instead of CPython's default 5 ms. And while
the GUI thread handles any event (a click, a restart, a tab), every background engine thread
waits at its next check point (`GuiFirst`).
"""
from __future__ import annotations

import functools
import gc
import sys
import threading
import time
import traceback
import weakref
from typing import NamedTuple

from PySide6 import QtCore

from micrograd.session import Snapshot
from micrograd.train import Interrupted

# Every QThread the GUI creates; tests/conftest.py fails a test that leaves one running.
LIVE_THREADS: "weakref.WeakSet[QtCore.QThread]" = weakref.WeakSet()

MAX_EMITS_PER_S = 30
MIN_EMITS_PER_S = 15     # the adaptive spacing never lets the window fall below this frame rate
FRAME_SPACING = 2.0      # train for at least this many times the last frame's cost between emits
MAX_GUI_WAIT = 0.25      # s; a GUI that never reports a frame slows training, never stops it
SWITCH_INTERVAL = 0.0005  # s; sys.setswitchinterval while a worker trains (CPython's default: 0.005)
LONG_EPOCH = 0.1         # s; an epoch running longer sends frames of its progress (first visible in 0.3 s)
QUICK_EPOCH = 0.005      # s; after an epoch this short the next runs unchecked: a pause waits for it,
                         # and the demo network at full pace saves the state a check could restore
                         # (~15% of its epoch)


class GuiFirst(QtCore.QObject):
    """The GUI thread's turn: background engine threads (training, the gradient check) wait at
    their next check point while the GUI thread handles events, for at most `MAX_GUI_WAIT`.

    The GIL goes round the threads that want it, so beside one busy Python thread the window's
    work took twice its time, beside two (training and a gradient check) four to eight times:
    a click on the decision plot of 8 x 64 took 0.3-0.8 s instead of 70 ms. Every event the GUI
    thread handles passes an application-wide filter, which marks the GUI busy; the event
    loop's `aboutToBlock` (nothing left to handle) marks it idle again. The filter takes itself
    out at the first event and goes back in at `aboutToBlock`: a Python call on every event
    made building the window 50% slower. A worker being stopped or paused goes on at once
    (`let_go`): the GUI thread may be blocked waiting for it to end."""

    _instance = None

    def __init__(self):
        super().__init__()
        self._idle = True
        self._turn = threading.Condition()
        self._app = QtCore.QCoreApplication.instance()
        self._app.installEventFilter(self)
        QtCore.QAbstractEventDispatcher.instance(self._app.thread()).aboutToBlock.connect(self._on_idle)

    @classmethod
    def install(cls):
        """The filter, installed once (call it from the GUI thread)."""
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def eventFilter(self, watched, event):
        self._idle = False  # a plain store: waiters only wait for it to turn True
        self._app.removeEventFilter(self)
        return False

    def _on_idle(self):
        if not self._idle:
            self._app.installEventFilter(self)
            with self._turn:
                self._idle = True
                self._turn.notify_all()

    def let_go(self):
        """Wake the waiting threads to look again: the one whose `done()` is now true goes on."""
        with self._turn:
            self._turn.notify_all()

    def wait(self, done):
        """Called by a background thread at its check points: the GUI's turn first, unless
        `done()` (the thread is to end)."""
        if not self._idle:
            with self._turn:
                self._turn.wait_for(lambda: self._idle or done(), MAX_GUI_WAIT)


def thread_for(worker, name):
    """A new QThread (registered in LIVE_THREADS, not started) that runs `worker.run` and ends
    when the worker emits `finished`; both are deleted once it has ended. Its worker's check
    points wait for the GUI's turn (`GuiFirst`)."""
    worker.gui_first = GuiFirst.install()
    thread = QtCore.QThread()
    thread.setObjectName(name)
    LIVE_THREADS.add(thread)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    # Direct: quit from the worker thread itself, so a GUI thread blocked in wait() is not needed.
    worker.finished.connect(thread.quit, QtCore.Qt.ConnectionType.DirectConnection)
    # The worker is deleted in the GUI thread, not in its own as that thread finishes: there,
    # ~QObject holds one of Qt's signal-slot mutexes and asks Python (for the GIL) about
    # overrides while the GUI thread, holding the GIL, may wait for that same mutex to connect
    # a signal: the suite hung once in 16 runs under load (scripts/stress-check.sh).
    worker.finished.connect(functools.partial(_home, worker), QtCore.Qt.ConnectionType.DirectConnection)
    thread.finished.connect(worker.deleteLater)
    thread.finished.connect(thread.deleteLater)
    return thread


def _home(worker):
    """Give `worker` to the GUI thread (called in its own thread, the only one that may)."""
    worker.moveToThread(QtCore.QCoreApplication.instance().thread())


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


class Frame(NamedTuple):
    """One emit: the snapshot to draw, the `tag` the worker was started with (the window drops
    frames of a session it has reset since), and the gate to open once drawn (or None)."""

    tag: object
    snapshot: Snapshot
    gate: FrameGate | None


class TrainWorker(QtCore.QObject):
    progress = QtCore.Signal(object)  # Frame
    errored = QtCore.Signal(str)
    finished = QtCore.Signal()

    def __init__(self, session, tag=None, max_emits_per_s: float = MAX_EMITS_PER_S, epochs: int | None = None,
                 pace: float | None = None):
        super().__init__()  # no parent: it is moved to its own thread
        self.session, self.tag = session, tag
        self.epochs = epochs  # train this many epochs, then end as if paused (None: until stopped)
        # Epochs per second (None: as fast as it can). The window may set it while this trains:
        # it is read before each epoch.
        self.pace = pace
        self.interval = 1.0 / max_emits_per_s
        self.min_interval = max(self.interval, 1.0 / MIN_EMITS_PER_S)
        self.stop_event = threading.Event()
        self.pause_event = threading.Event()
        self.wake = threading.Event()  # ends a wait for the next paced epoch: set by stop and pause
        self.gate = FrameGate()

    def stop(self):
        self.stop_event.set()
        self.wake.set()
        self.gate.done()  # wake a worker waiting for the GUI
        self.gui_first.let_go()

    def pause(self):
        self.pause_event.set()
        self.wake.set()
        self.gate.done()
        self.gui_first.let_go()

    def _ending(self):
        return self.stop_event.is_set() or self.pause_event.is_set()

    def _emit(self, epochs, gated=False, progress=0.0):
        if gated:
            self.gate.clear()
        self.progress.emit(Frame(self.tag, self.session.snapshot(epochs, progress), self.gate if gated else None))

    def _check(self, fraction):
        """Called by the run every few samples of an epoch: a pause or a stop abandons the epoch
        (the run is left as it was before it), and a long epoch reports how far it has got."""
        self.gui_first.wait(self._ending)
        if self._ending():
            raise Interrupted
        if not 0.0 < fraction < 1.0:
            return  # nothing done yet (a new network's compile, which checks too), or all: sent whole
        now = time.monotonic()
        if self._epoch_started is None:
            self._epoch_started = now
        # Only a long epoch reports its progress: a quick one is sent whole soon enough.
        elif now - self._epoch_started >= LONG_EPOCH and now - self._last >= self.emit_interval():
            self._emit(self._pending, gated=True, progress=fraction)
            self._pending = []
            if not self.gate.wait(MAX_GUI_WAIT):
                self.gate.done()
            self._last = time.monotonic()

    def _wait(self, seconds):
        """Until the next paced epoch is due; pause, stop and a new pace end it at once."""
        self.wake.wait(seconds)

    def emit_interval(self) -> float:
        """Seconds between emits: 1/max_emits_per_s, or FRAME_SPACING x the last frame's cost."""
        return min(max(self.interval, FRAME_SPACING * self.gate.cost), self.min_interval)

    @QtCore.Slot()
    def run(self):
        session = self.session
        self._pending, self._last, trained, started = [], 0.0, 0, None
        quick, ended = False, None  # ended: when the last epoch ended, if training went straight on
        self._epoch_started = None  # when the epoch in progress began: its first check reads the clock
        try:
            while not (self.stop_event.is_set() or self.pause_event.is_set()) and session.can_step:
                if not self.gate.is_done():
                    # The GUI is drawing our last update: let it have the GIL to itself.
                    if not self.gate.wait(MAX_GUI_WAIT):
                        self.gate.done()  # no word from the GUI: train on regardless
                    self._last = time.monotonic()  # the spacing counts from the end of the frame
                    ended = None
                    continue
                pace = self.pace  # read each time: the window may change it meanwhile
                if pace:
                    now = time.monotonic()
                    if started is not None and started + 1.0 / pace > now:
                        self._wait(started + 1.0 / pace - now)
                        ended = None
                        continue
                    started = now
                self._epoch_started = None
                self.gui_first.wait(self._ending)
                try:
                    epoch = session.step(None if quick else self._check)  # (_check may send and replace _pending)
                except Interrupted:
                    break  # paused or stopped mid-epoch: that epoch never happened
                self._pending.append(epoch)
                trained += 1
                if trained == self.epochs:
                    break
                now = time.monotonic()
                quick, ended = ended is not None and now - ended < QUICK_EPOCH, now
                if session.trainer.done or now - self._last >= self.emit_interval():
                    self._emit(self._pending, gated=True)  # a run's last epoch is always sent at once
                    self._pending, self._last = [], now
            if self._pending:
                self._emit(self._pending)
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
    GUI's: 50+ ms pauses). Frozen, they are skipped. No collection first (it took 70-90 ms of
    the click on Train): garbage frozen now is unfrozen with the rest when the last worker ends,
    and collected then."""
    global _frozen_workers
    with _frozen_lock:
        if _frozen_workers == 0:
            gc.freeze()
        _frozen_workers += 1


def _thaw_heap():
    """Undo `_freeze_heap` once the last running worker has ended (any thread may call it)."""
    global _frozen_workers
    with _frozen_lock:
        _frozen_workers -= 1
        if _frozen_workers == 0:
            gc.unfreeze()


class Runner(QtCore.QObject):
    """The window's one training worker at a time: start, pause, stop (and wait), and the
    workers that outlived a wait.

    A worker that does not stop within `STOP_WAIT_MS` (one epoch of a huge network on the
    reference engine) is kept as an orphan until its thread ends: dropping the last reference
    to a running QThread aborts the process. While an orphan still trains a session, no
    other worker may start on it (`busy`)."""

    frame = QtCore.Signal(object)     # a Frame from the current worker
    errored = QtCore.Signal(str)
    ended = QtCore.Signal()           # the current worker's thread has finished
    orphansEnded = QtCore.Signal()    # the last orphan's thread has finished

    STOP_WAIT_MS = 10_000

    def __init__(self, parent=None):
        super().__init__(parent)
        self.training_thread = self.worker = None
        self.orphans = []  # (thread, worker) still running after we stopped waiting
        self.max_emits_per_s = MAX_EMITS_PER_S
        self._pace = None  # epochs per second, None: as fast as it can

    @property
    def pace(self):
        return self._pace

    @pace.setter
    def pace(self, epochs_per_second):
        """Applies to the running worker too, from its next epoch."""
        self._pace = epochs_per_second
        if self.worker is not None and not self.stepping:
            self.worker.pace = epochs_per_second
            self.worker.wake.set()  # a long wait for a slow pace ends now, at the new pace
            self.worker.wake.clear()

    @property
    def running(self):
        return self.training_thread is not None

    @property
    def stepping(self):
        """The current worker trains a fixed number of epochs (a Step), not until paused."""
        return self.worker is not None and self.worker.epochs is not None

    def busy(self, session):
        """True while an orphaned worker still trains `session`."""
        return any(w.session is session for _, w in self.orphans)

    def start(self, session, tag=None, epochs=None):
        """A worker on `session` in a new thread; `tag` comes back in every `Frame`. `epochs`: end
        after that many epochs (a Step, at once whatever the pace), else train until paused,
        stopped or finished, at `pace` epochs a second."""
        if sys.getswitchinterval() > SWITCH_INTERVAL:
            sys.setswitchinterval(SWITCH_INTERVAL)  # process-wide; harmless when nothing contends
        _freeze_heap()  # on the GUI thread: what the collection frees is freed here; the worker thaws
        worker = TrainWorker(session, tag, self.max_emits_per_s, epochs, None if epochs else self.pace)
        thread = thread_for(worker, "trainingThread")
        # Signals and slots of this object, which lives in the GUI thread: queued in order, and
        # delivered even after the thread and worker are deleted. (A plain function or lambda
        # connected to the worker's signals is tied to the sender: its queued call can be lost
        # when the thread is deleted first.)
        worker.progress.connect(self.frame)
        worker.errored.connect(self.errored)
        thread.finished.connect(self._on_finished)
        self.training_thread, self.worker = thread, worker
        thread.start()

    def pause(self):
        if self.worker is not None:
            self.worker.pause()

    def stop(self):
        """Stop the worker (its epoch in progress is abandoned) and wait for its thread. False
        if it still runs after the wait."""
        if self.training_thread is None:
            return True
        self.worker.stop()
        stopped = self.training_thread.wait(self.STOP_WAIT_MS)
        if not stopped:
            self.orphans.append((self.training_thread, self.worker))
        self.training_thread = self.worker = None
        return stopped

    @staticmethod
    def _finished(thread):
        """True once `thread` has ended. One that is finishing (isFinished() is already true
        then) still deletes its worker: wait for that, as dropping our references to the
        worker meanwhile races with it (a crash)."""
        try:
            return thread.isFinished() and thread.wait()
        except RuntimeError:  # deleteLater already ran: it had finished
            return True

    @QtCore.Slot()
    def _on_finished(self):
        had_orphans = bool(self.orphans)
        self.orphans = [o for o in self.orphans if not self._finished(o[0])]
        if had_orphans and not self.orphans:
            self.orphansEnded.emit()
        if self.training_thread is not None and self._finished(self.training_thread):
            self.training_thread = self.worker = None
            self.ended.emit()
