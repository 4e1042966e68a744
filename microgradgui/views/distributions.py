"""How each layer's weights (or their gradients) are spread, over the epochs: TensorBoard's
distributions view. Per layer, nested bands from the minimum to the maximum through the
quantiles a normal distribution puts at ±1.5σ, ±1σ and ±0.5σ, and the median as a line.

One column of quantiles per snapshot, kept in a bounded record (`micrograd.history.Thinned`),
so memory and drawing cost stay the same however long the run.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from micrograd.history import Thinned

from .base import LiveView
from .style import TRAIN_COLOR, PlotWidget, Spans, check_box, curve, set_title, style_plot

# TensorBoard's basis points: min, the quantiles of -1.5, -1, -0.5 sigma, median, +0.5, +1, +1.5 sigma, max.
QUANTILES = (0.0, 6.68, 15.87, 30.85, 50.0, 69.15, 84.13, 93.32, 100.0)
BAND_ALPHAS = (45, 60, 80, 110)  # outer band to inner: the overlaps darken towards the median
COLUMNS = 1024  # snapshots kept (thinned beyond)


class DistributionsView(LiveView, QtWidgets.QWidget):
    title = "Distributions"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("distributionsView")
        self.grad_check = check_box("gradients", "distributionGradientsCheck",
                                    "Spread of the gradients instead of the weights", self._on_kind)
        self.graphics = PlotWidget.filling(self, self.grad_check)
        self._layers = 0
        self._plots, self._spans, self._bands, self._medians = [], [], [], []  # per layer
        self._columns = Thinned(1, COLUMNS)  # per snapshot: epoch, then the quantiles of every layer
        self._run = None

    # the view protocol
    def prepare(self, setup) -> None:
        layers = len(setup.config.layers)
        self._columns, self._run = Thinned(1 + layers * 2 * len(QUANTILES), COLUMNS), None
        self.when_shown(functools.partial(self._build_plots, layers))

    def take(self, snapshot) -> None:
        if snapshot.rewound:
            return  # an earlier epoch on show: its column is already here
        last = self._columns.last
        if snapshot.run != self._run or (last is not None and snapshot.epoch < last[0]):
            self._columns.clear()  # a new run, or a reset: start afresh
            self._run = snapshot.run
        column = [snapshot.epoch] + [q for (W, _), (G, _) in zip(snapshot.weights, snapshot.grads)
                                     for values in (W, G) for q in _quantiles(values)]
        if last is not None and snapshot.epoch == last[0]:
            self._columns.replace_last(column)  # the same epoch again (weights edited, redrawn)
        else:
            self._columns.extend([column])

    def present(self, snapshot) -> None:
        self._redraw()

    # for tests
    def columns(self) -> int:
        return len(self._columns.points())

    def quantiles(self, layer: int, gradients: bool = False) -> np.ndarray:
        """(len(QUANTILES), columns) for a layer, as drawn."""
        return self._quantile_rows()[layer, int(gradients)]

    # internals
    def _build_plots(self, layers: int):
        """A plot per layer (kept if the count is the same), titled for weights or gradients. A
        generator: a new plot a part (~10-25 ms each; eight in one turn were 130-250 ms)."""
        if layers != self._layers:
            yield from self._new_plots(layers)
        self._title_plots()
        self._redraw()

    def _new_plots(self, layers: int):
        self.graphics.clear()
        self._layers, self._plots, self._spans, self._bands, self._medians = layers, [], [], [], []
        rows = 1 if layers <= 4 else 2
        cols = math.ceil(layers / rows)
        color = pg.mkColor(TRAIN_COLOR)
        fills = _nested_fills(color)
        for k in range(layers):
            plot = self.graphics.addPlot(row=k // cols, col=k % cols)
            style_plot(plot, bottom="epoch" if k == 0 else None)
            self._plots.append(plot)
            self._spans.append(Spans(plot))  # nice steps, not autoranged: see style.nice_span
            # No grid: nine plots' grid lines were ~9 ms of a ~13 ms paint at 8 x 64; the bands
            # against the axes' ticks read without one.
            plot.setMenuEnabled(False)
            bands = []
            for fill in fills:  # (min, max), (-1.5σ, +1.5σ), ...: drawn under the median
                band = QtWidgets.QGraphicsPathItem()
                band.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
                band.setBrush(fill)
                plot.addItem(band)
                bands.append(band)
            median = curve(plot, color, width=1.5)  # not antialiased: ~4 ms less a paint
            median.setZValue(10)
            self._bands.append(bands)
            self._medians.append(median)
            yield

    def _on_kind(self, *_):
        if self.unbuilt:
            return  # the plots are for another network until shown: their build titles and draws them
        self._title_plots()
        self._redraw()

    def _title_plots(self):
        what = "gradients" if self.grad_check.isChecked() else "weights"
        for k, plot in enumerate(self._plots):  # only here: a new title re-lays the plot out
            set_title(plot, f"layer {k + 1} {what}")

    def _quantile_rows(self):
        """(layers, weights/gradients, quantile, column) of what is held."""
        points = self._columns.points()
        return points[:, 1:].T.reshape(self._layers, 2, len(QUANTILES), len(points))

    def _redraw(self):
        kind = int(self.grad_check.isChecked())
        x = self._columns.points()[:, 0]
        q = self._quantile_rows()
        for k, (bands, median, spans) in enumerate(zip(self._bands, self._medians, self._spans)):
            for i, band in enumerate(bands):
                band.setPath(_band_path(x, q[k, kind, i], q[k, kind, -1 - i]))
            median.setData(x, q[k, kind, len(QUANTILES) // 2])
            spans.show(x=[10.0, *x[-1:]], y=q[k, kind, [0, -1]])


def _nested_fills(color):
    """Opaque brushes for the bands, outer to inner: each the colour BAND_ALPHAS' layers of
    `color` over the white background give where they overlap (the bands are nested, so each
    band's area is exactly that overlap). Alpha-blended fills made the nine plots of 8 x 64 a
    26 ms paint."""
    rgb, under, fills = np.array(color.getRgb()[:3], float), np.full(3, 255.0), []
    for alpha in BAND_ALPHAS:
        under = under + (rgb - under) * alpha / 255.0
        fills.append(pg.mkBrush(*np.round(under).astype(int)))
    return fills


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
    """QUANTILES of the finite entries (a diverging run may hold inf); NaN when there are none.
    Interpolated between neighbours as np.percentile does, from one sort: np.percentile took
    0.14 ms an array, 2.5 ms a snapshot of an 8x64 network, taken on every frame."""
    a = np.asarray(values, dtype=float).ravel()
    a = np.sort(a[np.isfinite(a)])
    if not a.size:
        return np.full(len(QUANTILES), np.nan)
    at = np.asarray(QUANTILES) / 100.0 * (a.size - 1)
    below = np.floor(at).astype(int)
    above = np.minimum(below + 1, a.size - 1)
    return a[below] + (a[above] - a[below]) * (at - below)
