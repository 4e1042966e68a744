"""The model over its input plane (or line), with the data on top: the decision surface."""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from micrograd.predict import predict

from ..fields import NumberBox
from .base import LiveView
from .style import (FOREGROUND, TRAIN_COLOR, PlotWidget, check_box, class_colors, data_bounds, diverging_cmap, pale,
                    plane_grid, set_title, style_plot)

PICK_PIXELS = 5  # a click this close to a point picks it instead of placing one
SHADES = 63      # a regression's points take 64 shades of the map: each colour is a symbol to render


def contour_segments(Z: np.ndarray, xs: np.ndarray, ys: np.ndarray, level: float):
    """Marching squares, vectorised: (x, y) arrays of segment end points, in pairs.

    Z[i, j] is the value at (xs[j], ys[i]). Feed the result to a PlotDataItem with
    connect="pairs". Saddle cells are resolved by the cell's mean value. A lone grid point on
    the other side of the level from its four neighbours is taken to be on their side: along a
    crease that just touches the level (relu networks have them) such specks drew a dotted line.
    """
    above = _without_specks(Z > level)
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


def _without_specks(above: np.ndarray) -> np.ndarray:
    """`above` with every point whose four neighbours all differ from it flipped to theirs."""
    p = np.pad(above, 1, mode="edge")  # a point at the border has itself as its outer neighbour
    lonely = ((p[:-2, 1:-1] != above) & (p[2:, 1:-1] != above)
              & (p[1:-1, :-2] != above) & (p[1:-1, 2:] != above))
    return above ^ lonely


class Points(pg.ScatterPlotItem):
    """Points that leave clicks to the view box (it picks the point under the mouse, or places one)."""

    def mouseClickEvent(self, ev):
        ev.ignore()


class PointsBox(pg.ViewBox):
    """The decision plot's view box: a click places a point (or picks the one under it), a
    Ctrl-drag removes the points in its box; other drags pan and zoom as usual. A drag keeps
    the kind it started as: Ctrl pressed or let go midway neither pans an erase nor erases a pan."""

    def __init__(self, owner):
        super().__init__()
        self.owner = owner
        self.band = QtWidgets.QGraphicsRectItem()
        pen = pg.mkPen("#333333", width=1, style=QtCore.Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self.band.setPen(pen)
        self.band.setBrush(pg.mkBrush(0, 0, 0, 25))
        self.band.hide()
        self.addItem(self.band, ignoreBounds=True)
        self._erasing = False  # the drag under way started with Ctrl

    def mouseClickEvent(self, ev):
        if ev.button() in (QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.RightButton):
            ev.accept()
            p = self.mapToView(ev.pos())
            self.owner.clicked(p.x(), p.y(), ev.button(), ev.modifiers())
            return
        super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):
        if ev.isStart():
            self._erasing = bool(ev.button() == QtCore.Qt.MouseButton.LeftButton
                                 and ev.modifiers() & QtCore.Qt.KeyboardModifier.ControlModifier)
        if self._erasing:
            ev.accept()
            box = QtCore.QRectF(self.mapToView(ev.buttonDownPos()), self.mapToView(ev.pos())).normalized()
            if ev.isFinish():
                self.band.hide()
                self.owner.areaCleared.emit((box.left(), box.top()), (box.right(), box.bottom()))
            else:
                self.band.setRect(box)
                self.band.show()
            return
        super().mouseDragEvent(ev, axis)


