"""What every view draws with: pyqtgraph set-up, the colours, plot helpers, growing buffers.

Colours mean one thing everywhere in the window: the diverging CET-D1 map, blue for negative
(class 0), red for positive (class 1), white at zero / the threshold.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

BACKGROUND = "w"
FOREGROUND = "#333333"
TRAIN_COLOR = "#1f5fa8"   # train curves: dark blue
TEST_COLOR = "#e07b00"    # test curves: orange
# Past runs drawn beside the current one (pinned, or left by a branch): muted, one hue each.
GHOST_COLORS = ("#8c8c8c", "#9b6fb0", "#5a9e6f", "#b0806f", "#6f8fb0", "#b0a35a", "#b06f8f", "#5aa3a3")
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


def pale(cmap: pg.ColorMap, amount: float = 0.55) -> pg.ColorMap:
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


LEVEL_CAP = 1e300  # beyond, a colour scale saturates anyway; and 2 x the float maximum is infinite


def nice_ceil(x: float) -> float:
    """The smallest of NICE x 10^k that is >= x (x > 0), at most LEVEL_CAP."""
    if not (x > 0 and math.isfinite(x)):
        return 1.0
    if x >= LEVEL_CAP:
        return LEVEL_CAP
    e = math.floor(math.log10(x))
    for m in NICE:
        v = m * 10.0 ** e
        if v >= x * (1 - 1e-12):
            return v
    return 10.0 ** (e + 1)


def tick_text(v: float) -> str:
    """A short label for an axis tick: 0, 0.5, 2.5, 1e-05, 2.5e+06."""
    if v == 0:
        return "0"
    return f"{v:.2g}" if 1e-3 <= abs(v) < 1e4 else f"{v:.1e}".replace(".0e", "e")


def set_title(plot: pg.PlotItem, text: str) -> None:
    """A plot's title in the house size and colour."""
    plot.setTitle(text, size=TITLE_SIZE, color=FOREGROUND)


