"""The current run beside the past ones kept to compare with: settings and final numbers."""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from micrograd.config import differences

from .base import LiveView
from .style import GHOST_COLORS, set_row, table_text


class RunsView(LiveView, QtWidgets.QWidget):
    """A table: each past run (the setup's ghosts: pinned, or left by a branch), in the colour
    the loss plot draws it, then the current run; per row, how its settings differ from the
    current ones and its last epoch's losses and metrics. *Pin this run* keeps the current run
    (`pinRequested`), *Clear* forgets them (`clearRequested`): the window asks the session."""

    title = "Runs"
    COLUMNS = ("run", "settings (what differs from now)", "epochs", "train loss", "test loss", "train {m}", "test {m}")

    pinRequested = QtCore.Signal()
    clearRequested = QtCore.Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("runsView")
        self.pin_button = QtWidgets.QPushButton("Pin this run")
        self.pin_button.setObjectName("pinButton")
        self.pin_button.setToolTip("Keep this run's curves and numbers to compare the next runs with "
                                   "(drawn dotted in the loss plot)")
        self.pin_button.clicked.connect(self.pinRequested)
        self.clear_button = QtWidgets.QPushButton("Clear")
        self.clear_button.setObjectName("clearPinsButton")
        self.clear_button.setToolTip("Forget the runs kept to compare with")
        self.clear_button.clicked.connect(self.clearRequested)
        self.table = QtWidgets.QTableWidget(0, len(self.COLUMNS), self)
        self.table.setObjectName("runsTable")
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.Stretch)
        bar = QtWidgets.QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 0)
        bar.addWidget(self.pin_button)
        bar.addWidget(self.clear_button)
        bar.addStretch(1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        self._config, self._ghosts, self._last, self._percent = {}, (), None, True

    # the view protocol
    def prepare(self, setup) -> None:
        self._config, self._ghosts, self._last = setup.config.to_dict(), setup.ghosts, None
        self._percent = setup.task == "classification"
        metric = "acc" if self._percent else "R²"
        self.table.setHorizontalHeaderLabels([c.format(m=metric) for c in self.COLUMNS])
        self.table.setRowCount(len(self._ghosts) + 1)
        for r, g in enumerate(self._ghosts):
            self._fill(r, g.label, ", ".join(differences(self._config, g.config)) or "the same", g.last)
            self.table.item(r, 0).setForeground(QtGui.QColor(GHOST_COLORS[r % len(GHOST_COLORS)]))
        self._fill(len(self._ghosts), "now", "", None)
        self.clear_button.setEnabled(bool(self._ghosts))

    def take(self, snapshot) -> None:
        if not snapshot.rewound and snapshot.last is not None:
            self._last = snapshot.last

    def present(self, snapshot) -> None:
        self._fill(len(self._ghosts), "now", "", self._last)

    # internals
    def _fill(self, row, label, settings, last) -> None:
        def metric(v):
            return "—" if v is None else f"{100 * v:.1f} %" if self._percent else table_text(v)
        cells = [label, settings, "—" if last is None else f"{last.epoch:,}"]
        cells += ["—"] * 4 if last is None else [table_text(last.train_loss), table_text(last.test_loss),
                                                 metric(last.train_metric), metric(last.test_metric)]
        set_row(self.table, row, cells, right_from=2)
