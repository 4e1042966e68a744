"""The live network diagram: neurons in columns, links coloured by sign and thick by |w|.

Drawing thousands of links as one QGraphicsItem each is slow to build and slow to
paint. Instead every weight is quantised (numpy) into a signed magnitude step, and
all links of one step share one QGraphicsPathItem with one pen: 2 x STEPS + 1 path
items however big the network. An update rebuilds, with `pg.arrayToQPath`, only the
paths of the steps whose membership changed. Neurons are ellipse items (bias as
fill). Tooltips are computed on demand from the latest weights, so they are always
current and cost nothing per frame; the link under the mouse is found geometrically.

With two inputs, every neuron shows what it computes over the input plane (TensorFlow
Playground's thumbnails): one batched forward pass over a small grid keeps every layer's
outputs, each is coloured, and a column's thumbnails are pasted into one image (one pixmap
item per column, however many neurons). They shrink with the room a neuron has and give way
to plain circles below MIN_THUMB pixels; hovering a neuron still shows it large.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from micrograd.features import FEATURES, apply
from micrograd.predict import layer_outputs

from .base import LiveView
from .neuron import NeuronCard, ValueEditor, output_image
from .style import data_bounds, diverging_cmap, nice_ceil, pale, plane_grid

STEPS = 12                      # magnitude steps per sign
HIDDEN = STEPS + 1              # the step of a link left out (no path draws it)
LINKS_SHOWN = 256               # per layer at most: 4,096 links of a 64 x 64 layer make a solid wall
NEG = QtGui.QColor("#3b4cc0")   # blue: negative (as in the heatmaps' CET-D1 map)
POS = QtGui.QColor("#c0282d")   # red: positive
NEURON_PEN = QtGui.QColor("#555555")
INPUT_FILL = QtGui.QColor("#e6e6e6")
ZERO_FILL = QtGui.QColor("#f7f7f7")
TEXT = QtGui.QColor("#333333")
WARNING_COLOR = "#c25400"  # a layer's caption when its health has a warning
BADGE = "⚠ "
KIND = 0         # QGraphicsItem.data key: ("input", i) or ("neuron", l, j)
HOVER_PX = 5     # how near (pixels) the mouse must be to a link for its tooltip
THUMB_GRID = 16  # samples along each input for a thumbnail
MIN_THUMB, MAX_THUMB = 12, 40  # pixels: smaller gives plain circles; larger tells nothing more


def _mix(c: QtGui.QColor, t: float, alpha: int = 255) -> QtGui.QColor:
    """c faded towards near-white by (1 - t)."""
    g = 242
    return QtGui.QColor(int(g + (c.red() - g) * t), int(g + (c.green() - g) * t),
                        int(g + (c.blue() - g) * t), alpha)


class NetworkView(LiveView, QtWidgets.QGraphicsView):
    """Neurons as circles in columns (inputs, hidden layers, output); links red for a
    positive weight and blue for a negative one (the heatmaps' colours), wider and more
    opaque with |w| relative to the largest |w| of this run (rounded up to a nice number;
    it only grows until the next `set_architecture`). A neuron's fill is its bias on the
    same scale. Hover a link or a neuron for its value."""

    title = "Network Diagram"
    # (layer, neuron, input or None for the bias, value): the user set a weight (while paused)
    parameterEdited = QtCore.Signal(int, int, object, float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("networkView")
        self.setScene(QtWidgets.QGraphicsScene(self))
        self.scene().setItemIndexMethod(QtWidgets.QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setBackgroundBrush(QtGui.QBrush(QtGui.QColor("white")))
        self.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setMinimumSize(200, 150)
        self._arch = None
        self._sizes: list[int] = []
        self._neurons: list[list[QtWidgets.QGraphicsEllipseItem]] = []  # per column, inputs first
        self._captions: list[QtWidgets.QGraphicsSimpleTextItem] = []
        self._links = None  # every link: a `_Links` item
        self._seg = np.empty((0, 4))      # all links: x0, y0, x1, y1 (layer by layer, [j * nin + i])
        self._layer_start: list[int] = []  # offset of each layer's links in _seg
        self._step = np.empty(0, dtype=np.int64)
        self._bias_step: list[np.ndarray] = []
        self._weights = None
        self._scales = None  # per layer: |w| drawn at full width and colour
        self._pens = self._brushes = None
        self._plane = None         # (xs, ys, X) of the thumbnails' grid, or None (not 2 inputs)
        self._feature_map = []     # the network's inputs computed from the data's x1, x2 (or none)
        self._threshold = 0.0
        self._thumb = 0            # thumbnail size in pixels (0: plain circles)
        self._thumb_items: list[QtWidgets.QGraphicsPixmapItem] = []  # per column
        # Less pale than the decision surface: a thumbnail has no points on it to keep visible.
        self._lut = np.asarray(pale(diverging_cmap(), 0.15).getLookupTable(nPts=256, alpha=False), dtype=np.uint8)
        self.card = NeuronCard(self)
        self.card.biasEdited.connect(lambda v: self._card_neuron and self._edit(*self._card_neuron[1:], None, v))
        self.editor = ValueEditor(self)
        self.editor.edited.connect(lambda v: self._edited_link and self._edit(*self._edited_link, v))
        self._card_neuron = None   # the kind tuple of the neuron the card shows
        self._pinned = False       # the card stays (it was clicked), not only while hovered
        self._edited_link = None   # (l, j, i) in the editor
        self._editable = False
        self.setMouseTracking(True)

    # --- the view protocol --------------------------------------------------------------
    def prepare(self, setup) -> None:
        self._feature_map = list(setup.config.feature_map)
        self.set_architecture(*setup.config.architecture, names=[FEATURES[n].label for n in self._feature_map])
        self._threshold = setup.threshold
        two = setup.train.X.shape[1] == 2
        self._bounds = data_bounds(setup.train, setup.test)
        self._plane = plane_grid(*self._bounds, THUMB_GRID) if two else None
        self._layout()

    def new_data(self, setup) -> None:
        """Points placed by hand: the thumbnails' plane grows to take them in, as the decision
        plot's does, so both show the model over one plane (the draw that follows redraws)."""
        if self._plane is None:
            return
        lo, hi = data_bounds(setup.train, setup.test)
        self._bounds = np.minimum(lo, self._bounds[0]), np.maximum(hi, self._bounds[1])
        self._plane = plane_grid(*self._bounds, THUMB_GRID)

    def present(self, snapshot) -> None:
        self.show_weights(snapshot.weights)
        self._draw_thumbnails()
        if self.card.isVisible() and self._card_neuron:
            self._show_card(self._card_neuron)

    def set_editable(self, on: bool) -> None:
        """Weights and biases can be set by hand (the run is paused): a click on a link opens
        an editor, the card of a neuron edits its bias."""
        self._editable = bool(on)
        if not on:
            self.editor.hide()
        self.card.bias.setEnabled(self._editable)

    # --- public API -------------------------------------------------------------------
    def set_architecture(self, inputs: int, layers: list[int], activations: list[str], names=()) -> None:
        """`names`: the input nodes' labels (input features), else x1, x2, ..."""
        arch = (int(inputs), tuple(layers), tuple(activations), tuple(names))
        self._scales = None
        if arch == self._arch:
            return
        self._arch = arch
        self._weights = None
        self.card.hide()
        self.editor.hide()
        self._card_neuron = self._edited_link = None
        self._pinned = False
        scene = self.scene()
        scene.clear()
        self._thumb_items = []
        sizes = [int(inputs), *layers]
        self._sizes = sizes
        n_links = sum(a * b for a, b in zip(sizes, sizes[1:]))
        max_width = 4.0 if n_links <= 400 else 2.5 if n_links <= 3000 else 1.6
        self._pens, self._brushes = _make_pens(max_width)
        # Before any weights, as with them: a dense layer draws at most LINKS_SHOWN links (all
        # 28,864 of 8 x 64 at step 0 made the first paint of a new network a 45 ms turn).
        self._step = np.concatenate([_shown(np.zeros(a * b, dtype=np.int64)) for a, b in zip(sizes, sizes[1:])])
        self._layer_start = [0]
        for a, b in zip(sizes, sizes[1:]):
            self._layer_start.append(self._layer_start[-1] + a * b)
        self._links = _Links({s: self._pen(s) for s in range(-STEPS, STEPS + 1)})
        scene.addItem(self._links)

        self._neurons, self._bias_step, self._captions = [], [], []
        pen = QtGui.QPen(NEURON_PEN, 1.2)
        pen.setCosmetic(True)
        font = QtGui.QFont()
        font.setPointSize(8)
        for c, n in enumerate(sizes):
            items = []
            for j in range(n):
                e = QtWidgets.QGraphicsEllipseItem()
                e.setPen(pen)
                e.setBrush(INPUT_FILL if c == 0 else ZERO_FILL)
                e.setZValue(2)
                e.setData(KIND, ("input", j) if c == 0 else ("neuron", c - 1, j))
                scene.addItem(e)
                items.append(e)
            self._neurons.append(items)
            if c:
                self._bias_step.append(np.zeros(n, dtype=np.int64))
            if c == 0:
                what = "feature" if names else "input"
                caption = (f"{inputs} {what}" + ("s" if inputs > 1 else ""), f"{what}s\n{inputs}")
            else:
                act = activations[c - 1] if c - 1 < len(activations) else ""
                act = ("out " + act) if c == len(sizes) - 1 else act
                caption = (f"{act} {layers[c - 1]}", f"{act}\n{layers[c - 1]}")
            text = QtWidgets.QGraphicsSimpleTextItem(caption[0])
            text.setData(KIND + 1, caption)  # (one line, two lines)
            text.setFont(font)
            text.setBrush(TEXT)
            scene.addItem(text)
            self._captions.append(text)
        self._layout()

    def set_badges(self, notes) -> None:
        """Per layer (the output layer last) a text on what is wrong with it (layer health), or
        "" when nothing is: a layer with one gets a warning sign by its caption, the text as the
        caption's tooltip."""
        for text, note in zip(self._captions[1:], notes):
            one, two = text.data(KIND + 1)
            bare = (one.removeprefix(BADGE), two.removeprefix(BADGE))
            text.setData(KIND + 1, (BADGE + bare[0], BADGE + bare[1]) if note else bare)
            text.setBrush(QtGui.QColor(WARNING_COLOR) if note else TEXT)
            text.setToolTip(note)
        self._layout()

    def badges(self) -> list[str]:
        """The tooltip of each layer's caption: its health note, or ""."""
        return [t.toolTip() for t in self._captions[1:]]

    def show_weights(self, weights: list) -> None:
        if self._arch is None or len(weights) != len(self._sizes) - 1:
            return
        ws = [(np.asarray(W, dtype=float), np.asarray(b, dtype=float)) for W, b in weights]
        if any(W.shape != (nout, nin) or b.shape != (nout,)
               for (W, b), nin, nout in zip(ws, self._sizes, self._sizes[1:])):
            return
        self._weights = ws
        # Each layer on its own scale (a nice number at or above its largest |w| or |b|, growing
        # only during a run): a deep layer's weights are smaller than the first's, and on one
        # scale for all they would all look faint.
        with np.errstate(invalid="ignore"):
            peaks = [max(float(np.nanmax(np.abs(W), initial=0.0)), float(np.nanmax(np.abs(b), initial=0.0)))
                     for W, b in ws]
        wanted = [nice_ceil(max(p, 1e-6)) for p in peaks]
        self._scales = wanted if self._scales is None else [max(a, b) for a, b in zip(self._scales, wanted)]
        drawn = np.concatenate([_shown(_quantise(W.ravel(), m)) for (W, _), m in zip(ws, self._scales)])
        changed = drawn != self._step
        if changed.any():
            touched = set(np.unique(self._step[changed]).tolist()) | set(np.unique(drawn[changed]).tolist())
            self._step = drawn
            self._rebuild_paths(touched - {HIDDEN})
        for l, ((_, b), m) in enumerate(zip(ws, self._scales)):
            bstep = _quantise(b, m)
            old = self._bias_step[l]
            neurons = self._neurons[l + 1]
            for k in np.flatnonzero(bstep != old).tolist():
                neurons[k].setBrush(self._brush(int(bstep[k])))
            self._bias_step[l] = bstep

    def thumbnail_size(self) -> int:
        """Pixels of a neuron's thumbnail (0: plain circles)."""
        return self._thumb if self._plane is not None else 0

    def thumbnail_image(self, column: int) -> QtGui.QImage | None:
        """A column's thumbnails as drawn (None when there are none)."""
        items = self._thumb_items
        if column >= len(items) or not items[column].isVisible():
            return None
        return items[column].pixmap().toImage()

    def link_count(self) -> int:
        return len(self._seg)

    def neuron_count(self) -> int:
        return sum(len(items) for items in self._neurons)

    def layer_scales(self) -> list[float] | None:
        """Per layer, |w| drawn at full width and colour (None before the first weights)."""
        return None if self._scales is None else list(self._scales)

    def link_step(self, l: int, j: int, i: int) -> int:
        """The signed magnitude step (-STEPS..STEPS) link w[l][j][i] is drawn with; HIDDEN when
        it is one of the weakest of a dense layer, left out."""
        return int(self._step[self._link_index(l, j, i)])

    def link_pen(self, l: int, j: int, i: int) -> QtGui.QPen:
        """The pen link w[l][j][i] is drawn with."""
        return self._pen(self.link_step(l, j, i))

    def link_midpoint(self, l: int, j: int, i: int) -> QtCore.QPointF:
        """Scene position of the middle of link w[l][j][i]."""
        x0, y0, x1, y1 = self._seg[self._link_index(l, j, i)]
        return QtCore.QPointF((x0 + x1) / 2, (y0 + y1) / 2)

    def neuron_center(self, column: int, j: int) -> QtCore.QPointF:
        """Scene position of neuron j in a column (0: the inputs)."""
        return self._neurons[column][j].rect().center()

    def tooltip_at(self, scene_pos: QtCore.QPointF, tolerance: float | None = None) -> str:
        """The hover text at a scene position: a neuron's bias or the nearest link's weight."""
        if self._arch is None:
            return ""
        for item in self.scene().items(scene_pos):
            kind = item.data(KIND)
            if kind:
                return self._neuron_text(kind)
        if tolerance is None:
            tolerance = HOVER_PX
        hit = self._link_at(scene_pos.x(), scene_pos.y(), tolerance)
        if hit is None:
            return ""
        l, j, i = hit
        return f"w[{l}][{j}][{i}] = {self._value(l, j, i)}"

    # --- Qt overrides ---------------------------------------------------------------------
    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._layout()

    def mouseMoveEvent(self, event):
        super().mouseMoveEvent(event)
        if self._pinned:
            return
        kind = self._neuron_at(self.mapToScene(event.position().toPoint()))
        if kind:
            self._show_card(kind)
        else:
            self.card.hide()

    def mousePressEvent(self, event):
        scene_pos = self.mapToScene(event.position().toPoint())
        kind = self._neuron_at(scene_pos)
        link = None if kind else self._link_at(scene_pos.x(), scene_pos.y(), HOVER_PX)
        self.editor.hide()
        if kind:  # pin the card on it (a second click unpins)
            self._pinned = not (self._pinned and kind == self._card_neuron)
            self._show_card(kind)
        elif link and self._editable and self._weights is not None:
            l, j, i = link
            self._edited_link = link
            self.editor.open(f"w[{l}][{j}][{i}]", float(self._weights[l][0][j, i]), self._scales[l],
                             event.position().toPoint())
        else:
            self._pinned = False
            self.card.hide()
        super().mousePressEvent(event)

    def viewportEvent(self, event):
        if event.type() == QtCore.QEvent.Type.ToolTip:
            text = self.tooltip_at(self.mapToScene(event.pos()))
            if text:
                QtWidgets.QToolTip.showText(event.globalPos(), text, self.viewport())
            else:
                QtWidgets.QToolTip.hideText()
                event.ignore()
            return True
        return super().viewportEvent(event)

    # --- internals ----------------------------------------------------------------------
    def _pen(self, s: int) -> QtGui.QPen:
        return self._pens[s >= 0][abs(s)]

    def _brush(self, s: int) -> QtGui.QBrush:
        return self._brushes[s >= 0][abs(s)]

    def _rebuild_paths(self, steps) -> None:
        seg = self._seg
        paths = {}
        for s in steps:
            sel = seg[self._step == s]
            x = sel[:, [0, 2]].ravel()
            y = sel[:, [1, 3]].ravel()
            paths[s] = pg.arrayToQPath(x, y, connect="pairs", finiteCheck=False) if len(sel) else QtGui.QPainterPath()
        self._links.set_paths(paths)

    def _draw_thumbnails(self) -> None:
        """Every neuron's output over the input plane, a column at a time into one image."""
        on = bool(self._thumb) and self._plane is not None and self._weights is not None
        for item in self._thumb_items:
            item.setVisible(on)
        if not on:
            return
        xs, ys, X = self._plane
        outputs = [h for _, h in layer_outputs(self._weights, self._arch[2], X, self._feature_map)]
        columns = [_to_unit(apply(self._feature_map, X))]  # the inputs (or features): -1..1 over the plane
        for out in outputs[:-1]:  # each hidden neuron on its own scale: where it fires, and how
            with np.errstate(invalid="ignore", divide="ignore"):
                peak = np.nanmax(np.abs(out), axis=0, initial=0.0)
                columns.append(out / np.where(peak > 0, peak, 1.0))
        columns.append(outputs[-1] - self._threshold)  # the output: the decision surface's colours
        for item, values, (x, ys_c) in zip(self._thumb_items, columns, self._columns):
            image = self._column_image(values, ys_c)
            item.setPixmap(QtGui.QPixmap.fromImage(image))
            item.setPos(x - self._thumb / 2, ys_c[0] - self._thumb / 2)

    def _column_image(self, values, ys) -> QtGui.QImage:
        """The thumbnails of one column, values (grid points, neurons) in -1..1 at full colour,
        pasted at the neurons' heights (from the first) with a grey frame each."""
        n, size, grid = values.shape[1], self._thumb, THUMB_GRID
        index = np.clip(np.nan_to_num((values + 1) * 127.5, nan=127.5), 0, 255).astype(np.uint8)
        # (neurons, y, x, rgb), y from the top: the plane's largest x2 first
        pixels = self._lut[index.T.reshape(n, grid, grid)[:, ::-1, :]]
        pick = np.arange(size) * grid // size  # nearest grid sample for each pixel
        thumbs = pixels[:, pick][:, :, pick]
        thumbs[:, [0, -1], :] = thumbs[:, :, [0, -1]] = 150  # the frame
        height = int(round(ys[-1] - ys[0])) + size
        canvas = np.zeros((height, size, 4), dtype=np.uint8)  # transparent between neurons
        for thumb, y in zip(thumbs, ys):
            top = int(round(y - ys[0]))
            canvas[top:top + size, :, :3] = thumb
            canvas[top:top + size, :, 3] = 255
        image = QtGui.QImage(canvas.data, size, height, 4 * size, QtGui.QImage.Format.Format_RGBA8888)
        return image.copy()  # own its pixels: the numpy buffer goes

    def _link_index(self, l: int, j: int, i: int) -> int:
        nin = self._sizes[l]
        if not (0 <= j < self._sizes[l + 1] and 0 <= i < nin):
            raise IndexError(f"no link w[{l}][{j}][{i}]")
        return self._layer_start[l] + j * nin + i

    def _link_at(self, px: float, py: float, tol: float):
        """(l, j, i) of the link nearest (px, py) within tol scene units, or None."""
        for l in range(len(self._sizes) - 1):
            seg = self._seg[self._layer_start[l]:self._layer_start[l + 1]]
            if not len(seg) or not (seg[0, 0] <= px <= seg[0, 2]):
                continue
            x0, y0, x1, y1 = seg.T
            dx, dy = x1 - x0, y1 - y0
            t = np.clip(((px - x0) * dx + (py - y0) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
            d = np.hypot(px - x0 - t * dx, py - y0 - t * dy)
            k = int(np.argmin(d))
            if d[k] <= tol:
                nin = self._sizes[l]
                return l, k // nin, k % nin
        return None

    def _neuron_at(self, scene_pos):
        """The kind ("input", i) or ("neuron", l, j) of the neuron at a scene position, or None."""
        for item in self.scene().items(scene_pos):
            kind = item.data(KIND)
            if kind:
                return kind
        return None

    def _edit(self, layer, neuron, input, value):
        if self._editable:
            self.parameterEdited.emit(layer, neuron, input, float(value))

    def _show_card(self, kind):
        """The card for a neuron (or an input): large picture, bias, weights."""
        self._card_neuron = kind
        image = self._neuron_image(kind)
        if kind[0] == "input":
            self.card.show_neuron(f"input {self._input_name(kind[1])}", image)
        elif self._weights is not None:
            _, l, j = kind
            W, b = self._weights[l]
            act = self._arch[2][l]
            where = "output" if l == len(self._weights) - 1 else f"layer {l + 1}, neuron {j}"
            self.card.show_neuron(f"{where} · {act}", image, float(b[j]), W[j].tolist(), self._editable)
        self.card.move(self.viewport().width() - self.card.width() - 4, 4)

    def _neuron_image(self, kind):
        """What the neuron computes over the input plane, as a picture (None without 2 inputs)."""
        if self._plane is None or self._weights is None:
            return None
        grid = 48
        xs, ys, X = plane_grid(*self._bounds, grid)
        if kind[0] == "input":
            return output_image(_to_unit(apply(self._feature_map, X))[:, kind[1]], grid, self._lut)
        _, l, j = kind
        out = layer_outputs(self._weights[:l + 1], self._arch[2][:l + 1], X, self._feature_map)[-1][1][:, j]
        if l == len(self._weights) - 1:
            values = out - self._threshold
        else:
            with np.errstate(invalid="ignore"):
                values = out / (np.nanmax(np.abs(out), initial=0.0) or 1.0)
        return output_image(values, grid, self._lut)

    def _input_name(self, i) -> str:
        names = self._arch[3]
        return names[i] if i < len(names) else f"x{i + 1}"

    def _neuron_text(self, kind) -> str:
        if kind[0] == "input":
            return f"input {self._input_name(kind[1])}"
        _, l, j = kind
        act = self._arch[2][l] if l < len(self._arch[2]) else ""
        return f"neuron {l},{j} bias = {self._value(l, j, None)}" + (f"  ({act})" if act else "")

    def _value(self, l, j, i) -> str:
        if self._weights is None:
            return "—"
        W, b = self._weights[l]
        v = float(b[j] if i is None else W[j, i])
        return f"{v:.4g}" if math.isfinite(v) else str(v)

    def _layout(self) -> None:
        """Place everything in viewport pixels (the view never scales: painting scaled lines
        costs several times more). Called on architecture changes and resizes only."""
        if self._arch is None:
            return
        w = max(self.viewport().width(), 120)
        h = max(self.viewport().height(), 90)
        self.scene().setSceneRect(0, 0, w, h)
        self.resetTransform()
        sizes = self._sizes
        widest = max(sizes)
        # Captions on one line ("relu 16") if they fit between the columns, else on two.
        fm = QtGui.QFontMetrics(self._captions[0].font())
        one = [t.data(KIND + 1)[0] for t in self._captions]
        two = [t.data(KIND + 1)[1] for t in self._captions]
        room = (w - 20) / max(len(sizes) - 1, 1) - 6
        lines = one if max(fm.horizontalAdvance(t) for t in one) <= room else two
        for t, text in zip(self._captions, lines):
            t.setText(text)
        cap_h = fm.height() * (1 if lines is one else 2)
        half_cap = max(t.boundingRect().width() for t in self._captions) / 2
        top, bottom = 6.0, h - cap_h - 6.0
        spacing = (bottom - top) / max(widest, 1)
        left, right = max(half_cap, 8.0) + 2, w - max(half_cap, 8.0) - 2
        gap_x = (right - left) / max(len(sizes) - 1, 1)
        radius = max(1.5, min(0.36 * spacing, 0.18 * gap_x, 11.0))
        xs = [left + c * gap_x for c in range(len(sizes))] if len(sizes) > 1 else [w / 2]
        pos = []
        for c, n in enumerate(sizes):
            y0 = top + spacing / 2 + (widest - n) * spacing / 2
            pos.append([(xs[c], y0 + j * spacing) for j in range(n)])
        for column, items in zip(pos, self._neurons):
            for (x, y), e in zip(column, items):
                e.setRect(x - radius, y - radius, 2 * radius, 2 * radius)
        size = int(min(0.85 * spacing, 0.4 * gap_x, MAX_THUMB))
        self._thumb = size if size >= MIN_THUMB else 0
        self._columns = [(xs[c], np.array([y for _, y in column])) for c, column in enumerate(pos)]
        if not self._thumb_items:
            for _ in sizes:
                item = QtWidgets.QGraphicsPixmapItem()
                item.setZValue(3)  # over the circles (which stay, under them, for hovering)
                self.scene().addItem(item)
                self._thumb_items.append(item)
        self._draw_thumbnails()
        for x, text in zip(xs, self._captions):
            text.setPos(x - text.boundingRect().width() / 2, bottom + 3)
        segs = []
        for l in range(len(sizes) - 1):
            p0, p1 = np.array(pos[l]), np.array(pos[l + 1])
            seg = np.empty((len(p1), len(p0), 4))
            seg[:, :, 0:2] = p0[None, :, :]
            seg[:, :, 2:4] = p1[:, None, :]
            segs.append(seg.reshape(-1, 4))
        self._seg = np.concatenate(segs) if segs else np.empty((0, 4))
        self._rebuild_paths(range(-STEPS, STEPS + 1))


class _Links(QtWidgets.QGraphicsItem):
    """Every link: one path per colour step, the weak ones first (strong links on top).

    Drawn without antialiasing: on the raster engine antialiased or hairline (width <= 1)
    lines cost 5-10x more than plain ones. Kept as a pixmap (DeviceCoordinateCache), redrawn
    only when the paths change (in a frame, while the worker waits for it): any other paint of
    the view (a hover, a click, a tab while training) blits it without calling into Python.
    Painted in Python, one item per step, each paint against a busy worker waited for the GIL
    at every Qt call: the soak's most frequent stall."""

    def __init__(self, pens):
        super().__init__()
        self.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._pens = pens  # step -> QPen
        self._paths = {}   # step -> QPainterPath
        self._rect = QtCore.QRectF()

    def set_paths(self, paths) -> None:
        """New paths for some steps (the others keep theirs)."""
        self._paths.update(paths)
        rect = QtCore.QRectF()
        for path in self._paths.values():
            rect = rect.united(path.boundingRect())
        margin = max(pen.widthF() for pen in self._pens.values())
        rect = rect.adjusted(-margin, -margin, margin, margin)
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
        self.update()

    def boundingRect(self):
        return self._rect

    def paint(self, painter, option, widget=None):
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        for step in sorted(self._paths, key=abs):
            path = self._paths[step]
            if not path.isEmpty():
                painter.setPen(self._pens[step])
                painter.drawPath(path)


def _shown(step: np.ndarray) -> np.ndarray:
    """A layer's steps with its weakest links HIDDEN, so that at most LINKS_SHOWN are drawn:
    in a dense layer only the strongest connections can be told apart."""
    if len(step) <= LINKS_SHOWN:
        return step
    count = np.bincount(np.abs(step), minlength=STEPS + 1)[::-1].cumsum()[::-1]  # links at or above each step
    weakest = int(np.argmax(count <= LINKS_SHOWN))  # the lowest step that keeps within the budget
    if count[weakest] > LINKS_SHOWN:  # even the strongest step alone is too many: keep it anyway
        weakest = STEPS
    return np.where(np.abs(step) >= weakest, step, HIDDEN)


def _to_unit(values):
    """Each column of values mapped linearly onto -1..1 (a constant column to 0)."""
    low, high = values.min(axis=0), values.max(axis=0)
    half = np.where(high > low, (high - low) / 2, 1.0)
    return (values - (high + low) / 2) / half


def _quantise(v: np.ndarray, m: float) -> np.ndarray:
    """Signed magnitude step: 0 for exactly 0, else +-1..STEPS for |v| in (0, m] (and beyond)."""
    v = np.nan_to_num(v, nan=0.0, posinf=m, neginf=-m)
    s = np.minimum(np.ceil(np.abs(v) / m * STEPS), STEPS).astype(np.int64)
    return np.where(v < 0, -s, s)


def _make_pens(max_width: float):
    """pens[positive][step], brushes[positive][step] for steps 0..STEPS (step 0: zero)."""
    pens, brushes = ([], []), ([], [])
    for sign, color in ((0, NEG), (1, POS)):
        for s in range(STEPS + 1):
            t = s / STEPS
            # opaque (blending is slow) and wider than 1 px (hairlines are slow too)
            pen = QtGui.QPen(_mix(color, 0.12 + 0.88 * t ** 0.8), 1.05 + (max_width - 1.05) * t * t)
            pen.setCosmetic(True)
            pen.setCapStyle(QtCore.Qt.PenCapStyle.FlatCap)
            pens[sign].append(pen)
            brushes[sign].append(QtGui.QBrush(_mix(color, 0.15 + 0.85 * t) if s else ZERO_FILL))
    return pens, brushes
