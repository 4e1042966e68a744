"""Every run of an evals session: the runs' losses, their median and spread, and a summary table."""
from __future__ import annotations

import warnings

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from .base import LiveView
from .style import (FOREGROUND, TRAIN_COLOR, Buffer, PlotWidget, check_box, curve, fast_curve, finite_or_nan,
                    light_grid, style_plot, table_text)


class EvalsView(LiveView, QtWidgets.QWidget):
    """All runs of an evals session: each run's train loss (thin), the median (thick),
    the 25–75 % band, and a summary table. A run that has ended keeps its last loss
    for the statistics of later epochs (a converged run stays converged). With one run
    there is nothing to compare: the view says so."""

    title = "Evals"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("evalsView")
        self.log_check = check_box("log scale", "evalsLogScaleCheck", "Losses on a logarithmic axis", self.set_log)
        self.graphics = PlotWidget(self)
        self.plot = self.graphics.addPlot()
        style_plot(self.plot, "train loss over runs", "loss", "epoch")
        light_grid(self.plot)
        self.plot.setMenuEnabled(False)
        self.legend = self.plot.addLegend(offset=(-8, 8), labelTextSize="8pt")
        self.legend.setBrush(pg.mkBrush(255, 255, 255, 200))
        self.band_low = pg.PlotDataItem([], [], pen=pg.mkPen(None))
        self.band_high = pg.PlotDataItem([], [], pen=pg.mkPen(None))
        self.band = pg.FillBetweenItem(self.band_low, self.band_high, brush=pg.mkBrush(31, 95, 168, 60))
        self.plot.addItem(self.band_low)
        self.plot.addItem(self.band_high)
        self.plot.addItem(self.band)
        self.median = curve(self.plot, TRAIN_COLOR, "median", width=2)
        self.median.setZValue(10)
        # The legend can't draw a FillBetweenItem sample (it crashed Qt here): show a proxy swatch.
        self._band_swatch = pg.PlotDataItem([], [], pen=None, fillLevel=0,
                                            fillBrush=pg.mkBrush(31, 95, 168, 60))
        self.legend.addItem(self._band_swatch, "25–75 %")
        self._run_pen = pg.mkPen(120, 120, 120, 90, width=1)
        self._runs: dict[int, pg.PlotDataItem] = {}
        self._data: dict[int, Buffer] = {}
        self._ended: set[int] = set()
        self._log = False
        self._stats = np.empty((3, 0))  # q25, median, q75 per epoch

        self.table = QtWidgets.QTableWidget(0, 4, self)
        self.table.setObjectName("evalsTable")
        self.table.setHorizontalHeaderLabels(["mean", "± std", "min", "max"])
        self.table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setMinimumSectionSize(36)
        self.table.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal, self)
        split.addWidget(self.graphics)
        split.addWidget(self.table)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([520, 480])
        content = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(content)
        column.setContentsMargins(4, 2, 0, 0)
        column.setSpacing(2)
        column.addWidget(self.log_check)
        column.addWidget(split, 1)
        self.message = QtWidgets.QLabel("One run: nothing to compare yet.\nSet Evals above 1 to train several "
                                        "runs over seeds and see their spread here.")
        self.message.setObjectName("evalsMessage")
        self.message.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.message.setStyleSheet(f"background: white; color: {FOREGROUND}; font-size: 11pt;")
        self.stack = QtWidgets.QStackedLayout(self)
        self.stack.setContentsMargins(0, 0, 0, 0)
        self.stack.addWidget(content)
        self.stack.addWidget(self.message)
        self._metric_name = "accuracy"

    # the view protocol
    def prepare(self, setup) -> None:
        self.set_metric_name("accuracy" if setup.task == "classification" else "R²")
        self.stack.setCurrentIndex(0 if setup.config.evals > 1 else 1)
        self.clear()

    def take(self, snapshot) -> None:
        if snapshot.runs < 2:
            return
        start = 0
        for i in range(1, len(snapshot.new) + 1):  # the epochs of each run, in order
            if i == len(snapshot.new) or snapshot.new[i].run != snapshot.new[start].run:
                self._append(snapshot.new[start].run, snapshot.new[start:i])
                start = i
        if snapshot.summary is not None:
            self.set_summary(snapshot.summary)

    def present(self, snapshot) -> None:
        self._push()

    # public API
    def clear(self) -> None:
        for item in self._runs.values():
            self.plot.removeItem(item)
        self._runs.clear()
        self._data.clear()
        self._ended.clear()
        self._stats = np.empty((3, 0))
        self._push()
        self.table.setRowCount(0)

    def add(self, run: int, epochs: list) -> None:
        self._append(run, epochs)
        self._push()

    def _append(self, run: int, epochs) -> None:
        if not epochs:
            return
        if run not in self._runs:
            item = fast_curve(self.plot.plot([], [], pen=self._run_pen, connect="finite", antialias=False))
            self._runs[run] = item
            self._data[run] = Buffer()
        buf = self._data[run]
        start = buf.n
        buf.extend(finite_or_nan(e.train_loss for e in epochs))
        if epochs[-1].stop:
            self._ended.add(run)
        self._update_stats(start, full=run in self._ended)

    def set_summary(self, summary: dict) -> None:
        m = self._metric_name
        rows = [("runs", None, str(summary.get("runs", 0))),
                ("converged", None, f"{100 * summary.get('converged', 0.0):.0f} %"),
                ("epochs to tolerance", summary.get("epochs_to_tolerance"), None),
                ("final train loss", summary.get("train_loss"), None),
                ("final test loss", summary.get("test_loss"), None),
                (f"train {m}", summary.get("train_metric"), None),
                (f"test {m}", summary.get("test_metric"), None)]
        self.table.setRowCount(len(rows))
        for r, (name, stats, text) in enumerate(rows):
            self.table.setVerticalHeaderItem(r, QtWidgets.QTableWidgetItem(name))
            if stats is None:
                cells = [text or "—", "", "", ""]
            else:
                cells = [table_text(stats[k]) for k in ("mean", "std", "min", "max")]
            for c, t in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(t)
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)

    def set_metric_name(self, name: str) -> None:
        self._metric_name = name

    def set_log(self, on: bool) -> None:
        self._log = bool(on)
        self.plot.setLogMode(y=self._log)
        self._push()
        self.plot.enableAutoRange()

    def run_count(self) -> int:
        return len(self._runs)

    def median_curve(self) -> np.ndarray:
        """Median train loss per epoch across runs (for tests)."""
        return self._stats[1].copy()

    # internals
    def _display(self, y):
        if not self._log:
            return y
        with np.errstate(invalid="ignore"):
            return np.where(y > 0, y, np.nan)

    def _update_stats(self, start: int, full: bool) -> None:
        """Recompute the quantiles of the epochs that changed (all of them when a run ended)."""
        n = max(b.n for b in self._data.values())
        if full:
            start = 0
        start = min(start, self._stats.shape[1])
        cols = []
        for run, b in self._data.items():
            y = b.view()[start:n]
            if len(y) < n - start:
                fill = b.view()[-1] if (run in self._ended and b.n) else np.nan
                y = np.concatenate([y, np.full(n - start - len(y), fill)])
            cols.append(y)
        M = np.vstack(cols)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: a run that has not started
            q = np.nanpercentile(M, [25, 50, 75], axis=0) if M.size else np.empty((3, 0))
        stats = np.empty((3, n))
        stats[:, :start] = self._stats[:, :start]
        stats[:, start:] = q
        self._stats = stats

    def _push(self) -> None:
        for run, item in self._runs.items():
            item.setData(np.arange(1, self._data[run].n + 1), self._display(self._data[run].view()))
        x = np.arange(1, self._stats.shape[1] + 1)
        lo, med, hi = (self._display(s) for s in self._stats)
        if self._log:  # the band can't have gaps: hold it at the median where a quantile is 0
            lo = np.where(np.isfinite(lo), lo, med)
        self.band_low.setData(x, lo)
        self.band_high.setData(x, hi)
        self.median.setData(x, med)
