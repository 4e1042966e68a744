"""How each layer's weights (or their gradients) are spread, over the epochs: TensorBoard's
distributions view. Per layer, nested bands from the minimum to the maximum through the
quantiles a normal distribution puts at ±1.5σ, ±1σ and ±0.5σ, and the median as a line.

One column of quantiles per snapshot, kept in fixed arrays: at `MAX_COLUMNS` every other
column is dropped, so memory and drawing cost stay the same however long the run.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from .base import LiveView
from .style import FOREGROUND, TITLE_SIZE, TRAIN_COLOR, PlotWidget, check_box, light_grid, style_plot

# TensorBoard's basis points: min, the quantiles of -1.5, -1, -0.5 sigma, median, +0.5, +1, +1.5 sigma, max.
QUANTILES = (0.0, 6.68, 15.87, 30.85, 50.0, 69.15, 84.13, 93.32, 100.0)
BAND_ALPHAS = (45, 60, 80, 110)  # outer band to inner: the overlaps darken towards the median
MAX_COLUMNS = 1000  # even


class DistributionsView(LiveView, QtWidgets.QWidget):
    title = "Distributions"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("distributionsView")
        self.grad_check = check_box("gradients", "distributionGradientsCheck",
                                    "Spread of the gradients instead of the weights", self._on_kind)
        self.graphics = PlotWidget.filling(self, self.grad_check)
        self._layers = 0
        self._plots, self._bands, self._medians = [], [], []  # per layer
        self._x = np.empty(MAX_COLUMNS)
        self._q = np.empty((0, 2, len(QUANTILES), MAX_COLUMNS))  # layer, weights/grads, quantile, column
        self._n = 0
        self._run = None

    # the view protocol
    def prepare(self, setup) -> None:
        layers = len(setup.config.layers)
        self._n, self._run = 0, None
        self._q = np.empty((layers, 2, len(QUANTILES), MAX_COLUMNS))
        if layers != self._layers:
            self._build(layers)
        self._on_kind()

    def take(self, snapshot) -> None:
        if snapshot.run != self._run or (self._n and snapshot.epoch < self._x[self._n - 1]):
            self._n, self._run = 0, snapshot.run  # a new run, or a reset: start afresh
        if self._n and snapshot.epoch == self._x[self._n - 1]:
            self._n -= 1  # the same epoch again (drawn once more): replace it
        if self._n == MAX_COLUMNS:  # full: keep every other column
            self._x[:MAX_COLUMNS // 2] = self._x[::2]
            self._q[..., :MAX_COLUMNS // 2] = self._q[..., ::2]
            self._n = MAX_COLUMNS // 2
        self._x[self._n] = snapshot.epoch
        for k, ((W, _), (G, _)) in enumerate(zip(snapshot.weights, snapshot.grads)):
            for kind, values in enumerate((W, G)):
                self._q[k, kind, :, self._n] = _quantiles(values)
        self._n += 1

    def present(self, snapshot) -> None:
        self._redraw()

    # for tests
    def columns(self) -> int:
        return self._n

    def quantiles(self, layer: int, gradients: bool = False) -> np.ndarray:
        """(len(QUANTILES), columns) for a layer, as drawn."""
        return self._q[layer, int(gradients), :, :self._n].copy()

    # internals
    def _build(self, layers: int) -> None:
        self.graphics.clear()
        self._layers, self._plots, self._bands, self._medians = layers, [], [], []
        rows = 1 if layers <= 4 else 2
        cols = math.ceil(layers / rows)
        color = pg.mkColor(TRAIN_COLOR)
        for k in range(layers):
            plot = self.graphics.addPlot(row=k // cols, col=k % cols)
            style_plot(plot, bottom="epoch" if k == 0 else None)
            self._plots.append(plot)
            light_grid(plot)
            plot.setMenuEnabled(False)
            bands = []
            for alpha in BAND_ALPHAS:  # (min, max), (-1.5σ, +1.5σ), ...: drawn under the median
                band = QtWidgets.QGraphicsPathItem()
                band.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
                band.setBrush(pg.mkBrush(*color.getRgb()[:3], alpha))
                plot.addItem(band)
                bands.append(band)
            median = plot.plot([], [], pen=pg.mkPen(color, width=1.5))
            median.setZValue(10)
            self._bands.append(bands)
            self._medians.append(median)

    def _on_kind(self, *_):
        what = "gradients" if self.grad_check.isChecked() else "weights"
        for k, plot in enumerate(self._plots):  # only here: a new title re-lays the plot out
            plot.setTitle(f"layer {k + 1} {what}", size=TITLE_SIZE, color=FOREGROUND)
        self._redraw()

    def _redraw(self):
        kind = int(self.grad_check.isChecked())
        x = self._x[:self._n]
        for k, (bands, median) in enumerate(zip(self._bands, self._medians)):
            q = self._q[k, kind, :, :self._n]
            for i, band in enumerate(bands):
                band.setPath(_band_path(x, q[i], q[-1 - i]))
            median.setData(x, q[len(QUANTILES) // 2])


def _band_path(x, lower, upper):
    """The area between two curves as one closed path: along `upper`, back along `lower`.
    (One path per band: a FillBetweenItem rebuilds its path in Python, 10x the cost.)"""
    if len(x) < 2:
        return QtGui.QPainterPath()
    ok = np.isfinite(lower) & np.isfinite(upper)
    xs = np.concatenate([x[ok], x[ok][::-1]])
    ys = np.concatenate([upper[ok], lower[ok][::-1]])
    path = pg.arrayToQPath(xs, ys, connect="all", finiteCheck=False)
    path.closeSubpath()
    return path


def _quantiles(values) -> np.ndarray:
    """QUANTILES of the finite entries (a diverging run may hold inf); NaN when there are none."""
    a = np.asarray(values, dtype=float).ravel()
    a = a[np.isfinite(a)]
    return np.percentile(a, QUANTILES) if a.size else np.full(len(QUANTILES), np.nan)
