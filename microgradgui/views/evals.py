"""Every run of an evals session: the runs' losses, their median and spread, and a summary table."""
from __future__ import annotations

import warnings

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from micrograd.history import Thinned

from .base import LiveView
from .style import (FOREGROUND, TRAIN_COLOR, LossAxis, PlotWidget, check_box, curve, fast_curve, finite_or_nan, light_grid,
                    set_log_y, set_row, style_plot, table_text)


class EvalsView(LiveView, QtWidgets.QWidget):
    """All runs of an evals session: each run's train loss (thin), the median (thick),
    the 25–75 % band, and a summary table. A run that has ended keeps its last loss
    for the statistics of later epochs (a converged run stays converged). With one run
    there is nothing to compare: the view says so.

    Each run's losses are a bounded record (`Thinned`: evenly spaced rows, the stride a power
    of two), so the longest run's rows fall on epochs every run holds too: the statistics are
    taken on that grid, and a frame recomputes only the columns its epochs changed."""

    title = "Evals"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("evalsView")
        self.log_check = check_box("log scale", "evalsLogScaleCheck", "Losses on a logarithmic axis", self.set_log)
        self.graphics = PlotWidget(self)
        self.plot = self.graphics.addPlot(axisItems={"left": LossAxis("left")})
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
        self._data: dict[int, Thinned] = {}  # per run: its train losses, epoch 1 first
        self._ended: set[int] = set()
        self._log = False
        self._stats = np.empty((3, 0))  # q25, median, q75 per column of the grid
        self._stride = 1                # epochs between the grid's columns
        self._dirty = None              # (first, end) grid columns to recompute
        self._changed: set[int] = set()  # runs whose curve needs drawing

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
        self._tolerance = 0.0

    # the view protocol
    def prepare(self, setup) -> None:
        self._tolerance = setup.config.tolerance
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
        self._changed.clear()
        self._stats, self._stride, self._dirty = np.empty((3, 0)), 1, None
        set_log_y(self.plot, self._log, [])
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
            self._data[run] = Thinned(1)
        losses = self._data[run]
        first = losses.count  # the epochs [first, count) are new (0-based)
        losses.extend(finite_or_nan(e.train_loss for e in epochs))
        if epochs[-1].stop:
            self._ended.add(run)
        self._changed.add(run)
        factor = max(d.stride for d in self._data.values()) // self._stride
        if factor > 1:  # the longest run thinned: so does the grid
            self._stats = self._stats[:, ::factor]
            self._stride *= factor
            if self._dirty is not None:
                self._dirty = (self._dirty[0] // factor, None)
        # its last value holds for every later column once a run has ended
        end = None if run in self._ended else (losses.count - 1) // self._stride + 1
        lo = first // self._stride
        if self._dirty is not None:
            lo = min(lo, self._dirty[0])
            end = None if end is None or self._dirty[1] is None else max(end, self._dirty[1])
        self._dirty = (lo, end)

    def set_summary(self, summary: dict) -> None:
        m = self._metric_name
        percent = m == "accuracy"  # as everywhere else in the window: 100 %, not 1
        # With no tolerance there is nothing to converge to: not "0 %".
        converged = f"{100 * summary.get('converged', 0.0):.0f} %" if self._tolerance else "— (no tolerance)"
        rows = [("runs", None, str(summary.get("runs", 0)), False),
                ("converged", None, converged, False),
                ("epochs to tolerance", summary.get("epochs_to_tolerance"), None, False),
                ("final train loss", summary.get("train_loss"), None, False),
                ("final test loss", summary.get("test_loss"), None, False),
                (f"train {m}", summary.get("train_metric"), None, percent),
                (f"test {m}", summary.get("test_metric"), None, percent)]
        self.table.setRowCount(len(rows))
        for r, (name, stats, text, pct) in enumerate(rows):
            self.table.setVerticalHeaderItem(r, QtWidgets.QTableWidgetItem(name))
            if stats is None:
                cells = [text or "—", "", "", ""]
            elif pct:
                cells = [f"{100 * stats[k]:.1f} %" if stats[k] is not None and np.isfinite(stats[k]) else "—"
                         for k in ("mean", "std", "min", "max")]
            else:
                cells = [table_text(stats[k]) for k in ("mean", "std", "min", "max")]
            set_row(self.table, r, cells)

    def set_metric_name(self, name: str) -> None:
        self._metric_name = name

    def set_log(self, on: bool) -> None:
        self._log = bool(on)
        losses = [d.held()[:, 0] for d in self._data.values()]
        set_log_y(self.plot, self._log, np.concatenate(losses) if losses else [])
        self._changed.update(self._data)
        self._push()

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

    def _update_stats(self) -> None:
        """Quantiles over the runs of the grid's dirty columns: the loss of each run at the
        column's epoch, its last loss after it ended, nothing before it has got there."""
        if self._dirty is None or not self._data:
            return
        columns = max(len(range(0, d.count, self._stride)) for d in self._data.values())
        lo, end = self._dirty
        end = columns if end is None else min(end, columns)
        self._dirty = None
        if self._stats.shape[1] < columns:
            self._stats = np.hstack([self._stats, np.full((3, columns - self._stats.shape[1]), np.nan)])
        if lo >= end:
            return
        M = np.full((len(self._data), end - lo), np.nan)
        for row, (run, d) in zip(M, self._data.items()):
            step = self._stride // d.stride
            held = d.held()[lo * step:end * step:step, 0]
            row[:len(held)] = held
            if run in self._ended and d.count and len(held) < len(row):
                row[len(held):] = d.last[0]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: a run that has not started
            self._stats[:, lo:end] = np.nanpercentile(M, [25, 50, 75], axis=0)

    def _push(self) -> None:
        self._update_stats()
        for run in self._changed:
            points = self._data[run].held()
            x = 1 + np.arange(len(points)) * self._data[run].stride
            self._runs[run].setData(x, self._display(points[:, 0]))
        self._changed.clear()
        x = 1 + np.arange(self._stats.shape[1]) * self._stride
        lo, med, hi = (self._display(s) for s in self._stats)
        if self._log:  # the band can't have gaps: hold it at the median where a quantile is 0
            lo = np.where(np.isfinite(lo), lo, med)
        self.band_low.setData(x, lo)
        self.band_high.setData(x, hi)
        self.median.setData(x, med)
