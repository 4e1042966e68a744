"""The live plots: loss and metric curves, weight heatmaps, decision surface, evals.

Every widget builds its pyqtgraph items once and afterwards only feeds them with
`setData` / `setImage`, so an update costs a few numpy operations, not a re-plot.
Colours mean one thing everywhere in the window: the diverging CET-D1 map, blue
for negative (class 0), red for positive (class 1), white at zero / the threshold.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from micrograd.predict import predict

BACKGROUND = "w"
FOREGROUND = "#333333"
TRAIN_COLOR = "#1f5fa8"   # train curves: dark blue
TEST_COLOR = "#e07b00"    # test curves: orange
TITLE_SIZE = "10pt"
_configured = False


def configure() -> None:
    """Global pyqtgraph options for the window (antialiasing, light theme); idempotent.

    Called by every widget constructor here, never at import time, so merely
    importing this module changes nothing for anyone else.
    """
    global _configured
    if not _configured:
        pg.setConfigOptions(antialias=True, background=BACKGROUND, foreground=FOREGROUND)
        _configured = True


def diverging_cmap() -> pg.ColorMap:
    return pg.colormap.get("CET-D1")


def _pale(cmap: pg.ColorMap, amount: float = 0.55) -> pg.ColorMap:
    """`cmap` blended towards white: a background that points stay visible on."""
    pos, colors = cmap.getStops(mode=pg.ColorMap.BYTE)
    colors = np.asarray(colors, dtype=float).copy()
    colors[:, :3] = colors[:, :3] + (255.0 - colors[:, :3]) * amount
    return pg.ColorMap(pos, np.round(colors).astype(np.ubyte))


def class_colors() -> tuple[QtGui.QColor, QtGui.QColor]:
    """(class 0, class 1) point colours: the two ends of the diverging map, a little darkened."""
    cmap = diverging_cmap()
    return cmap.map(0.08, mode=pg.ColorMap.QCOLOR), cmap.map(0.92, mode=pg.ColorMap.QCOLOR)


NICE = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def nice_ceil(x: float) -> float:
    """The smallest of NICE x 10^k that is >= x (x > 0)."""
    if not (x > 0 and math.isfinite(x)):
        return 1.0
    e = math.floor(math.log10(x))
    for m in NICE:
        v = m * 10.0 ** e
        if v >= x * (1 - 1e-12):
            return v
    return 10.0 ** (e + 1)


def _style_plot(plot: pg.PlotItem, title: str | None = None, left: str | None = None,
                bottom: str | None = None) -> None:
    font = QtGui.QFont()
    font.setPointSize(9)
    for name in ("left", "bottom"):
        ax = plot.getAxis(name)
        ax.setTickFont(font)
        ax.setPen(FOREGROUND)
        ax.setTextPen(FOREGROUND)
        # No "(x0.001)" SI scaling: it re-renders the axis label (HTML, a re-layout) whenever the
        # range moves, i.e. on most frames while training.
        ax.enableAutoSIPrefix(False)
    if title:
        plot.setTitle(title, size=TITLE_SIZE, color=FOREGROUND)
    if left:
        plot.setLabel("left", left, **{"font-size": "9pt"})
    if bottom:
        plot.setLabel("bottom", bottom, **{"font-size": "9pt"})


class _Buffer:
    """A growing float64 buffer (amortised O(1) append of a batch); `view()` is no copy."""

    def __init__(self, capacity: int = 256):
        self.data = np.empty(capacity)
        self.n = 0

    def clear(self):
        self.n = 0

    def extend(self, values) -> None:
        values = np.asarray(values, dtype=float)
        need = self.n + len(values)
        if need > len(self.data):
            grown = np.empty(max(need, 2 * len(self.data)))
            grown[:self.n] = self.data[:self.n]
            self.data = grown
        self.data[self.n:need] = values
        self.n = need

    def view(self) -> np.ndarray:
        return self.data[:self.n]


def _finite_or_nan(values) -> np.ndarray:
    a = np.array([np.nan if v is None else v for v in values], dtype=float)
    a[~np.isfinite(a)] = np.nan
    return a


# Painting dominates a frame. A 5000-point loss curve drawn with a 2-px antialiased pen
# cost ~60 ms on the raster engine; with a 1-px cosmetic pen, no antialiasing and peak
# downsampling to ~2 points per pixel column it costs ~1 ms. Long curves are drawn so.
DOWNSAMPLE_FACTOR = 1.0  # pyqtgraph's default 5 keeps ~5 samples per pixel: ~10x more to stroke


def _fast_curve(item: pg.PlotDataItem) -> pg.PlotDataItem:
    """Peak downsampling to the pixel width, clip to the view, no antialiasing."""
    item.setDownsampling(auto=True, method="peak")
    item.opts["autoDownsampleFactor"] = DOWNSAMPLE_FACTOR
    item.setClipToView(True)
    item.opts["antialias"] = False
    item.curve.opts["antialias"] = False
    return item


def _curve(plot: pg.PlotItem, color, name: str | None = None, width: float = 1.0,
           style=QtCore.Qt.PenStyle.SolidLine) -> pg.PlotDataItem:
    pen = pg.mkPen(color, width=width, style=style)
    pen.setCosmetic(True)
    item = plot.plot([], [], pen=pen, name=name, connect="finite", antialias=False)
    return _fast_curve(item)


def _light_grid(plot: pg.PlotItem, alpha: float = 0.15) -> None:
    """A grid at the labelled ticks only: the minor tick level's grid lines (blended
    across the whole plot) cost several ms per frame at this window size."""
    plot.showGrid(x=True, y=True, alpha=alpha)
    for name in ("left", "bottom"):
        plot.getAxis(name).setStyle(maxTickLevel=1)


class _PlotWidget(pg.GraphicsLayoutWidget):
    """A GraphicsLayoutWidget that never lets its plots shrink below readability."""

    def __init__(self, parent=None):
        configure()
        super().__init__(parent=parent, border=None)
        self.setBackground(BACKGROUND)
        self.ci.setContentsMargins(4, 4, 8, 4)
        self.setMinimumSize(220, 160)

    @classmethod
    def filling(cls, host):
        """One that fills `host` edge to edge."""
        w = cls(host)
        layout = QtWidgets.QVBoxLayout(host)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(w)
        return w


# --- loss + metric ------------------------------------------------------------

class LossPlot(QtWidgets.QWidget):
    """Loss against epoch (train and test, log toggle) beside accuracy / R² against epoch.

    Shows one run at a time: an epoch record of another run, or an epoch number that
    goes backwards (a reset), starts the curves afresh (the evals view shows all runs).
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("lossPlot")
        self.graphics = _PlotWidget.filling(self)

        self.loss_plot = self.graphics.addPlot(row=0, col=0)
        self.metric_plot = self.graphics.addPlot(row=0, col=1)
        _style_plot(self.loss_plot, "loss", "loss", "epoch")
        _style_plot(self.metric_plot, "accuracy", "accuracy", "epoch")
        for p in (self.loss_plot, self.metric_plot):
            _light_grid(p)
            p.setMenuEnabled(False)
        self.loss_legend = self.loss_plot.addLegend(offset=(-8, 8), labelTextSize="8pt")
        self.loss_legend.setBrush(pg.mkBrush(255, 255, 255, 200))
        self.metric_legend = self.metric_plot.addLegend(offset=(-8, -8), labelTextSize="8pt")
        self.metric_legend.setBrush(pg.mkBrush(255, 255, 255, 200))
        self.train_loss = _curve(self.loss_plot, TRAIN_COLOR, "train")
        self.test_loss = _curve(self.loss_plot, TEST_COLOR, "test", style=QtCore.Qt.PenStyle.DashLine)
        self.train_metric = _curve(self.metric_plot, TRAIN_COLOR, "train")
        self.test_metric = _curve(self.metric_plot, TEST_COLOR, "test", style=QtCore.Qt.PenStyle.DashLine)
        self.loss_plot.setLimits(xMin=0)
        self.metric_plot.setLimits(xMin=0)
        # The epoch axis grows in nice steps (0..1000, 0..1500, ...) instead of autoranging on
        # every frame: an axis whose range moves regenerates its ticks, labels and grid (ms each).
        self._x_max = None
        self._title = None
        self._dirty = False

        names = ("x", "train_loss", "test_loss", "train_metric", "test_metric",
                 "train_loss_log", "test_loss_log")
        self._buf = {k: _Buffer() for k in names}
        self._run = None
        self._last_epoch = 0
        self._log = False
        self._metric_name = ""
        self.set_metric_name("accuracy")

    # public API
    def clear(self) -> None:
        for b in self._buf.values():
            b.clear()
        self._run, self._last_epoch = None, 0
        self._set_title("loss")
        self._push()

    def add(self, epochs: list) -> None:
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
            for b in self._buf.values():
                b.clear()
            epochs = epochs[start:]
        self._run, self._last_epoch = epochs[-1].run, epochs[-1].epoch
        b = self._buf
        b["x"].extend([e.epoch for e in epochs])
        for key in ("train_loss", "test_loss"):
            vals = _finite_or_nan(getattr(e, key) for e in epochs)
            b[key].extend(vals)
            with np.errstate(invalid="ignore"):
                b[key + "_log"].extend(np.where(vals > 0, vals, np.nan))
        for key in ("train_metric", "test_metric"):
            vals = _finite_or_nan(getattr(e, key) for e in epochs)
            if self._metric_name != "accuracy":
                vals = np.maximum(vals, -1.0)  # R² can be hugely negative early on: clip the display
            b[key].extend(vals)
        stop = epochs[-1].stop
        self._set_title(f"loss  ({stop})" if stop else "loss")
        self._push()

    def set_log(self, on: bool) -> None:
        self._log = bool(on)
        self.loss_plot.setLogMode(y=self._log)
        self.loss_plot.enableAutoRange(axis="y")
        self._push()

    def set_metric_name(self, name: str) -> None:
        self._metric_name = name
        self.metric_plot.setTitle(name, size=TITLE_SIZE, color=FOREGROUND)
        self.metric_plot.setLabel("left", name, **{"font-size": "9pt"})
        if name == "accuracy":
            self.metric_plot.enableAutoRange(axis="y", enable=False)
            self.metric_plot.setYRange(0.0, 1.0, padding=0.02)
        else:
            self.metric_plot.enableAutoRange(axis="y", enable=False)
            self.metric_plot.setYRange(-1.0, 1.0, padding=0.02)

    def curve_length(self) -> int:
        return self._buf["x"].n

    def showEvent(self, event):
        super().showEvent(event)
        if self._dirty:
            self._push()  # catch up on what arrived while hidden

    # internals
    def _set_title(self, text: str) -> None:
        if text != self._title:  # a new title re-lays the plot out: only when it changes
            self._title = text
            self.loss_plot.setTitle(text, size=TITLE_SIZE, color=FOREGROUND)

    def _push(self) -> None:
        # Hidden (another tab shows) inside a shown window: keep the buffers, draw when shown.
        if not self.isVisible() and self.window().isVisible():
            self._dirty = True
            return
        self._dirty = False
        b = self._buf
        x = b["x"].view()
        suffix = "_log" if self._log else ""
        self.train_loss.setData(x, b["train_loss" + suffix].view())
        self.test_loss.setData(x, b["test_loss" + suffix].view())
        self.train_metric.setData(x, b["train_metric"].view())
        self.test_metric.setData(x, b["test_metric"].view())
        x_max = nice_ceil(max(float(x[-1]) if len(x) else 0.0, 10.0))
        if x_max != self._x_max:
            self._x_max = x_max
            for p in (self.loss_plot, self.metric_plot):
                p.enableAutoRange(axis="x", enable=False)
                p.setXRange(0, x_max, padding=0.01)
        # Settle the y autorange now rather than in the paint, where a range change queues
        # a second paint of the whole plot.
        if self.isVisible():
            self.graphics.scene().prepareForPaint()