class DecisionPlot(LiveView, QtWidgets.QWidget):
    """The model over its input plane (2 inputs) or line (1 input), with the data on top.

    Classification, 2 inputs: score − threshold as a pale diverging image (blue: class 0,
    red: class 1; symmetric levels that only grow during a model's life), the threshold
    contour in black, train points filled, test points hollow. Regression, 2 inputs: the
    fitted surface, points coloured by target on the same scale. 1 input: the fitted curve
    over x and the points. More inputs: a message instead of a plot.

    The points can be edited with the mouse (the window turns them into a custom set): a
    left click places one of class 1, a right or Shift click one of class 0 (regression: the
    target in the box; with one input, where the click is), a Ctrl-drag removes those in its
    box, Clear data removes all. A click on a point picks it instead (`pointPicked`).
    """

    pointAdded = QtCore.Signal(object, float)  # (the point's inputs, its class or target)
    areaCleared = QtCore.Signal(object, object)  # (low, high) corners, in the plot's (x, y)
    clearRequested = QtCore.Signal()
    pointPicked = QtCore.Signal(object, float)  # (the inputs, numpy, and the label of the point clicked)

    title = "Decision Plot"
    GRID = 80
    CHUNK = 800  # grid rows per product
    PART_SECONDS = 0.005
    CURVE_POINTS = 200

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("decisionPlot")
        self.discretize_check = check_box("discretize", "discretizeCheck",
                                          "One colour per class (which side of the threshold), not how far", self._redraw)
        self.test_check = check_box("show test data", "showTestCheck", "Show the held-out test points (hollow)",
                                    self._on_show_test)
        self.target_box = NumberBox()
        self.target_box.setObjectName("targetBox")
        self.target_box.setRange(-1e6, 1e6)
        self.target_box.setValue(1.0)
        self.target_box.setToolTip("The target of a point placed with a click")
        self.target_label = QtWidgets.QLabel("target")
        self.clear_button = QtWidgets.QPushButton("Clear data")
        self.clear_button.setObjectName("clearDataButton")
        self.clear_button.setToolTip("Remove every point (Edit > Undo brings them back). Click to place points: "
                                     "left class 1, right or Shift class 0; Ctrl-drag removes points")
        self.clear_button.clicked.connect(self.clearRequested)
        page = QtWidgets.QWidget()
        self.graphics = PlotWidget.filling(page, self.discretize_check, self.test_check, self.target_label,
                                           self.target_box, self.clear_button)
        self.message = QtWidgets.QLabel("decision surface needs 1 or 2 inputs", self)
        self.message.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"background: white; color: {FOREGROUND}; font-size: 11pt;")
        self.stack = QtWidgets.QStackedLayout(self)
        self.stack.setContentsMargins(0, 0, 0, 0)
        self.stack.addWidget(page)
        self.stack.addWidget(self.message)
        self._page = page

        self.plot = self.graphics.addPlot(viewBox=PointsBox(self))
        style_plot(self.plot, "decision surface")
        self.plot.setMenuEnabled(False)
        self.cmap = diverging_cmap()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pale(self.cmap))
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
        self.train_points = Points(size=7)
        self.test_points = Points(size=8, symbol="o")
        self.plot.addItem(self.train_points)
        self.plot.addItem(self.test_points)
        self.picked = Points(size=15, symbol="o", brush=None, pen=pg.mkPen(FOREGROUND, width=2))
        self.plot.addItem(self.picked)

        self._dims = 0
        self._task = None
        self._grid = None
        self._xs = self._ys = None
        self._X = None  # the grid's input points
        self._target_range = (-1.0, 1.0)
        self._plane = None  # (x low, x high, y low, y high) shown
        self._train = self._test = None
        self._activations, self._threshold, self._feature_map = [], 0.0, []
        self._weights = None
        self._show_dims(0)
        self.test_check.setChecked(True)

    # the view protocol
    def prepare(self, setup) -> None:
        self._activations, self._threshold = list(setup.config.activations), setup.threshold
        self._feature_map = list(setup.config.feature_map)  # the axes stay the data's x1, x2
        self.set_data(setup.train, setup.test)

    def new_data(self, setup) -> None:
        self.set_data(setup.train, setup.test, keep_plane=True)
        self._redraw()

    def present(self, snapshot):
        return self.model_parts(snapshot.weights, self._activations, self._threshold)

    # public API
    def set_data(self, train, test, keep_plane=False) -> None:
        """Show these points; `keep_plane`: the plane shown stays, only growing to take them in
        (points placed by hand: the plot does not move under the mouse)."""
        test = test if test is not None and len(test) else None
        self._train, self._test = train, test
        d = train.X.shape[1]
        self._task = train.task
        self.picked.setData([], [])
        if not keep_plane:
            self.clear_model()
            self._plane = None
        if d not in (1, 2):
            self.message.setText(f"decision surface needs 1 or 2 inputs\n(this data has {d} features)")
            self._show_dims(d)
            self.train_points.setData([], [])
            self.test_points.setData([], [])
            return
        self._show_dims(d)
        self.target_box.setVisible(train.task == "regression" and d == 2)
        self.target_label.setVisible(self.target_box.isVisible())
        ally = train.y if test is None else np.concatenate([train.y, test.y])
        lo, hi = data_bounds(train, test)
        if d == 2:
            plane = (lo[0], hi[0], lo[1], hi[1])
        elif len(ally):
            ylo, yhi = float(ally.min()), float(ally.max())
            pad = 0.15 * (yhi - ylo or 1.0)
            plane = (lo[0], hi[0], ylo - pad, yhi + pad)
        else:
            plane = (lo[0], hi[0], lo[0], hi[0])
        if keep_plane and self._plane is not None:
            plane = (min(plane[0], self._plane[0]), max(plane[1], self._plane[1]),
                     min(plane[2], self._plane[2]), max(plane[3], self._plane[3]))
        if plane != self._plane:
            self._set_plane(d, plane, names=list(train.features), label=train.label)
        if train.task == "regression" and len(ally):
            c = float(ally.mean())
            m = float(np.abs(ally - c).max()) or 1.0
            self._target_range = (c - m, c + m)
        what = "decision surface" if train.task == "classification" else \
            "fitted " + ("surface" if d == 2 else "curve")
        set_title(self.plot, f"{what}   ● train  ○ test" if test is not None else f"{what}   ● train")
        self._set_points(self.train_points, train, filled=True)
        self._set_points(self.test_points, test, filled=False)

    def _set_plane(self, d, plane, names, label):
        self._plane = plane
        x0, x1, y0, y1 = plane
        self.plot.setLabel("bottom", names[0], **{"font-size": "9pt"})
        if d == 2:
            self._xs, self._ys, self._X = plane_grid((x0, y0), (x1, y1), self.GRID)
            # pixel centres sit on the grid points
            dx, dy = self._xs[1] - self._xs[0], self._ys[1] - self._ys[0]
            self.image.setImage(np.zeros((self.GRID, self.GRID)), autoLevels=False, levels=(-1, 1))
            self.image.setRect(QtCore.QRectF(x0 - dx / 2, y0 - dy / 2, x1 - x0 + dx, y1 - y0 + dy))
            self.plot.setLabel("left", names[1], **{"font-size": "9pt"})
            self.plot.setAspectLocked(False)
        else:
            self._xs = np.linspace(x0, x1, self.CURVE_POINTS)
            self._ys = None
            self._X = self._xs[:, None]
            self.plot.setLabel("left", label, **{"font-size": "9pt"})
        self.plot.setXRange(x0, x1, padding=0)
        self.plot.setYRange(y0, y1, padding=0)

    def clicked(self, x, y, button, modifiers):
        """A click at (x, y) of the plot: picks the point there, or places one."""
        if self._dims not in (1, 2):
            return
        near = self._point_near(x, y)
        if near is not None:
            self.picked.setData([near[0]], [near[1]])
            self.pointPicked.emit(np.array(near[2]), float(near[3]))
            return
        zero = button == QtCore.Qt.MouseButton.RightButton or modifiers & QtCore.Qt.KeyboardModifier.ShiftModifier
        inputs = (x, y) if self._dims == 2 else (x,)
        if self._task == "classification":
            target = 0.0 if zero else 1.0
        else:
            target = self.target_box.value() if self._dims == 2 else y
        self.pointAdded.emit(inputs, float(target))

    def _point_near(self, x, y):
        """(plot x, plot y, inputs, label) of the shown point nearest (x, y) within PICK_PIXELS, or None."""
        parts = [ds for ds, item in ((self._train, self.train_points), (self._test, self.test_points))
                 if ds is not None and len(ds) and item.isVisible()]
        if not parts:
            return None
        X, labels = np.vstack([ds.X for ds in parts]), np.concatenate([ds.y for ds in parts])
        P = X if self._dims == 2 else np.column_stack([X[:, 0], labels])
        pw, ph = self.plot.vb.viewPixelSize()
        dist = np.hypot((P[:, 0] - x) / pw, (P[:, 1] - y) / ph)
        i = int(np.argmin(dist))
        return (P[i, 0], P[i, 1], X[i], labels[i]) if dist[i] <= PICK_PIXELS else None

    def show_model(self, weights, activations: list[str], threshold: float,
                   scale: float | None = None) -> None:
        """Evaluate the model on the grid and redraw. Classification colours saturate at
        `scale` from the threshold; by default half the output's natural range (sigmoid:
        0.5, otherwise 1, the hinge margin), a fixed scale so colours keep their meaning."""
        for _ in self.model_parts(weights, activations, threshold, scale):
            pass

    def model_parts(self, weights, activations, threshold, scale=None):
        """`show_model`, yielding whenever a part of the grid has taken PART_SECONDS: an 8x64
        network's grid takes ~25 ms, the demo network's well under one part."""
        self._weights = weights
        if self._X is None:
            return
        X, parts, start = self._X, [], time.perf_counter()
        for i in range(0, len(X), self.CHUNK):
            if parts and time.perf_counter() - start > self.PART_SECONDS:
                yield
                start = time.perf_counter()
            parts.append(predict(weights, activations, X[i:i + self.CHUNK], self._feature_map)[:, 0])
        out = np.concatenate(parts)
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
            shown = Z - threshold
            if self.discretize_check.isChecked():  # Playground's "discretize output"
                shown = np.where(shown > 0, 0.7 * m, -0.7 * m)
            self.image.setImage(shown, autoLevels=False, levels=(-m, m))
            sx, sy = contour_segments(Z, self._xs, self._ys, threshold)
            self.contour.setData(sx, sy)
        else:
            self.image.setImage(Z, autoLevels=False, levels=self._target_range)
        self.image.setVisible(True)

    def _redraw(self, *_):
        if self._weights is not None:
            self.show_model(self._weights, self._activations, self._threshold)

    def _on_show_test(self, on):
        self.test_points.setVisible(on)

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
        self.stack.setCurrentWidget(self._page if d in (1, 2) else self.message)
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
            colors = list(self.cmap.map(np.round(t * SHADES) / SHADES, mode=pg.ColorMap.QCOLOR))
        else:
            colors = [QtGui.QColor(FOREGROUND)] * len(ds.y)
        # One brush (or pen) object per colour: pyqtgraph renders a symbol for each distinct one,
        # and a new object per point made 1,000 points a 110 ms turn of the event loop.
        made = {}

        def one(c, make):
            if c.rgba() not in made:
                made[c.rgba()] = make(c)
            return made[c.rgba()]

        if filled:
            item.setData(x, y, brush=[one(c, pg.mkBrush) for c in colors],
                         pen=pg.mkPen("#ffffff", width=0.8), symbol="o", size=7)
        else:
            item.setData(x, y, brush=pg.mkBrush(255, 255, 255, 160),
                         pen=[one(c, lambda c: pg.mkPen(c, width=2)) for c in colors], symbol="o", size=8)
