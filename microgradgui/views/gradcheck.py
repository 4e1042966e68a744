"""The gradient check, one click: the engine's gradient against central finite differences at
the weights of the latest snapshot (`micrograd.gradcheck`): a row per layer, the scatter of
analytic against numeric derivatives around the line y = x, and PASS or FAIL.

The check runs in a thread of its own on a copy of the snapshot's weights and a run of its own
(`gradcheck.check` builds one), never on the session a training worker may be stepping: the
window stays live, and training may go on meanwhile. The button cancels a check in progress;
a new network or data (`prepare`) or closing the window cancels it too.
"""
from __future__ import annotations

import threading
import time

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from micrograd import gradcheck
from micrograd.train import Interrupted, Trainer

from ..worker import thread_for
from .base import LiveView
from .style import FOREGROUND, TRAIN_COLOR, PlotWidget, light_grid, set_row, style_plot, table_text

PASS_COLOR, FAIL_COLOR, KINK_COLOR = "#1b7f3b", "#b3261e", "#8c8c8c"
PROGRESS_PER_S = 10  # progress emits a second at most
# Seconds the check sleeps every BREATHE_EVERY seconds of work, GIL released: a training worker
# (and the window, between its events: see worker.GuiFirst) gets it at once. A pure-Python check
# beside pure-Python training otherwise doubled the window's p99 latency (benchmarks/
# gui_latency.py --engine value --gradcheck: 33 -> 15 ms). Per 10 ms of work, not per parameter:
# on the compiled engine a parameter takes microseconds, and the check mostly slept.
BREATHE, BREATHE_EVERY = 0.001, 0.01
COLUMNS = (  # (title, tooltip)
    ("checked", "Parameters of the layer checked (a big network on a slow engine: a sample spread evenly)"),
    ("kinks", "Checked, but a step of ±eps crosses a kink (relu's 0, the hinge's margin, L1's 0): a finite "
              "difference there is no derivative, so it is not judged"),
    ("failed", "|analytic − numeric| > atol + rtol·|numeric| (torch.autograd.gradcheck's test)"),
    ("max |a−n|", "The largest |analytic − numeric| of the layer's judged parameters"),
    ("max rel", "The largest |analytic − numeric| / max(|analytic|, |numeric|, 0.01)"),
    ("result", "PASS when no judged parameter of the layer fails"),
)


class CheckWorker(QtCore.QObject):
    """The check in a thread: `done(serial, Report)` or `errored(serial, str)`, then always
    `finished`. `serial` tells a cancelled check's late signals from the current one's.
    `stop()` abandons it at the next parameter (a plain flag: the thread has no event loop
    while it computes)."""

    progress = QtCore.Signal(int, float)
    done = QtCore.Signal(int, object)
    errored = QtCore.Signal(int, str)
    finished = QtCore.Signal()

    def __init__(self, serial, config, weights, train):
        super().__init__()  # no parent: it is moved to its own thread
        self.serial, self.config, self.weights, self.train = serial, config, weights, train
        self.stop_event = threading.Event()
        self._last = self._breathed = 0.0

    def stop(self):
        self.stop_event.set()
        self.gui_first.let_go()

    def _progress(self, fraction):
        self.gui_first.wait(self.stop_event.is_set)
        if self.stop_event.is_set():
            raise Interrupted
        now = time.monotonic()
        if now - self._breathed >= BREATHE_EVERY:
            time.sleep(BREATHE)
            now = self._breathed = time.monotonic()
        if now - self._last >= 1.0 / PROGRESS_PER_S:
            self._last = now
            self.progress.emit(self.serial, fraction)

    @QtCore.Slot()
    def run(self):
        try:
            trainer = Trainer(self.config.replace(), self.train, weights=self.weights)
            report = gradcheck.check_trainer(trainer, gradcheck.affordable(trainer), self._progress)
            self.done.emit(self.serial, report)
        except Interrupted:
            pass
        except Exception as e:  # noqa: BLE001 - a failure reaches the user as a message
            self.errored.emit(self.serial, str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}")
        finally:
            self.finished.emit()


