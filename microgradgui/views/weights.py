"""A heatmap per layer of its weights (or their gradients), on one fixed symmetric colour scale."""
from __future__ import annotations

import functools

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from .base import LiveView
from .style import (FOREGROUND, PlotWidget, cached_axes, check_box, diverging_cmap, nice_ceil, set_title, style_plot,
                    tick_text)


def _index_ticks(n: int, offset: float = 0.0, limit: int = 5):
    """Ticks at pixel centres labelled 0..n-1, thinned to at most `limit` labels."""
    step = 1
    while n / step > limit:
        step = {1: 2, 2: 4, 4: 8, 8: 16}.get(step, step * 2)
    return [(offset + i + 0.5, str(i)) for i in range(0, n, step)]


class _Levels:
    """Symmetric colour levels (-m, m) that stay put between frames.

    m is a nice number (1, 2, 2.5, 5 x 10^k) at or above the largest |value| seen.
    With `shrink`, m may also come down, but only once the values have fallen
    below a quarter of it (gradients shrink by orders of magnitude while training).
    All zeros (the gradients before the first step) say nothing about a scale: m stays
    where it was (1 at first), not ±1e-12.
    """

    def __init__(self, floor: float = 0.0, shrink: bool = False):
        self.floor, self.shrink = floor, shrink
        self.m = None

    def reset(self):
        self.m = None

    def update(self, peak: float) -> float:
        if not math.isfinite(peak):
            peak = 0.0
        if peak == 0.0:
            self.m = self.m or nice_ceil(max(self.floor, 1.0))
            return self.m
        want = nice_ceil(max(peak, self.floor))
        if self.m is None or want > self.m or (self.shrink and peak < self.m / 4):
            self.m = want
        return self.m