# --- weight heatmaps ------------------------------------------------------------

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
    """

    def __init__(self, floor: float = 0.0, shrink: bool = False):
        self.floor, self.shrink = floor, shrink
        self.m = None

    def reset(self):
        self.m = None

    def update(self, peak: float) -> float:
        if not math.isfinite(peak):
            peak = 0.0
        want = nice_ceil(max(peak, self.floor, 1e-12))
        if self.m is None or want > self.m or (self.shrink and peak < self.m / 4):
            self.m = want
        return self.m


class WeightHeatmaps(QtWidgets.QWidget):
    """One image per layer: rows = output neurons, columns = inputs (W[out][in]).

    The bias is drawn as a separate one-pixel column to the right of W, after a gap,
    labelled "b". One colour bar for all layers; levels are symmetric and fixed:
    weights use the largest |w| of this run rounded up to a nice number (it only
    grows; `set_architecture` / `reset_levels` start again), gradients their own
    scale (which may also shrink, in nice steps, as gradients fade).
    """

    GAP = 0.35  # between W and the bias column, in pixels of the image

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("weightHeatmap")
        self.graphics = _PlotWidget.filling(self)
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
        self._cb_added = False

    # public API
    def set_architecture(self, inputs: int, layers: list[int]) -> None:
        shapes = [(nout, nin) for nin, nout in zip([inputs, *layers], layers)]
        self.weight_levels.reset()
        self.grad_levels.reset()
        if shapes == self._shapes:
            return
        self._shapes = shapes
        self._weights = self._grads = None
        self.graphics.clear()  # architecture changed: rebuild (never done per frame)
        self.graphics.ci.layout.setHorizontalSpacing(2)
        self._plots, self._w_items, self._b_items = [], [], []
        n = len(shapes)
        rows = 1 if n <= 4 else 2
        cols = math.ceil(n / rows)
        for k, (nout, nin) in enumerate(shapes):
            plot = self.graphics.addPlot(row=k // cols, col=k % cols)
            _style_plot(plot, f"layer {k + 1}: {nout}×{nin}")
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.invertY(True)
            w_item = pg.ImageItem(axisOrder="row-major")
            b_item = pg.ImageItem(axisOrder="row-major")
            w_item.setImage(np.zeros((nout, nin)), autoLevels=False, levels=(-1, 1))
            b_item.setImage(np.zeros((nout, 1)), autoLevels=False, levels=(-1, 1))
            w_item.setRect(QtCore.QRectF(0, 0, nin, nout))
            b_item.setRect(QtCore.QRectF(nin + self.GAP, 0, 1, nout))
            for it in (w_item, b_item):
                it.setColorMap(self.cmap)
                plot.addItem(it)
            plot.getAxis("bottom").setTicks([_index_ticks(nin) + [(nin + self.GAP + 0.5, "b")], []])
            plot.getAxis("left").setTicks([_index_ticks(nout), []])
            if k == 0:  # one set of axis names is enough: the others read the same way
                plot.setLabel("bottom", "input (b: bias)", **{"font-size": "8pt"})
                plot.setLabel("left", "neuron", **{"font-size": "8pt"})
            plot.setXRange(0, nin + self.GAP + 1, padding=0.02)
            plot.setYRange(0, nout, padding=0.02)
            self._plots.append(plot)
            self._w_items.append(w_item)
            self._b_items.append(b_item)
        self.colorbar.setImageItem(self._w_items + self._b_items)
        self.graphics.addItem(self.colorbar, row=0, col=cols, rowspan=rows)
        grid = self.graphics.ci.layout
        for c in range(cols):
            grid.setColumnStretchFactor(c, 1)
        grid.setColumnStretchFactor(cols, 0)
        for plot in self._plots:
            plot.setMinimumWidth(40)
            plot.setPreferredWidth(40)
        # A grown layout is only fitted back into the view on the next resize: fit it now.
        self.graphics.ci.setGeometry(self.graphics.range)
        self._apply_levels(1.0)
        self._render()

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
        self.colorbar.setLevels((-m, m))

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
        self.colorbar.setLevels((-m, m))


# --- decision surface --------------------------------------------------------------

def contour_segments(Z: np.ndarray, xs: np.ndarray, ys: np.ndarray, level: float):
    """Marching squares, vectorised: (x, y) arrays of segment end points, in pairs.

    Z[i, j] is the value at (xs[j], ys[i]). Feed the result to a PlotDataItem with
    connect="pairs". Saddle cells are resolved by the cell's mean value.
    """
    above = Z > level
    with np.errstate(divide="ignore", invalid="ignore"):
        # crossing positions along horizontal edges (i, j)-(i, j+1) and vertical edges (i, j)-(i+1, j)
        th = (level - Z[:, :-1]) / (Z[:, 1:] - Z[:, :-1])
        tv = (level - Z[:-1, :]) / (Z[1:, :] - Z[:-1, :])
    hx = xs[:-1][None, :] + th * np.diff(xs)[None, :]
    hy = np.broadcast_to(ys[:, None], th.shape)
    vx = np.broadcast_to(xs[None, :], tv.shape)
    vy = ys[:-1][:, None] + tv * np.diff(ys)[:, None]
    ch = above[:, :-1] != above[:, 1:]
    cv = above[:-1, :] != above[1:, :]
    # per cell (i, j): edges bottom (h[i]), right (v[:, j+1]), top (h[i+1]), left (v[:, j])
    px = np.stack([hx[:-1], vx[:, 1:], hx[1:], vx[:, :-1]], axis=-1)
    py = np.stack([hy[:-1], vy[:, 1:], hy[1:], vy[:, :-1]], axis=-1)
    mask = np.stack([ch[:-1], cv[:, 1:], ch[1:], cv[:, :-1]], axis=-1)
    count = mask.sum(axis=-1)
    two = count == 2
    sx = px[two][mask[two]]
    sy = py[two][mask[two]]
    four = count == 4
    if four.any():
        centre = (Z[:-1, :-1] + Z[:-1, 1:] + Z[1:, :-1] + Z[1:, 1:])[four] / 4 > level
        corner = above[:-1, :-1][four]
        fx, fy = px[four], py[four]
        # centre like corner (i, j): that corner joins its diagonal, cut off the other two corners
        order = np.where((centre == corner)[:, None], [0, 1, 2, 3], [0, 3, 1, 2])
        fx = np.take_along_axis(fx, order, axis=1).ravel()
        fy = np.take_along_axis(fy, order, axis=1).ravel()
        sx, sy = np.concatenate([sx, fx]), np.concatenate([sy, fy])
    return sx, sy


class DecisionPlot(QtWidgets.QWidget):
    """The model over its input plane (2 inputs) or line (1 input), with the data on top.

    Classification, 2 inputs: score − threshold as a pale diverging image (blue: class 0,
    red: class 1; symmetric levels that only grow during a model's life), the threshold
    contour in black, train points filled, test points hollow. Regression, 2 inputs: the
    fitted surface, points coloured by target on the same scale. 1 input: the fitted curve
    over x and the points. More inputs: a message instead of a plot.
    """

    GRID = 80
    CHUNK = 800
    CURVE_POINTS = 200

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("decisionPlot")
        self.graphics = _PlotWidget(self)
        self.message = QtWidgets.QLabel("decision surface needs 1 or 2 inputs", self)
        self.message.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"background: white; color: {FOREGROUND}; font-size: 11pt;")
        self.stack = QtWidgets.QStackedLayout(self)
        self.stack.setContentsMargins(0, 0, 0, 0)
        self.stack.addWidget(self.graphics)
        self.stack.addWidget(self.message)

        self.plot = self.graphics.addPlot()
        _style_plot(self.plot, "decision surface")
        self.plot.setMenuEnabled(False)
        self.cmap = diverging_cmap()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(_pale(self.cmap))
        self.image.setZValue(-10)
        self.plot.addItem(self.image)
        self.contour = pg.PlotDataItem([], [], pen=pg.mkPen("#222222", width=2), connect="pairs")
        self.plot.addItem(self.contour)
        self.curve = pg.PlotDataItem([], [], pen=pg.mkPen(TRAIN_COLOR, width=2.5))
        self.plot.addItem(self.curve)
        self.threshold_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("#888888", width=1,
                                                                     style=QtCore.Qt.PenStyle.DashLine))
        self.plot.addItem(self.threshold_line)
        # No legend box over the data: the title says which marker is which.
        self.train_points = pg.ScatterPlotItem(size=7)
        self.test_points = pg.ScatterPlotItem(size=8, symbol="o")
        self.plot.addItem(self.train_points)
        self.plot.addItem(self.test_points)

        self._dims = 0
        self._task = None
        self._grid = None
        self._xs = self._ys = None
        self._X = None  # the grid's input points
        self._target_range = (-1.0, 1.0)
        self._show_dims(0)

    # public API
    def set_data(self, train, test) -> None:
        test = test if test is not None and len(test) else None
        d = train.X.shape[1]
        self._task = train.task
        self.clear_model()
        if d not in (1, 2):
            self.message.setText(f"decision surface needs 1 or 2 inputs\n(this data has {d} features)")
            self._show_dims(d)
            self.train_points.setData([], [])
            self.test_points.setData([], [])
            return
        self._show_dims(d)
        allX = train.X if test is None else np.vstack([train.X, test.X])
        ally = train.y if test is None else np.concatenate([train.y, test.y])
        lo, hi = allX.min(axis=0), allX.max(axis=0)
        span = np.where(hi - lo > 0, hi - lo, 1.0)
        lo, hi = lo - 0.1 * span, hi + 0.1 * span
        names = list(train.features)
        if d == 2:
            self._xs = np.linspace(lo[0], hi[0], self.GRID)
            self._ys = np.linspace(lo[1], hi[1], self.GRID)
            gx, gy = np.meshgrid(self._xs, self._ys)
            self._X = np.column_stack([gx.ravel(), gy.ravel()])
            # pixel centres sit on the grid points
            dx, dy = self._xs[1] - self._xs[0], self._ys[1] - self._ys[0]
            self.image.setImage(np.zeros((self.GRID, self.GRID)), autoLevels=False, levels=(-1, 1))
            self.image.setRect(QtCore.QRectF(lo[0] - dx / 2, lo[1] - dy / 2,
                                             hi[0] - lo[0] + dx, hi[1] - lo[1] + dy))
            self.plot.setLabel("bottom", names[0], **{"font-size": "9pt"})
            self.plot.setLabel("left", names[1], **{"font-size": "9pt"})
            self.plot.setAspectLocked(False)
            self.plot.setXRange(lo[0], hi[0], padding=0)
            self.plot.setYRange(lo[1], hi[1], padding=0)
        else:
            self._xs = np.linspace(lo[0], hi[0], self.CURVE_POINTS)
            self._ys = None
            self._X = self._xs[:, None]
            self.plot.setLabel("bottom", names[0], **{"font-size": "9pt"})
            self.plot.setLabel("left", train.label, **{"font-size": "9pt"})
            ylo, yhi = float(ally.min()), float(ally.max())
            pad = 0.15 * (yhi - ylo or 1.0)
            self.plot.setXRange(lo[0], hi[0], padding=0)
            self.plot.setYRange(ylo - pad, yhi + pad, padding=0)
        if train.task == "regression":
            c = float(ally.mean())
            m = float(np.abs(ally - c).max()) or 1.0
            self._target_range = (c - m, c + m)
        what = "decision surface" if train.task == "classification" else \
            "fitted " + ("surface" if d == 2 else "curve")
        self.plot.setTitle(f"{what}   ● train  ○ test" if test is not None else f"{what}   ● train",
                           size=TITLE_SIZE, color=FOREGROUND)
        self._set_points(self.train_points, train, filled=True)
        self._set_points(self.test_points, test, filled=False)

    def show_model(self, weights, activations: list[str], threshold: float,
                   scale: float | None = None) -> None:
        """Evaluate the model on the grid and redraw. Classification colours saturate at
        `scale` from the threshold; by default half the output's natural range (sigmoid:
        0.5, otherwise 1, the hinge margin), a fixed scale so colours keep their meaning."""
        if self._X is None:
            return
        # Chunks of 800 rows stay under OpenBLAS's threading threshold: a 6400-row product
        # woken onto 2 threads measured 8 ms here against 0.6 ms in chunks.
        X = self._X
        out = np.concatenate([predict(weights, activations, X[i:i + self.CHUNK])[:, 0]
                              for i in range(0, len(X), self.CHUNK)])
        out = np.nan_to_num(out, nan=0.0, posinf=1e6, neginf=-1e6)
        if self._dims == 1:
            self._grid = out
            self.curve.setData(self._xs, out)
            if self._task == "classification":
                self.threshold_line.setValue(threshold)
            return
        Z = out.reshape(self.GRID, self.GRID)
        self._grid = Z
        if self._task == "classification":
            m = scale if scale and scale > 0 else (0.5 if activations[-1] == "sigmoid" else 1.0)
            self.image.setImage(Z - threshold, autoLevels=False, levels=(-m, m))
            sx, sy = contour_segments(Z, self._xs, self._ys, threshold)
            self.contour.setData(sx, sy)
        else:
            self.image.setImage(Z, autoLevels=False, levels=self._target_range)
        self.image.setVisible(True)

    def clear_model(self) -> None:
        self._grid = None
        self.image.setVisible(False)
        self.contour.setData([], [])
        self.curve.setData([], [])

    def grid_values(self):
        return self._grid

    def grid_axes(self):
        """(xs, ys) of the grid: grid_values()[i, j] is the output at (xs[j], ys[i]); ys None in 1-D."""
        return self._xs, self._ys

    # internals
    def _show_dims(self, d: int) -> None:
        self._dims = d if d in (1, 2) else 0
        if d not in (1, 2):
            self._X = self._xs = self._ys = None
        self.stack.setCurrentWidget(self.graphics if d in (1, 2) else self.message)
        self.curve.setVisible(d == 1)
        self.threshold_line.setVisible(d == 1 and self._task == "classification")
        self.contour.setVisible(d == 2)

    def _set_points(self, item: pg.ScatterPlotItem, ds, filled: bool) -> None:
        if ds is None:
            item.setData([], [])
            return
        if self._dims == 1:
            x, y = ds.X[:, 0], ds.y
        else:
            x, y = ds.X[:, 0], ds.X[:, 1]
        if ds.task == "classification":
            c0, c1 = class_colors()
            colors = [c1 if v > 0.5 else c0 for v in ds.y]
        elif self._dims == 2:
            lo, hi = self._target_range
            t = np.clip((ds.y - lo) / (hi - lo), 0, 1)
            colors = list(self.cmap.map(t, mode=pg.ColorMap.QCOLOR))
        else:
            colors = [QtGui.QColor(FOREGROUND)] * len(ds.y)
        if filled:
            item.setData(x, y, brush=[pg.mkBrush(c) for c in colors],
                         pen=pg.mkPen("#ffffff", width=0.8), symbol="o", size=7)
        else:
            item.setData(x, y, brush=pg.mkBrush(255, 255, 255, 160),
                         pen=[pg.mkPen(c, width=2) for c in colors], symbol="o", size=8)


# --- evals --------------------------------------------------------------------------

class EvalsView(QtWidgets.QWidget):
    """All runs of an evals session: each run's train loss (thin), the median (thick),
    the 25–75 % band, and a summary table. A run that has ended keeps its last loss
    for the statistics of later epochs (a converged run stays converged)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("evalsView")
        self.graphics = _PlotWidget(self)
        self.plot = self.graphics.addPlot()
        _style_plot(self.plot, "train loss over runs", "loss", "epoch")
        _light_grid(self.plot)
        self.plot.setMenuEnabled(False)
        self.legend = self.plot.addLegend(offset=(-8, 8), labelTextSize="8pt")
        self.legend.setBrush(pg.mkBrush(255, 255, 255, 200))
        self.lower = pg.PlotDataItem([], [], pen=pg.mkPen(None))
        self.upper = pg.PlotDataItem([], [], pen=pg.mkPen(None))
        self.band = pg.FillBetweenItem(self.lower, self.upper, brush=pg.mkBrush(31, 95, 168, 60))
        self.plot.addItem(self.lower)
        self.plot.addItem(self.upper)
        self.plot.addItem(self.band)
        self.median = _curve(self.plot, TRAIN_COLOR, "median", width=2)
        self.median.setZValue(10)
        # The legend can't draw a FillBetweenItem sample (it crashed Qt here): show a proxy swatch.
        self._band_swatch = pg.PlotDataItem([], [], pen=None, fillLevel=0,
                                            fillBrush=pg.mkBrush(31, 95, 168, 60))
        self.legend.addItem(self._band_swatch, "25–75 %")
        self._run_pen = pg.mkPen(120, 120, 120, 90, width=1)
        self._runs: dict[int, pg.PlotDataItem] = {}
        self._data: dict[int, _Buffer] = {}
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
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self._metric_name = "accuracy"

    # public API
    def clear(self) -> None:
        for item in self._runs.values():
            self.plot.removeItem(item)
        self._runs.clear()
        self._data.clear()
        self._ended.clear()
        self._stats = np.empty((3, 0))
        self._push_stats()
        self.table.setRowCount(0)

    def add(self, run: int, epochs: list) -> None:
        if not epochs:
            return
        if run not in self._runs:
            item = _fast_curve(self.plot.plot([], [], pen=self._run_pen, connect="finite", antialias=False))
            self._runs[run] = item
            self._data[run] = _Buffer()
        buf = self._data[run]
        start = buf.n
        buf.extend(_finite_or_nan(e.train_loss for e in epochs))
        if epochs[-1].stop:
            self._ended.add(run)
        y = buf.view()
        self._runs[run].setData(np.arange(1, buf.n + 1), self._display(y))
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
                cells = [_fmt(stats[k]) for k in ("mean", "std", "min", "max")]
            for c, t in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(t)
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)

    def set_metric_name(self, name: str) -> None:
        self._metric_name = name

    def set_log(self, on: bool) -> None:
        self._log = bool(on)
        self.plot.setLogMode(y=self._log)
        for run, item in self._runs.items():
            item.setData(np.arange(1, self._data[run].n + 1), self._display(self._data[run].view()))
        self._push_stats()
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
        with np.errstate(all="ignore"), _warnings_off():
            q = np.nanpercentile(M, [25, 50, 75], axis=0) if M.size else np.empty((3, 0))
        stats = np.empty((3, n))
        stats[:, :start] = self._stats[:, :start]
        stats[:, start:] = q
        self._stats = stats
        self._push_stats()

    def _push_stats(self) -> None:
        x = np.arange(1, self._stats.shape[1] + 1)
        lo, med, hi = (self._display(s) for s in self._stats)
        if self._log:  # the band can't have gaps: hold it at the median where a quantile is 0
            lo = np.where(np.isfinite(lo), lo, med)
        self.lower.setData(x, lo)
        self.upper.setData(x, hi)
        self.median.setData(x, med)


class _warnings_off:
    def __enter__(self):
        import warnings
        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


def _fmt(v: float) -> str:
    if v is None or not math.isfinite(v):
        return "—"
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.2e}"
    return f"{v:.4g}" if abs(v) >= 1 else f"{v:.3f}"


def save_png(widget, path) -> None:
    """Save what the widget shows to a PNG file; raise OSError if it can't be written."""
    if not widget.grab().save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
