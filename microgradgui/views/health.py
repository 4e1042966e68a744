"""Layer health, live: per layer the share of dead relus and of saturated tanh/sigmoid units, the
gradient's size, and a flag when a layer is mostly dead or saturated or its gradient explodes or
vanishes (the definitions and thresholds are `micrograd.health`'s).

The numbers are measured at most `RATE` times a second, shown or hidden: the `warning` signal
(for the status bar) and `health()` (for a badge on the network diagram) must stay current
while another tab is in front. A measurement is one numpy forward pass over at most a thousand
training samples (about 0.1 ms on the demo network); no frame in between does anything but
note the snapshot. The table is filled only while the view is shown.
"""
from __future__ import annotations

import time

from PySide6 import QtCore, QtGui, QtWidgets

from micrograd import features, health

from .base import LiveView
from .style import FOREGROUND, set_row, table_text

RATE = 4  # measurements a second at most
clock = time.monotonic  # seconds; a test may replace it
COLUMNS = (
    ("activation", "The layer's activation and its units"),
    ("dead", "Share of relu units whose input is at most 0 on every training sample: they pass no "
             "gradient and never recover. Flagged above half."),
    ("saturated", "Share of tanh/sigmoid units saturated on most samples (|tanh| > 0.99, sigmoid within "
                  "0.005 of 0 or 1: slope under 2 % of its peak). Flagged above half, hidden layers only."),
    ("‖∇‖", "Norm of the layer's gradient (weights and biases) of the data loss, the L1/L2 penalty left out"),
    ("lr·‖∇‖/‖W‖", "A plain gradient step's size against the layer's own: about 0.001 is healthy. Above 1 the "
                   "gradient explodes; under 1/1000 of a later layer's ‖∇‖/‖W‖ it vanishes."),
    ("status", "OK, or what is wrong with the layer"),
)
BAD, BAD_BACKGROUND = QtGui.QColor("#b3261e"), QtGui.QColor("#fbe9e7")
LABELS = {health.DEAD: "dead", health.SATURATED: "saturated", health.EXPLODES: "gradient explodes",
          health.VANISHES: "gradient vanishes"}


class HealthView(LiveView, QtWidgets.QWidget):
    """A row per layer: activation, dead and saturated shares, gradient norm, step size, status."""

    title = "Layer health"
    warning = QtCore.Signal(str)    # a layer turned unhealthy (once per layer and condition per run)
    healthChanged = QtCore.Signal()  # some layer's flags changed: `health()` has the new ones

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("healthView")
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("healthTable")
        for c, (name, tip) in enumerate(COLUMNS):
            item = QtWidgets.QTableWidgetItem(name)
            item.setToolTip(tip)
            self.table.setHorizontalHeaderItem(c, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.note = QtWidgets.QLabel("Measured on the training data as it trains. Hover a column's title "
                                     "for what it means and when it is flagged.")
        self.note.setObjectName("healthNote")
        self.note.setStyleSheet(f"color: {FOREGROUND};")
        self.note.setWordWrap(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.note)
        self._timer = QtCore.QTimer(self)  # measures a snapshot that came too soon after the last
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._measure_pending)
        self._config = self._X = None
        self._count = 0         # layers of the network prepared
        self._lr = None
        self._layers = ()       # LayerHealth per layer, the latest measured
        self._shown = None      # the measurement the table shows
        self._warned = set()    # (layer, flag) already reported this run
        self._run = self._epoch = None
        self._pending = None    # a snapshot not measured yet
        self._last = -float("inf")  # clock() at the last measurement

    # the view protocol
    def prepare(self, setup) -> None:
        self._config, self._count = setup.config, len(setup.config.layers)
        self._X = health.samples(features.apply(setup.config.feature_map, setup.train.X))  # the network's inputs
        self._lr = setup.config.lr
        self._timer.stop()
        self._pending, self._run, self._epoch, self._last = None, None, None, -float("inf")
        self._warned.clear()
        self._set_layers(())
        self.table.clearContents()  # the last network's numbers
        self.table.setRowCount(len(setup.config.layers))
        self.table.setVerticalHeaderLabels([f"layer {k + 1}" for k in range(len(setup.config.layers))])

    def new_data(self, setup) -> None:
        self._X = health.samples(features.apply(setup.config.feature_map, setup.train.X))

    def take(self, snapshot) -> None:
        if snapshot.new:
            self._lr = snapshot.new[-1].lr  # the rate of the step that gave the gradient
        if snapshot.run != self._run or (self._epoch is not None and snapshot.epoch < self._epoch):
            self._warned.clear()  # another run, or a reset: its conditions are news again
            self._last = -float("inf")
        self._run, self._epoch = snapshot.run, snapshot.epoch
        self._pending = snapshot
        wait = self._last + 1.0 / RATE - clock()
        if wait <= 0 or snapshot.stop is not None:  # a run's end is measured at once
            self._measure_pending()
        elif not self._timer.isActive():
            self._timer.start(max(1, int(wait * 1000)))

    def present(self, snapshot) -> None:
        if self._shown is not self._layers:
            self._fill()

    # public API
    def health(self) -> tuple:
        """Per layer (the output layer last) the set of its flags: `micrograd.health.DEAD`,
        `SATURATED`, `EXPLODES`, `VANISHES`; empty when the layer is healthy (or not measured yet)."""
        return tuple(layer.flags for layer in self._layers) if self._layers else (frozenset(),) * self._count

    def layers(self) -> tuple:
        """Per layer the `micrograd.health.LayerHealth` measured last (statistics and flags)."""
        return self._layers

    # internals
    def _measure_pending(self) -> None:
        snapshot, self._pending = self._pending, None
        self._timer.stop()
        if snapshot is None or self._config is None:
            return
        self._last = clock()
        self._set_layers(health.measure(self._config, snapshot.weights, snapshot.grads, self._X, self._lr))
        new = [(layer, flag) for flag in health.FLAGS for layer in self._layers
               if flag in layer.flags and (layer.layer, flag) not in self._warned]
        if new:
            self._warned.update((layer.layer, flag) for layer, flag in new)
            layer, flag = new[0]
            more = f" (and {len(new) - 1} more: see {self.title})" if len(new) > 1 else ""
            self.warning.emit(layer.message(flag) + more)
        if self.isVisible() or not self.window().isVisible():
            self._fill()

    def _set_layers(self, layers) -> None:
        before = self.health()
        self._layers = layers
        if self.health() != before:
            self.healthChanged.emit()

    def _fill(self) -> None:
        self._shown = self._layers
        for row, layer in enumerate(self._layers):
            flags = [LABELS[f] for f in health.FLAGS if f in layer.flags]
            cells = (f"{layer.activation} ×{layer.units}",
                     "—" if layer.dead is None else f"{layer.dead:.0%}",
                     "—" if layer.saturated is None else f"{layer.saturated:.0%}",
                     table_text(layer.grad_norm),
                     table_text(layer.update),
                     ", ".join(flags) or "OK")
            set_row(self.table, row, cells, right_from=1)
            status = self.table.item(row, len(cells) - 1)
            status.setForeground(BAD if flags else QtGui.QColor(FOREGROUND))
            status.setBackground(BAD_BACKGROUND if flags else QtGui.QColor("white"))
            status.setToolTip("\n".join(layer.message(f) for f in health.FLAGS if f in layer.flags))