class GradCheckView(LiveView, QtWidgets.QWidget):
    """Check gradients at the latest weights: the per-layer table, the scatter, the verdict."""

    title = "Gradient check"
    reported = QtCore.Signal(object)  # a gradcheck.Report, once a check is done
    errored = QtCore.Signal(str)      # a check that could not run (a diverged point...)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("gradCheckView")
        self.button = QtWidgets.QPushButton("Check gradients")
        self.button.setObjectName("gradCheckButton")
        self.button.setToolTip("Compare the engine's gradient with central finite differences, parameter by "
                               "parameter, at the current weights on the training data "
                               "(torch.autograd.gradcheck's tolerances)")
        self.button.clicked.connect(self._on_click)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setObjectName("gradCheckProgress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(160)
        self.progress.hide()
        self.verdict = QtWidgets.QLabel("")
        self.verdict.setObjectName("gradCheckVerdict")
        font = self.verdict.font()
        font.setBold(True)
        self.verdict.setFont(font)
        self.note = QtWidgets.QLabel("")
        self.note.setObjectName("gradCheckNote")
        self.note.setStyleSheet(f"color: {FOREGROUND};")
        self.note.setWordWrap(True)

        self.table = QtWidgets.QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("gradCheckTable")
        for c, (name, tip) in enumerate(COLUMNS):
            item = QtWidgets.QTableWidgetItem(name)
            item.setToolTip(tip)
            self.table.setHorizontalHeaderItem(c, item)
        self.table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.graphics = PlotWidget(self)
        self.plot = self.graphics.addPlot()
        style_plot(self.plot, None, "analytic (engine)", "numeric (central difference)")
        # The key as the title: a legend inside the plot sits on the diagonal, where the points are.
        self.plot.setTitle(f'<span style="color:{TRAIN_COLOR}">●</span> agrees &nbsp; '
                           f'<span style="color:{KINK_COLOR}">○</span> at a kink &nbsp; '
                           f'<span style="color:{FAIL_COLOR}">●</span> differs &nbsp; ╌ y = x',
                           size="9pt", color=FOREGROUND)
        light_grid(self.plot)
        self.plot.setMenuEnabled(False)
        self.diagonal = self.plot.plot([], [], pen=pg.mkPen(FOREGROUND, width=1, style=QtCore.Qt.PenStyle.DashLine))
        self.agree = pg.ScatterPlotItem(size=6, pen=pg.mkPen(TRAIN_COLOR), brush=pg.mkBrush(TRAIN_COLOR))
        self.kinks = pg.ScatterPlotItem(size=9, pen=pg.mkPen(KINK_COLOR, width=1.5), brush=None)
        self.wrong = pg.ScatterPlotItem(size=8, pen=None, brush=pg.mkBrush(FAIL_COLOR))
        for z, item in enumerate((self.agree, self.kinks, self.wrong)):
            item.setZValue(z + 1)  # the few above the many
            self.plot.addItem(item)

        bar = QtWidgets.QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 0)
        bar.addWidget(self.button)
        bar.addWidget(self.progress)
        bar.addWidget(self.verdict, 1)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal, self)
        split.addWidget(self.table)
        split.addWidget(self.graphics)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([500, 420])
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        layout.addWidget(self.note)

        self._setup = None
        self._report = None
        self._thread = self._worker = None
        self._stopping = []        # threads of cancelled checks, until they end
        self._serial = 0           # of the current (or last) check
        self._checked_at = None    # (run, epoch) of the weights checked
        self._watching = None      # the window whose closing cancels a check

    # the view protocol
    def prepare(self, setup) -> None:
        self.cancel()  # its network or data is gone
        self._setup = setup
        self._show(None)
        self.note.setText("Press Check gradients to compare the engine's gradient with finite differences "
                          "at the current weights.")

    def new_data(self, setup) -> None:
        self._setup = setup  # the next check runs on the points there are now

    def present(self, snapshot) -> None:
        """Nothing to draw per frame: a result stays until the next check."""

    # public API
    @property
    def running(self) -> bool:
        return self._thread is not None

    def report(self):
        """The last check's `gradcheck.Report`, or None."""
        return self._report

    def check(self) -> None:
        """Check at the weights of the latest snapshot (nothing before one, or while checking)."""
        if self.running or self._setup is None or self._latest is None:
            return
        snapshot = self._latest
        weights = [(W.copy(), b.copy()) for W, b in snapshot.weights]
        self._checked_at = (snapshot.run, snapshot.epoch)
        self._serial += 1
        worker = CheckWorker(self._serial, self._setup.config, weights, self._setup.train)
        thread = thread_for(worker, "gradCheckThread")
        # Slots of this widget, in the GUI thread: queued, and delivered even once the worker is gone.
        worker.progress.connect(self._on_progress)
        worker.done.connect(self._on_done)
        worker.errored.connect(self._on_error)
        thread.finished.connect(self._on_finished)
        self._thread, self._worker = thread, worker
        self._watch_window()
        self.button.setText("Cancel")
        self.progress.setValue(0)
        self.progress.show()
        self.verdict.setText("checking…")
        self.verdict.setStyleSheet(f"color: {FOREGROUND};")
        thread.start()

    def cancel(self) -> None:
        """Abandon a check in progress, without waiting: its thread stops at the next parameter
        (on the reference engine and a big network, a large fraction of a second), and what it
        still sends is ignored."""
        if self._thread is None:
            return
        self._worker.stop()
        self._stopping.append(self._thread)
        self._ended()
        self.verdict.setText("cancelled")

    def _stop_all(self) -> None:
        """Cancel, and wait for every thread still stopping: none may outlive the window."""
        self.cancel()
        for thread in self._stopping:
            _finished(thread, wait=True)
        self._stopping.clear()

    # internals
    def _on_click(self) -> None:
        if self.running:
            self.cancel()
        else:
            self.check()

    def _watch_window(self) -> None:
        """Closing the window cancels a check: a view inside it sees no closeEvent of its own."""
        window = self.window()
        if window is not self and window is not self._watching:
            window.installEventFilter(self)
            self._watching = window

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QtCore.QEvent.Type.Close:
            self._stop_all()
        return False

    def closeEvent(self, event) -> None:
        self._stop_all()
        super().closeEvent(event)

    def _current(self, serial) -> bool:
        """A signal of the check in progress (not of one cancelled since)."""
        return self.running and serial == self._serial

    @QtCore.Slot(int, float)
    def _on_progress(self, serial, fraction) -> None:
        if self._current(serial):
            self.progress.setValue(int(fraction * 1000))

    @QtCore.Slot(int, object)
    def _on_done(self, serial, report) -> None:
        if self._current(serial):
            self._show(report)
            self.reported.emit(report)

    @QtCore.Slot(int, str)
    def _on_error(self, serial, message) -> None:
        if not self._current(serial):
            return
        self.verdict.setText("could not check")
        self.verdict.setStyleSheet(f"color: {FAIL_COLOR};")
        self.note.setText(message)
        self.errored.emit(message)

    @QtCore.Slot()
    def _on_finished(self) -> None:
        self._stopping = [t for t in self._stopping if not _finished(t)]
        if self._thread is not None and _finished(self._thread):
            self._ended()

    def _ended(self) -> None:
        self._thread = self._worker = None
        self.button.setText("Check gradients")
        self.progress.hide()

    def _show(self, report) -> None:
        self._report = report
        rows = [] if report is None else report.layers
        self.table.setRowCount(len(rows))
        self.table.setVerticalHeaderLabels([f"{row.layer + 1}: {row.shape[0]}×{row.shape[1]}" for row in rows])
        for r, row in enumerate(rows):
            checked = str(row.checked) if row.checked == row.parameters else f"{row.checked} of {row.parameters}"
            cells = (checked, str(row.kinks), str(row.failed), table_text(row.max_error), table_text(row.max_rel),
                     "PASS" if row.passed else "FAIL")
            set_row(self.table, r, cells)
            self.table.item(r, len(cells) - 1).setForeground(QtGui.QColor(PASS_COLOR if row.passed else FAIL_COLOR))
        if report is None:
            self.verdict.setText("")
            for item in (self.agree, self.kinks, self.wrong):
                item.setData([], [])
            self.diagonal.setData([], [])
            return
        self.verdict.setText("PASS" if report.passed else "FAIL")
        self.verdict.setStyleSheet(f"color: {PASS_COLOR if report.passed else FAIL_COLOR};")
        self.verdict.setToolTip(report.verdict())
        run, epoch = self._checked_at
        penalties = "".join(f" + {n} {w:g}" for n, w in (("L1", self._setup.config.l1), ("L2", self._setup.config.l2)) if w)
        self.note.setText(f"{report.verdict()}. At epoch {epoch}{f' of run {run + 1}' if self._setup.config.evals > 1 else ''}"
                          f", {self._setup.config.loss} loss{penalties} on {report.samples} training samples, "
                          f"{report.engine} engine; eps {report.eps:g}, pass when |analytic − numeric| ≤ "
                          f"{report.atol:g} + {report.rtol:g}·|numeric|.")
        finite = np.isfinite(report.numeric) & np.isfinite(report.analytic)
        for item, mask in ((self.agree, report.ok & ~report.kink), (self.kinks, report.kink),
                           (self.wrong, ~report.ok & ~report.kink)):
            mask = mask & finite
            item.setData(report.numeric[mask], report.analytic[mask])
        values = np.concatenate([report.numeric[finite], report.analytic[finite]])
        lo, hi = (float(values.min()), float(values.max())) if values.size else (-1.0, 1.0)
        pad = 0.05 * (hi - lo) or 1.0
        self.diagonal.setData([lo - pad, hi + pad], [lo - pad, hi + pad])


def _finished(thread, wait=False) -> bool:
    """True once `thread` has ended (after waiting for it, with `wait`). One that is finishing
    still deletes its worker: wait for that, as dropping our reference meanwhile races with it."""
    try:
        return (wait or thread.isFinished()) and thread.wait()
    except RuntimeError:  # deleteLater already ran: it had finished
        return True
