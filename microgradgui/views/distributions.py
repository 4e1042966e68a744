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
from PySide6 import QtWidgets

from .base import LiveView
from .style import TRAIN_COLOR, PlotWidget, check_box, light_grid, style_plot

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
                                    "Spread of the gradients instead of the weights", self._redraw)
        self.graphics = PlotWidget.filling(self, self.grad_check)
        self._layers = 0
        self._bounds = []  # per layer: the 9 quantile curves (the median drawn, the rest invisible)
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
        self._redraw()

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
        self._layers, self._bounds = layers, []
        rows = 1 if layers <= 4 else 2
        cols = math.ceil(layers / rows)
        color = pg.mkColor(TRAIN_COLOR)
        for k in range(layers):
            plot = self.graphics.addPlot(row=k // cols, col=k % cols)
            style_plot(plot, f"layer {k + 1}", bottom="epoch" if k == 0 else None)
            light_grid(plot)
            plot.setMenuEnabled(False)
            curves = [pg.PlotDataItem([], [], pen=None) for _ in QUANTILES]
            for c in curves:
                plot.addItem(c)
            for i, alpha in enumerate(BAND_ALPHAS):  # (min, max), (-1.5σ, +1.5σ), ...
                band = pg.FillBetweenItem(curves[i], curves[-1 - i], brush=pg.mkBrush(*color.getRgb()[:3], alpha))
                plot.addItem(band)
            median = curves[len(QUANTILES) // 2]
            median.setPen(pg.mkPen(color, width=1.5))
            median.setZValue(10)
            self._bounds.append(curves)

    def _redraw(self, *_):
        kind = int(self.grad_check.isChecked())
        x = self._x[:self._n]
        for k, curves in enumerate(self._bounds):
            for i, c in enumerate(curves):
                c.setData(x, self._q[k, kind, i, :self._n] if self._n else [])


def _quantiles(values) -> np.ndarray:
    """QUANTILES of the finite entries (a diverging run may hold inf); NaN when there are none."""
    a = np.asarray(values, dtype=float).ravel()
    a = a[np.isfinite(a)]
    return np.percentile(a, QUANTILES) if a.size else np.full(len(QUANTILES), np.nan)