class WeightsView(LiveView, QtWidgets.QWidget):
    """One image per layer: rows = output neurons, columns = inputs (W[out][in]).

    The bias is drawn as a separate one-pixel column to the right of W, after a gap,
    labelled "b". One colour bar for all layers; levels are symmetric and fixed:
    weights use the largest |w| of this run rounded up to a nice number (it only
    grows; `set_architecture` / `reset_levels` start again), gradients their own
    scale (which may also shrink, in nice steps, as gradients fade).
    """

    title = "Weights"
    GAP = 0.35  # between W and the bias column, in pixels of the image

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("weightHeatmap")
        self.grad_check = check_box("show gradients", "showGradientsCheck",
                                    "Show each weight's last gradient instead of its value", self.set_show_gradients)
        self.graphics = PlotWidget.filling(self, self.grad_check)
        self.graphics.ci.layout.setHorizontalSpacing(2)
        self.cmap = diverging_cmap()
        self._shapes: list[tuple[int, int]] = []
        self._plots: list[pg.PlotItem] = []
        self._w_items: list[pg.ImageItem] = []
        self._b_items: list[pg.ImageItem] = []
        self._show_grads = False
        self._weights = None
        self._grads = None
        self.weight_levels = _Levels(floor=0.1)
        self.grad_levels = _Levels(shrink=True)
        self.colorbar = pg.ColorBarItem(values=(-1, 1), colorMap=self.cmap, interactive=False,
                                        width=14, label="weight", pen=FOREGROUND,
                                        colorMapMenu=False)
        self.colorbar.axis.setTextPen(FOREGROUND)
        self.colorbar.axis.setPen(FOREGROUND)
        self.colorbar.axis.enableAutoSIPrefix(False)  # plain numbers: "0.05", not "50 (x0.001)"
        self._tick_scale = None

    # the view protocol
    def prepare(self, setup) -> None:
        self.when_shown(functools.partial(self._build, setup.config.inputs, setup.config.layers))

    def present(self, snapshot) -> None:
        self.show_weights(snapshot.weights, snapshot.grads)

    # public API
    def set_architecture(self, inputs: int, layers: list[int]) -> None:
        for _ in self._build(inputs, layers):
            pass

    def _build(self, inputs: int, layers: list[int]):
        """`set_architecture`, a new plot a part: the plots are kept and placed anew (never done
        per frame), as a new pyqtgraph plot costs ~10 ms (its menus), and making all nine of
        8 x 64 in one turn of the event loop took 100-240 ms. They are placed in the last part,
        so the view never shows half a grid."""
        shapes = [(nout, nin) for nin, nout in zip([inputs, *layers], layers)]
        self.weight_levels.reset()
        self.grad_levels.reset()
        if shapes == self._shapes:
            self._keep_plots(len(shapes))  # a superseded build's, if any (see below)
            return
        self._weights = self._grads = None
        while len(self._plots) < len(shapes):
            self._new_plot()
            yield
        # Only now: a build superseded midway leaves the grid as it was, and plots it made but
        # did not place, which the next build places or drops.
        self._shapes = shapes
        grid = self.graphics.ci
        for item in [*self._plots, self.colorbar]:
            if item.scene() is not None:
                grid.removeItem(item)
        self._keep_plots(len(shapes))
        n = len(shapes)
        rows = 1 if n <= 4 else 2
        cols = math.ceil(n / rows)
        for k, ((nout, nin), plot, w_item, b_item) in enumerate(zip(shapes, self._plots, self._w_items, self._b_items)):
            grid.addItem(plot, row=k // cols, col=k % cols)
            set_title(plot, f"layer {k + 1}: {nout}×{nin}")
            w_item.setImage(np.zeros((nout, nin)), autoLevels=False, levels=(-1, 1))
            b_item.setImage(np.zeros((nout, 1)), autoLevels=False, levels=(-1, 1))
            w_item.setRect(QtCore.QRectF(0, 0, nin, nout))
            b_item.setRect(QtCore.QRectF(nin + self.GAP, 0, 1, nout))
            plot.getAxis("bottom").setTicks([_index_ticks(nin) + [(nin + self.GAP + 0.5, "b")], []])
            plot.getAxis("left").setTicks([_index_ticks(nout), []])
            plot.setXRange(0, nin + self.GAP + 1, padding=0.02)
            plot.setYRange(0, nout, padding=0.02)
        self.colorbar.setImageItem(self._w_items + self._b_items)
        grid.addItem(self.colorbar, row=0, col=cols, rowspan=rows)
        layout = grid.layout
        for c in range(layout.columnCount()):
            layout.setColumnStretchFactor(c, 1 if c < cols else 0)
        # A grown layout is only fitted back into the view on the next resize: fit it now.
        grid.setGeometry(self.graphics.range)
        self._apply_levels(1.0)
        self._render()

    def _keep_plots(self, n: int) -> None:
        """Drop the plots after the first `n`: for layers gone, or made but never placed."""
        del self._plots[n:], self._w_items[n:], self._b_items[n:]

    def _new_plot(self) -> None:
        """One more layer's plot: W and the bias column, on the view's colour map."""
        plot = pg.PlotItem()
        style_plot(plot)
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.invertY(True)
        plot.setMinimumWidth(40)
        plot.setPreferredWidth(40)
        cached_axes(plot)
        if not self._plots:  # one set of axis names is enough: the others read the same way
            plot.setLabel("bottom", "input (b: bias)", **{"font-size": "8pt"})
            plot.setLabel("left", "neuron", **{"font-size": "8pt"})
        w_item = pg.ImageItem(axisOrder="row-major")
        b_item = pg.ImageItem(axisOrder="row-major")
        for it in (w_item, b_item):
            it.setColorMap(self.cmap)
            plot.addItem(it)
        self._plots.append(plot)
        self._w_items.append(w_item)
        self._b_items.append(b_item)

    def show_weights(self, weights: list, grads: list | None = None) -> None:
        self._weights = weights
        self._grads = grads
        self._render()

    def set_show_gradients(self, on: bool) -> None:
        self._show_grads = bool(on)
        self.colorbar.getAxis("left").setLabel("gradient" if on else "weight")  # where ColorBarItem puts it
        self._render()

    def reset_levels(self) -> None:
        self.weight_levels.reset()
        self.grad_levels.reset()

    def image_shapes(self) -> list[tuple[int, int]]:
        return [tuple(it.image.shape) for it in self._w_items]

    def levels(self) -> tuple[float, float]:
        """The colour levels in use (for tests)."""
        return tuple(float(v) for v in self.colorbar.levels())

    def displayed(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per layer (W image, bias column) as displayed (for tests)."""
        return [(w.image, b.image[:, 0]) for w, b in zip(self._w_items, self._b_items)]

    # internals
    def _apply_levels(self, m: float) -> None:
        for it in self._w_items + self._b_items:
            it.setLevels((-m, m))
        self._colorbar_levels(m)

    def _colorbar_levels(self, m: float) -> None:
        """±m with five labelled ticks (-m, -m/2, 0, m/2, m): the axis alone often picks one, "0"."""
        if self.colorbar.levels() == (-m, m) and self._tick_scale == m:
            return
        self._tick_scale = m
        self.colorbar.setLevels((-m, m))
        self.colorbar.axis.setTicks([[(v, tick_text(v)) for v in (-m, -m / 2, 0.0, m / 2, m)], []])

    def _render(self) -> None:
        data = self._grads if self._show_grads else self._weights
        if not self._w_items:
            return
        if data is None or len(data) != len(self._shapes):
            data = [(np.zeros(s), np.zeros(s[0])) for s in self._shapes]
        arrays = []
        peak = 0.0
        for (W, b), shape in zip(data, self._shapes):
            W = np.asarray(W, dtype=float).reshape(shape)
            b = np.asarray(b, dtype=float).reshape(shape[0], 1)
            arrays.append((W, b))
            with np.errstate(invalid="ignore"):
                peak = max(peak, float(np.nanmax(np.abs(W), initial=0.0)),
                           float(np.nanmax(np.abs(b), initial=0.0)))
        levels = self.grad_levels if self._show_grads else self.weight_levels
        m = levels.update(peak)
        for (W, b), w_item, b_item in zip(arrays, self._w_items, self._b_items):
            w_item.setImage(np.nan_to_num(W, posinf=m, neginf=-m), autoLevels=False, levels=(-m, m))
            b_item.setImage(np.nan_to_num(b, posinf=m, neginf=-m), autoLevels=False, levels=(-m, m))
        self._colorbar_levels(m)