def style_plot(plot: pg.PlotItem, title: str | None = None, left: str | None = None,
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
        set_title(plot, title)
    if left:
        plot.setLabel("left", left, **{"font-size": "9pt"})
    if bottom:
        plot.setLabel("bottom", bottom, **{"font-size": "9pt"})


def nice_span(values) -> tuple[float, float]:
    """The range (low, high) a live plot shows `values` in: from 0 or below to 0 or above,
    each end a nice step (`nice_ceil`) beyond the finite values. It moves only when the values
    cross a step: autoranged, an axis moved on every frame of a run and regenerated its ticks,
    labels and grid each time (a few ms an axis), its labels shifting under the eye."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    low = -nice_ceil(-float(v.min())) if v.size and v.min() < 0 else 0.0
    high = nice_ceil(float(v.max())) if v.size and v.max() > 0 else 0.0
    return (low, high) if high > low else (0.0, 1.0)


class Spans:
    """The spans a plot's axes show (`nice_span`), set on the plot only when they change."""

    PADDING = 0.05  # the end labels (0, 1.0...) stay inside the axis

    def __init__(self, plot: pg.PlotItem):
        self.plot, self.x, self.y = plot, None, None

    def show(self, x=None, y=None) -> None:
        """Hold the x axis to `nice_span(x)`, the y axis to `nice_span(y)` (None: left as it is)."""
        for axis, values in (("x", x), ("y", y)):
            if values is None:
                continue
            span = nice_span(values)
            if span != getattr(self, axis):
                setattr(self, axis, span)
                self.plot.enableAutoRange(axis=axis, enable=False)
                self.plot.setRange(**{f"{axis}Range": span}, padding=self.PADDING)

    def forget(self) -> None:
        """The plot's range was set elsewhere (a log switch): set it anew at the next `show`."""
        self.x = self.y = None


class LossAxis(pg.AxisItem):
    """A y axis whose log mode labels only as many ticks as fit, at least `MIN_GAP` pixels
    apart: every 1..9 x 10^k when a decade is tall, else 1, 2, 5 x 10^k, else every decade or
    every few decades; in less than the smallest of those steps, plain evenly spaced values.
    (pyqtgraph labels every 1..9 x 10^k whenever the range is under three decades: near the
    top of a decade the labels stack into an unreadable pile.)"""

    MIN_GAP = 24  # pixels between two labels

    def logTickValues(self, min_value, max_value, size, std_ticks):
        if not (max_value > min_value and size > 0):
            return []
        decade = size / (max_value - min_value)  # pixels per decade
        for mantissas in ((1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 5)):
            gap = min(np.diff(np.log10([*mantissas, 10])))
            if gap * decade >= self.MIN_GAP:
                values = [k + math.log10(m) for k in range(math.floor(min_value), math.ceil(max_value) + 1)
                          for m in mantissas]
                break
        else:
            step = max(1, math.ceil(self.MIN_GAP / decade))  # decades between labels
            values = list(range(math.ceil(min_value / step) * step, math.floor(max_value) + 1, step))
        values = [v for v in values if min_value <= v <= max_value]
        if len(values) < 2:  # a range too narrow for any of those: evenly spaced plain values
            low, high = 10.0 ** min_value, 10.0 ** max_value
            step = nice_ceil((high - low) / max(2, size // self.MIN_GAP))
            values = [math.log10(v) for v in np.arange(math.ceil(low / step) * step, high, step) if v > 0]
        return [(None, values)]

    def logTickStrings(self, values, scale, spacing):
        """Plain numbers from 0.001 to 9999, else m·10ⁿ; with the fewest digits (3 at least:
        0.15 is not "0.1") that tell the labels apart."""
        xs = 10.0 ** np.asarray(values, dtype=float) * scale
        for digits in range(3, 17):
            out = [_log_label(x, digits) for x in xs]
            if len(set(out)) == len(out):
                break
        return out


def _log_label(x, digits):
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.{digits}g}"
    m, e = f"{x:.{digits - 1}e}".split("e")
    m = m.rstrip("0").rstrip(".")
    return ("" if m == "1" else f"{m}·") + "10" + str(int(e)).translate(_SUPERSCRIPT)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def set_log_y(plot: pg.PlotItem, on: bool, values) -> None:
    """Switch the y axis to log (or back) with a y range fitted to `values` (the curves' data).

    pyqtgraph keeps the view range across the switch and reads it in the new units: a linear
    range up to 1e35 (a run that diverged, then reset) becomes 10^(1e35) on a log axis, and the
    tick computation never ends. So the range is set, in the new units, from the data."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if on:
        v = np.log10(v[v > 0])
    lo, hi = (float(v.min()), float(v.max())) if v.size else ((-1.0, 1.0) if on else (0.0, 1.0))
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    plot.setYRange(0.0, 1.0, padding=0)  # a range that means little in either unit, while switching
    plot.setLogMode(y=on)
    plot.setYRange(lo, hi)
    plot.enableAutoRange(axis="y")


EMPTY_PLANE = 2.0  # the plane of a custom set with no points yet: [-2, 2] per input


def data_bounds(train, test):
    """(low, high) per input of the data, widened by a tenth of their span on each side: the
    plane the decision plot and the diagram's thumbnails draw the model over."""
    X = train.X if test is None or not len(test) else np.vstack([train.X, test.X])
    if not len(X):  # no points placed yet
        return np.full(X.shape[1], -EMPTY_PLANE), np.full(X.shape[1], EMPTY_PLANE)
    lo, hi = X.min(axis=0), X.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    return lo - 0.1 * span, hi + 0.1 * span


def plane_grid(low, high, n):
    """(xs, ys, X): n points along each of two inputs' ranges, and the n*n grid points as rows
    (row k*n + j is (xs[j], ys[k]): reshape a result to (n, n) to index it [y, x])."""
    xs, ys = np.linspace(low[0], high[0], n), np.linspace(low[1], high[1], n)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.column_stack([gx.ravel(), gy.ravel()])


def finite_or_nan(values) -> np.ndarray:
    a = np.array([np.nan if v is None else v for v in values], dtype=float)
    a[~np.isfinite(a)] = np.nan
    return a


# Painting dominates a frame. A 5000-point loss curve drawn with a 2-px antialiased pen
# cost ~60 ms on the raster engine; with a 1-px cosmetic pen, no antialiasing and peak
# downsampling to ~2 points per pixel column it costs ~1 ms. Long curves are drawn so.
DOWNSAMPLE_FACTOR = 1.0  # pyqtgraph's default 5 keeps ~5 samples per pixel: ~10x more to stroke


def fast_curve(item: pg.PlotDataItem) -> pg.PlotDataItem:
    """Peak downsampling to the pixel width, clip to the view, no antialiasing."""
    item.setDownsampling(auto=True, method="peak")
    item.opts["autoDownsampleFactor"] = DOWNSAMPLE_FACTOR
    item.setClipToView(True)
    item.opts["antialias"] = False
    item.curve.opts["antialias"] = False
    return item


def curve(plot: pg.PlotItem, color, name: str | None = None, width: float = 1.0,
           style=QtCore.Qt.PenStyle.SolidLine) -> pg.PlotDataItem:
    pen = pg.mkPen(color, width=width, style=style)
    pen.setCosmetic(True)
    item = plot.plot([], [], pen=pen, name=name, connect="finite", antialias=False)
    return fast_curve(item)


def light_grid(plot: pg.PlotItem, alpha: float = 0.15) -> None:
    """A grid at the labelled ticks only: the minor tick level's grid lines (blended
    across the whole plot) cost several ms per frame at this window size."""
    plot.showGrid(x=True, y=True, alpha=alpha)
    for name in ("left", "bottom"):
        plot.getAxis(name).setStyle(maxTickLevel=1)


def cached_axes(plot: pg.PlotItem) -> None:
    """Axes that keep their look as a pixmap. An axis (its grid lines span the plot) is
    repainted whenever anything in the plot changes; replaying its drawing, text and all, was
    the largest single cost of a frame at full pace (5 ms of 25 on the demo network). Now it is
    drawn again only when its range or size changes."""
    for name in ("left", "bottom", "right", "top"):
        plot.getAxis(name).setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)


class PlotWidget(pg.GraphicsLayoutWidget):
    """A GraphicsLayoutWidget that never lets its plots shrink below readability."""

    def __init__(self, parent=None):
        configure()
        super().__init__(parent=parent, border=None)
        # No item index: an axis with a grid changes its bounding rect with its plot's size
        # without telling the scene (pyqtgraph's AxisItem), so the index kept stale entries
        # and painting after a plot was removed crashed. A plot has a few dozen items: a scan
        # of them costs nothing.
        self.scene().setItemIndexMethod(QtWidgets.QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setBackground(BACKGROUND)
        self.ci.setContentsMargins(4, 4, 8, 4)
        self.setMinimumSize(220, 160)
        self.addPlot = self._add_plot  # pyqtgraph's __init__ put its layout's addPlot here

    def _add_plot(self, *args, **kwargs):
        """pyqtgraph's addPlot, with `cached_axes`."""
        plot = self.ci.addPlot(*args, **kwargs)
        cached_axes(plot)
        return plot

    @classmethod
    def filling(cls, host, *controls):
        """One that fills `host` edge to edge, under a row of `controls` (check boxes...) if any."""
        w = cls(host)
        layout = QtWidgets.QVBoxLayout(host)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        if controls:
            bar = QtWidgets.QHBoxLayout()
            bar.setContentsMargins(4, 2, 4, 0)
            for c in controls:
                bar.addWidget(c)
            bar.addStretch(1)
            layout.addLayout(bar)
        layout.addWidget(w, 1)
        return w


def check_box(text, name, tip, on_toggle):
    """A view's option: its objectName is how the window remembers it between sessions."""
    box = QtWidgets.QCheckBox(text)
    box.setObjectName(name)
    box.setToolTip(tip)
    box.toggled.connect(on_toggle)
    return box


def set_row(table: QtWidgets.QTableWidget, row: int, cells, right_from: int = 0) -> None:
    """Write the texts `cells` into `row` of `table` (reusing its items), aligned right from
    column `right_from` on (numbers), left before it."""
    for column, text in enumerate(cells):
        item = table.item(row, column)
        if item is None:
            item = QtWidgets.QTableWidgetItem()
            table.setItem(row, column, item)
        item.setText(text)
        if column >= right_from:
            item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)


def table_text(v: float) -> str:
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
