"""Loss and accuracy (or R²) against epoch, for the run being trained, beside past runs."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from micrograd.history import Thinned

from .base import LiveView
from .style import (FOREGROUND, GHOST_COLORS, TEST_COLOR, TRAIN_COLOR, LossAxis, PlotWidget, Spans, check_box, curve,
                    finite_or_nan, light_grid, set_log_y, set_title, style_plot)


class LossView(LiveView, QtWidgets.QWidget):
    """Loss against epoch (train and test, log toggle) beside accuracy / R² against epoch.

    Shows one run at a time: an epoch record of another run, or an epoch number that
    goes backwards (a reset), starts the curves afresh (the evals view shows all runs).
    Past runs (the setup's ghosts: pinned, or left by a branch) are drawn dotted beside it,
    each in its own muted colour, by their test curves (train without test data). A snapshot of
    an earlier epoch (rewound) shows as a vertical line there.
    """

    title = "Loss && accuracy"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("lossPlot")
        self.log_check = check_box("log scale", "logScaleCheck", "Loss on a logarithmic axis", self.set_log)
        self.graphics = PlotWidget.filling(self, self.log_check)

        self.loss_plot = self.graphics.addPlot(row=0, col=0, axisItems={"left": LossAxis("left")})
        self.metric_plot = self.graphics.addPlot(row=0, col=1)
        style_plot(self.loss_plot, "loss", "loss", "epoch")
        style_plot(self.metric_plot, "accuracy", "accuracy", "epoch")
        for p in (self.loss_plot, self.metric_plot):
            light_grid(p)
            p.setMenuEnabled(False)
        self.loss_legend = self.loss_plot.addLegend(offset=(-8, 8), labelTextSize="8pt")
        self.loss_legend.setBrush(pg.mkBrush(255, 255, 255, 200))
        self.metric_legend = self.metric_plot.addLegend(offset=(-8, -8), labelTextSize="8pt")
        self.metric_legend.setBrush(pg.mkBrush(255, 255, 255, 200))
        self.train_loss = curve(self.loss_plot, TRAIN_COLOR, "train")
        self.test_loss = curve(self.loss_plot, TEST_COLOR, "test", style=QtCore.Qt.PenStyle.DashLine)
        self.train_metric = curve(self.metric_plot, TRAIN_COLOR, "train")
        self.test_metric = curve(self.metric_plot, TEST_COLOR, "test", style=QtCore.Qt.PenStyle.DashLine)
        self.loss_plot.setLimits(xMin=0)
        self.metric_plot.setLimits(xMin=0)
        self.cursors = []
        for p in (self.loss_plot, self.metric_plot):
            line = pg.InfiniteLine(angle=90, pen=pg.mkPen(FOREGROUND, width=1, style=QtCore.Qt.PenStyle.DashLine))
            line.setVisible(False)
            p.addItem(line, ignoreBounds=True)
            self.cursors.append(line)
        self._ghosts = []  # (loss item, metric item, epochs, losses) per past run
        self._ghost_end = 0.0  # the last epoch of any past run: the axis shows them whole
        # The axes grow in nice steps (epochs 0..1000, 0..1500, ...; a linear loss 0..1, 0..1.5)
        # instead of autoranging on every frame (see style.nice_span).
        self._loss_spans, self._metric_spans = Spans(self.loss_plot), Spans(self.metric_plot)
        self._title = None
        self._dots = False  # the curves show their points as dots (too few for a line)

        # epoch, train loss, test loss, train metric, test metric: a bounded record (see micrograd.history)
        self._rows = Thinned(5)
        self._run = None
        self._last_epoch = 0
        self._log = False
        self._metric_name = ""
        self.set_metric_name("accuracy")

    # the view protocol
    def prepare(self, setup) -> None:
        self.set_metric_name("accuracy" if setup.task == "classification" else "R²")
        self._set_ghosts(setup.ghosts)
        self.clear()

    def take(self, snapshot) -> None:
        self._append(snapshot.new)

    def present(self, snapshot) -> None:
        for line in self.cursors:
            line.setVisible(snapshot.rewound)
            line.setValue(snapshot.epoch)
        self._push()

    def ghost_curves(self):
        """(label, epochs, loss, metric) of each past run drawn."""
        return [(loss.name(), *loss.getData(), metric.getData()[1]) for loss, metric, _, _ in self._ghosts]

    # public API
    def clear(self) -> None:
        self._rows.clear()
        set_log_y(self.loss_plot, self._log, [])  # not the range of the last run: it may have diverged
        self._loss_spans.forget()
        self._run, self._last_epoch = None, 0
        self._set_title("loss")
        self._push()

    def add(self, epochs: list) -> None:
        self._append(epochs)
        self._push()

    def _append(self, epochs) -> None:
        if not epochs:
            return
        # Start afresh at a new run or a reset: keep only the records after the last such point.
        start = None
        run, last = self._run, self._last_epoch
        for i, e in enumerate(epochs):
            if e.run != run or e.epoch <= last:
                start = i
            run, last = e.run, e.epoch
        if start is not None:
            self._rows.clear()
            epochs = epochs[start:]
        self._run, self._last_epoch = epochs[-1].run, epochs[-1].epoch
        rows = np.column_stack([[e.epoch for e in epochs],
                                *(finite_or_nan(getattr(e, key) for e in epochs)
                                  for key in ("train_loss", "test_loss", "train_metric", "test_metric"))])
        if self._metric_name != "accuracy":
            rows[:, 3:] = np.maximum(rows[:, 3:], -1.0)  # R² can be hugely negative early on: clip the display
        self._rows.extend(rows)
        stop = epochs[-1].stop
        self._set_title(f"loss  ({stop})" if stop else "loss")

    def set_log(self, on: bool) -> None:
        self._log = bool(on)
        self._draw_ghost_losses()
        set_log_y(self.loss_plot, self._log, self._rows.points()[:, 1:3])
        self._loss_spans.forget()
        self._push()

    def set_metric_name(self, name: str) -> None:
        self._metric_name = name
        set_title(self.metric_plot, name)
        self.metric_plot.setLabel("left", name, **{"font-size": "9pt"})
        if name == "accuracy":
            self.metric_plot.enableAutoRange(axis="y", enable=False)
            self.metric_plot.setYRange(0.0, 1.0, padding=0.05)
        else:
            self.metric_plot.enableAutoRange(axis="y", enable=False)
            self.metric_plot.setYRange(-1.0, 1.0, padding=0.05)

    def curve_length(self) -> int:
        """Epochs on the curves (drawn or thinned away)."""
        return self._rows.count

    # internals
    def _set_ghosts(self, ghosts) -> None:
        for pair in self._ghosts:
            for item, plot, legend in zip(pair[:2], (self.loss_plot, self.metric_plot),
                                          (self.loss_legend, self.metric_legend)):
                legend.removeItem(item)
                plot.removeItem(item)
        self._ghosts, self._ghost_end = [], 0.0
        for i, g in enumerate(ghosts):
            rows = g.rows  # History.FIELDS columns: epoch, train loss, test loss, train metric, test metric, ...
            tested = np.isfinite(rows[:, 2]).any()
            loss, metric = (rows[:, 2], rows[:, 4]) if tested else (rows[:, 1], rows[:, 3])
            color = GHOST_COLORS[i % len(GHOST_COLORS)]
            pair = (curve(self.loss_plot, color, g.label, width=2, style=QtCore.Qt.PenStyle.DotLine),
                    curve(self.metric_plot, color, g.label, width=2, style=QtCore.Qt.PenStyle.DotLine))
            for item in pair:
                item.setZValue(-5)  # under the current run's curves
            pair[1].setData(rows[:, 0], finite_or_nan(metric))
            self._ghosts.append((*pair, rows[:, 0], finite_or_nan(loss)))
            self._ghost_end = max(self._ghost_end, float(rows[-1, 0]) if len(rows) else 0.0)
        self._draw_ghost_losses()

    def _draw_ghost_losses(self) -> None:
        for item, _, x, y in self._ghosts:
            if self._log:
                with np.errstate(invalid="ignore"):
                    y = np.where(y > 0, y, np.nan)
            item.setData(x, y)

    def _set_title(self, text: str) -> None:
        if text != self._title:  # a new title re-lays the plot out: only when it changes
            self._title = text
            set_title(self.loss_plot, text)

    def _push(self) -> None:
        rows = self._rows.points()
        x = rows[:, 0]
        losses = rows[:, 1:3]
        if self._log:
            with np.errstate(invalid="ignore"):
                losses = np.where(losses > 0, losses, np.nan)
        dots = len(x) < 3  # a line of one point is invisible: mark the first points
        if dots != self._dots:
            self._dots = dots
            for item in (self.train_loss, self.test_loss, self.train_metric, self.test_metric):
                color = item.opts["pen"].color()
                item.setSymbol("o" if dots else None)
                item.setSymbolSize(5)
                item.setSymbolPen(color)
                item.setSymbolBrush(color)
        for item, y in ((self.train_loss, losses[:, 0]), (self.test_loss, losses[:, 1]),
                        (self.train_metric, rows[:, 3]), (self.test_metric, rows[:, 4])):
            if np.isfinite(y).any():
                item.setData(x, y)
            else:  # nothing to draw (no test data): no all-NaN bounds for the dots to warn about
                item.setData([], [])
        # The epochs shown: at least 10, and the past runs whole. A log loss axis autoranges.
        epochs = [10.0, self._ghost_end, *x[-1:]]
        shown = None if self._log else [losses.ravel(), *(y for *_, y in self._ghosts)]
        self._loss_spans.show(x=epochs, y=None if shown is None else np.concatenate(shown))
        self._metric_spans.show(x=epochs)
        # Settle the log axis' autorange now rather than in the paint, where a range change
        # queues a second paint of the whole plot.
        if self.isVisible():
            self.graphics.scene().prepareForPaint()
