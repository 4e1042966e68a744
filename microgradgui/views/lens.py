"""The lens: the scalar graph of one sample's loss through the current network, and backprop
through it one node at a time.

The graph, its collapsing to neurons, its layout and the order of a pass are Qt-free
(`micrograd.lens`); this view draws them. The numbers are the engine's: each graph is
`model(x)`, the per-sample loss and `backward()` run by the `Value` engine, built when the
weights or the sample change, at most REBUILDS_PER_S times a second while training, less often
if a build costs more than a tenth of that time (a big network), and not while a pass is being
stepped through: the pass keeps the weights it started on.

Drawn in viewport pixels, never scaled (as the network diagram, for the cost of painting):
columns as wide as their text, rows as tall as fits, the graph scrolling when it does not fit.
"""
from __future__ import annotations

import functools
import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

from micrograd import features
from micrograd import lens as lenses

from .base import LiveView
from .style import FOREGROUND, diverging_cmap, nice_ceil, pale

REBUILDS_PER_S = 4      # while training: the numbers change faster than anyone reads them
BUSY_SHARE = 0.1        # and a share of the GUI thread at most (8 x 64: ~45 ms a build)
PLAY_MS = 60            # per step of the animated pass
DECADES = 4             # the colour scale: |grad| from its largest to 10^-DECADES of it
FONT_PT = 8
MARGIN = 4
FORM_WIDTH = 330        # the sample's boxes beyond this scroll
MIN_GAP, MAX_GAP = 20, 90  # between columns, pixels
NUMBER = "-8.88e-88"    # the widest number `_num` writes: columns are as wide as it, whatever the values
UNKNOWN = "·"           # a value the pass has not reached
PIXMAP_CACHE = QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache  # nodes and edges: see _Edges
NO_CACHE = QtWidgets.QGraphicsItem.CacheMode.NoCache
EDGE = QtGui.QColor("#c8c8c8")
CARRIED = QtGui.QColor("#e07b00")  # the edges that carried the last step's value (the test curves' orange)
BORDER = QtGui.QColor("#777777")
NOT_YET = QtGui.QColor("#f4f4f4")
ZERO = QtGui.QColor("#ffffff")


def _num(v: float) -> str:
    return f"{v:.3g}"


def _field(v: float) -> str:
    return f"{v:.6g}"


class LensView(LiveView, QtWidgets.QWidget):
    """One sample's loss as a graph: inputs, weights, each neuron's weighted sum and activation,
    the loss, left to right; every node its op, data and ∇ grad (d loss / d node), coloured by
    the grad. A click on a neuron opens it (weights, bias, dot, activation) or closes it."""

    title = "Lens"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("lensView")
        self.lens = None          # micrograd.lens.Lens of the current network
        self.graph = None         # micrograd.lens.Graph on display
        self.nodes, self.edges = [], []
        self.steps = None
        self.position = 0         # how far the pass is (a Steps cursor); steps.end: all shown
        self.expanded = frozenset()
        self._data = None         # the training set: samples by index
        self._x, self._y = None, None  # the sample: the data's inputs and its label
        self._feature_map = []    # the network's inputs from the data's (Config.feature_map)
        self._weights = None      # (run, epoch, weights) drawn
        self._pending = None      # (run, epoch, weights) newer than those, not drawn yet
        self._network = None      # what the lens depends on: another network needs another
        self._layout, self._layout_of = None, None  # the nodes' places, and the (network, open groups) they are for
        self._built_at = -math.inf
        self._build_cost = 0.0       # seconds of engine and drawing the last graph took
        self._build_token = None     # the rebuild under way; a newer one replaces it
        self._building = None        # the parts of a rebuild the throttle's timer runs
        self._error = ""

        self.form = QtWidgets.QWidget()
        self.form_layout = QtWidgets.QHBoxLayout(self.form)
        self.form_layout.setContentsMargins(0, 0, 0, 0)
        self.form_layout.setSpacing(3)
        self.x_edits: list[QtWidgets.QLineEdit] = []
        self.y_label = QtWidgets.QLabel()
        self.class_box = QtWidgets.QComboBox()
        self.class_box.setObjectName("lensClass")
        self.class_box.setToolTip("The sample's class (the loss's target follows from it)")
        self.class_box.activated.connect(self._on_form)
        self.target_edit = self._number_edit("lensTarget", "The sample's target value")
        self.index_box = QtWidgets.QSpinBox()
        self.index_box.setObjectName("lensSampleIndex")
        self.index_box.setToolTip("Take the inputs and label of this training sample")
        self.index_box.setPrefix("train #")
        self.index_box.valueChanged.connect(self._on_index)
        # Many features (a CSV file has up to 64): the boxes scroll (wheel, or Tab from box to
        # box) in a strip one box tall, and the buttons stay where they are.
        self.form_scroll = QtWidgets.QScrollArea()
        self.form_scroll.setWidget(self.form)
        self.form_scroll.setWidgetResizable(True)
        self.form_scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        for policy in (self.form_scroll.setVerticalScrollBarPolicy, self.form_scroll.setHorizontalScrollBarPolicy):
            policy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.form_scroll.setFixedSize(0, self.target_edit.sizeHint().height())  # empty until a network comes

        icon = self.style().standardIcon
        media = QtWidgets.QStyle.StandardPixmap
        self.restart_action = self._action("lensRestart", "Clear", "Clear the computed values, to step "
                                           "through the pass from the start", self.restart,
                                           icon(media.SP_MediaSkipBackward))
        self.forward_action = self._action("lensForward", "Forward ▸", "Compute the next node's data "
                                           "(the forward pass, in topological order)", self.forward)
        self.backward_action = self._action("lensBackward", "Backward ▸", "Fill in the next node's "
                                            "gradient (the backward pass, in reverse topological order)",
                                            self.backward)
        self.play_action = self._action("lensPlay", "Play", "Animate the whole pass, forward then "
                                        "backward", self._on_play, icon(media.SP_MediaPlay))
        self.play_action.setCheckable(True)
        self.all_action = self._action("lensShowAll", "Show all", "Show every value at once (and follow "
                                       "training again)", self.show_all, icon(media.SP_MediaSkipForward))
        self.dot_action = self._action("lensCopyDot", "Copy as DOT", "Copy the graph as drawn as "
                                       "Graphviz DOT text", self.copy_dot)
        self.svg_action = self._action("lensSaveSvg", "Save as SVG…", "Save the whole graph as an SVG "
                                       "image", lambda: self._on_save("svg"))
        self.png_action = self._action("lensSavePng", "Save as PNG…", "Save the whole graph as a PNG "
                                       "image", lambda: self._on_save("png"))
        self.player = QtCore.QTimer(self)
        self.player.setInterval(PLAY_MS)
        self.player.timeout.connect(self._on_tick)
        self.later = QtCore.QTimer(self)  # the last weights of a burst, once the interval has passed
        self.later.setSingleShot(True)
        self.later.timeout.connect(self._rebuild_later)

        bar = QtWidgets.QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 0)
        bar.setSpacing(3)
        bar.addWidget(self.form_scroll)
        bar.addWidget(self.index_box)
        bar.addSpacing(6)
        for action in (self.restart_action, self.forward_action, self.backward_action, self.play_action,
                       self.all_action):
            bar.addWidget(self._button(action))
        export = QtWidgets.QToolButton()
        export.setObjectName("lensExport")
        export.setText("Export")
        export.setToolTip("Copy the graph as DOT text, or save it as an image")
        export.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QtWidgets.QMenu(export)
        menu.addActions([self.dot_action, self.svg_action, self.png_action])
        export.setMenu(menu)
        bar.addWidget(export)
        bar.addStretch(1)
        self.status = QtWidgets.QLabel()  # a line under the graph: the bar has no room for it
        self.status.setObjectName("lensStatus")
        self.status.setContentsMargins(4, 0, 4, 1)
        self.status.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed)
        self.canvas = _Canvas(self)
        self.canvas.clicked.connect(self.toggle)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addLayout(bar)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.status)
        self._sync_buttons()

    def _action(self, name, text, tip, slot, icon=None):
        action = QtGui.QAction(text, self)
        action.setObjectName(name + "Action")
        action.setToolTip(tip)
        if icon is not None:
            action.setIcon(icon)
        action.triggered.connect(slot)
        return action

    @staticmethod
    def _button(action):
        button = QtWidgets.QToolButton()
        button.setObjectName(action.objectName().removesuffix("Action"))
        button.setDefaultAction(action)
        return button

    def _number_edit(self, name, tip):
        edit = QtWidgets.QLineEdit()
        edit.setObjectName(name)
        edit.setToolTip(tip)
        validator = QtGui.QDoubleValidator(edit)
        validator.setLocale(QtCore.QLocale.c())  # "0.5" whatever the user's locale
        edit.setValidator(validator)
        edit.setFixedWidth(76)
        edit.editingFinished.connect(self._on_form)
        return edit

    # --- the view protocol --------------------------------------------------------------------
    def prepare(self, setup) -> None:
        self.when_shown(functools.partial(self._prepare, setup))

    def _prepare(self, setup):
        """A generator: at 8 x 64 the lens's network and its layout take a turn each. The view
        changes only in its last part: what is shown meanwhile stays whole."""
        config, train = setup.config, setup.train
        same_data = self._data is train
        network = (config.architecture, config.loss, config.targets(), setup.task)
        if self.lens is None or network != self._network:  # else (a restart) what was open stays open
            lens = lenses.Lens(config, setup.task)
            yield
            expanded = lens.default_expanded()
            if self._lay_out(*lens.shown(expanded), network, expanded):
                yield
            self.lens, self._network, self.expanded = lens, network, expanded
        self._data, self.graph, self._weights, self._pending = train, None, None, None
        self.later.stop()
        self._build_token = self._building = None  # a build under way was for the old network
        self.position = self.lens.forward_count + self.lens.backward_count  # a new run's graph comes whole
        self._feature_map = list(config.feature_map)
        self._build_form(train.X.shape[1], train)
        with _blocked(self.index_box):
            self.index_box.setRange(0, max(len(train) - 1, 0))
        if not same_data or self._x is None or len(self._x) != train.X.shape[1]:
            self._set_sample(0)
        self._restructure()

    def new_data(self, setup) -> None:
        """Points placed by hand: the sample shown stays (it may be one of them); the index box
        numbers the new training set."""
        if self.unbuilt:  # not built for this run yet: build for the new points
            self.when_shown(functools.partial(self._prepare, setup))
            return
        self._data = setup.train
        with _blocked(self.index_box):
            self.index_box.setRange(0, max(len(setup.train) - 1, 0))

    def present(self, snapshot):
        new = (snapshot.run, snapshot.epoch, snapshot.weights)
        if self._weights is not None and self._weights[:2] == new[:2] and self.graph is not None:
            return  # the same weights (a redraw)
        self._pending = new
        if self._held():
            self._show_status()
            return
        interval = max(1.0 / REBUILDS_PER_S, self._build_cost / BUSY_SHARE)
        wait = self._built_at + interval - time.monotonic()
        if wait <= 0 or self.graph is None:
            return self._rebuild_parts()
        if not self.later.isActive() and self._building is None:
            self.later.start(int(wait * 1000) + 1)

    # --- public API ---------------------------------------------------------------------------
    def pick(self, x, y=None) -> None:
        """Show the graph of the sample with inputs `x` and label `y` (the data's: a class 0/1,
        or a regression value; None keeps the label the form has, for a point with no sample)."""
        self.build_now()
        if self.lens is None:
            return
        x = [float(v) for v in x]
        if len(x) != len(self.x_edits):
            raise ValueError(f"the data has {len(self.x_edits)} inputs, got {len(x)}")
        self._x, self._y = x, self._y if y is None else float(y)
        self._fill_form()
        self.position = self.steps.end if self.steps else 0
        self._rebuild()

    def restart(self) -> None:
        """Back to the start of a pass, on the newest weights: only the inputs' and parameters'
        values shown."""
        self.play(False)
        self._release()
        self._move(0)

    def forward(self) -> bool:
        """Reveal the next node's data; at the end of a whole pass, start another. False if the
        forward pass is done."""
        if self.steps is None:
            return False
        if self.position >= self.steps.end:
            self._release()
            self.position = 0
        nxt = self.steps.next(self.position, backward=False)
        if nxt is not None:
            self._move(nxt)
        return nxt is not None

    def backward(self) -> bool:
        """Reveal the next node's gradient (the forward pass completes first); at the end of a
        whole pass, start the backward pass again. False if it is done."""
        if self.steps is None:
            return False
        if self.position >= self.steps.end:
            self._release()
            self.position = self.steps.forward_end
        nxt = self.steps.next(self.position, backward=True)
        if nxt is not None:
            self._move(nxt)
        return nxt is not None

    def show_all(self) -> None:
        self.play(False)
        if self.steps is not None:
            self._move(self.steps.end)

    def play(self, on: bool = True) -> None:
        """Animate the pass from where it is (from the start if it is complete) to its end."""
        self.play_action.setChecked(on)
        self._on_play(on)
        self._sync_buttons()

    def toggle(self, key) -> None:
        """Open the neuron (or the loss) `key` belongs to, or close it; the view follows it."""
        group = self.lens.group(key) if self.lens else None
        if group is None:
            return
        self.expanded = self.expanded ^ {group}
        if group == lenses.LOSS_GROUP:
            focus = ("loss", self.lens.loss_count - 1) if group in self.expanded else ("L",)
        else:
            focus = self.lens.output(*group, self.expanded)
        self._restructure(focus)

    @property
    def epoch(self):
        """The epoch of the weights the graph is drawn at (None before any)."""
        return None if self._weights is None or self.graph is None else self._weights[1]

    def revealed(self, key) -> tuple[bool, bool]:
        """(data shown, grad shown) for a drawn node."""
        return self.steps.data_shown(key, self.position), self.steps.grad_shown(key, self.position)

    def current(self):
        """(key, backward) of the node the last step revealed, or None."""
        return None if self.steps is None or self.position >= self.steps.end else self.steps.current(self.position)

    def highlighted(self) -> list:
        """The edges drawn as having carried the last step's value."""
        now = self.current()
        if now is None:
            return []
        key, backward = now
        return [(u, v) for u, v in self.edges if (u if backward else v) == key]

    def dot_text(self) -> str:
        return lenses.to_dot(self.graph, self.nodes, self.edges) if self.graph else ""

    def copy_dot(self) -> None:
        if self.graph is not None:
            QtWidgets.QApplication.clipboard().setText(self.dot_text())

    def save(self, path) -> None:
        """The whole graph (not just what the view shows of it) as SVG (by the name) or PNG."""
        path = str(path)
        scene = self.canvas.scene()
        rect = scene.sceneRect()
        if path.lower().endswith(".svg"):
            generator = QtSvg.QSvgGenerator()
            generator.setFileName(path)
            generator.setSize(rect.size().toSize())
            generator.setViewBox(QtCore.QRectF(0, 0, rect.width(), rect.height()))
            generator.setTitle("micrograd studio: the graph of one sample's loss")
            painter = QtGui.QPainter(generator)
            # Uncached while it renders: a cached item would go into the file as a bitmap.
            cached = [item for item in scene.items() if item.cacheMode() != NO_CACHE]
            for item in cached:
                item.setCacheMode(NO_CACHE)
            scene.render(painter, QtCore.QRectF(0, 0, rect.width(), rect.height()), rect)
            ok = painter.end()
            for item in cached:
                item.setCacheMode(PIXMAP_CACHE)
        else:
            image = QtGui.QImage((rect.size() * 2).toSize(), QtGui.QImage.Format.Format_ARGB32)
            image.fill(QtGui.QColor("white"))
            painter = QtGui.QPainter(image)
            painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
            scene.render(painter, QtCore.QRectF(image.rect()), rect)
            painter.end()
            ok = image.save(path, "PNG")
        if not ok:
            raise OSError(f"could not write {path}")

    # --- the sample form ----------------------------------------------------------------------
    def _build_form(self, inputs, train) -> None:
        classification = train.task == "classification"
        if len(self.x_edits) != inputs:
            while self.form_layout.count():
                w = self.form_layout.takeAt(0).widget()
                if w not in (None, self.y_label, self.class_box, self.target_edit):
                    w.deleteLater()
            self.x_edits = []
            for i in range(inputs):
                edit = self._number_edit(f"lensX{i + 1}", f"Input x{i + 1} of the sample")
                label = QtWidgets.QLabel(f"x{i + 1}")
                for w in (label, edit):
                    self.form_layout.addWidget(w)
                    w.show()  # now, not when the event loop gets to it: the strip's size counts them
                self.x_edits.append(edit)
            for w in (self.y_label, self.class_box, self.target_edit):
                self.form_layout.addWidget(w)
            self.y_label.show()
        self.y_label.setText("class" if classification else "y")
        names = train.classes if len(train.classes) == 2 else ["0", "1"]
        with _blocked(self.class_box):
            self.class_box.clear()
            self.class_box.addItems([f"{k}" if str(k) == name else f"{k}: {name}" for k, name in enumerate(names)])
        self.class_box.setVisible(classification)
        self.target_edit.setVisible(not classification)
        self.form_layout.invalidate()  # its size hint is cached from before the boxes changed
        hint = self.form_layout.sizeHint()
        self.form_scroll.setFixedSize(min(hint.width(), FORM_WIDTH), hint.height())

    def _set_sample(self, i) -> None:
        with _blocked(self.index_box):
            self.index_box.setValue(i)
        if self._data is not None and len(self._data):
            self._x, self._y = [float(v) for v in self._data.X[i]], float(self._data.y[i])
        else:
            self._x, self._y = [0.0] * len(self.x_edits), 0.0
        self._fill_form()

    def _fill_form(self) -> None:
        for edit, v in zip(self.x_edits, self._x):
            with _blocked(edit):
                edit.setText(_field(v))
        with _blocked(self.class_box, self.target_edit):
            self.class_box.setCurrentIndex(1 if self._y > 0.5 else 0)
            self.target_edit.setText(_field(self._y))

    def _on_form(self, *_) -> None:
        def read(edit, v):  # a box as it was filled keeps the sample's exact number, not its 6 digits
            return v if edit.text() == _field(v) else float(edit.text())

        try:
            x = [read(e, v) for e, v in zip(self.x_edits, self._x)]
            y = float(self.class_box.currentIndex()) if self._data.task == "classification" \
                else read(self.target_edit, self._y)
        except ValueError:  # a box left empty (the validator lets nothing else through)
            return
        if all(map(math.isfinite, [*x, y])) and (x, y) != (self._x, self._y):
            self.pick(x, y)

    def _on_index(self, i) -> None:
        self._set_sample(i)
        self.pick(self._x, self._y)

    # --- building ---------------------------------------------------------------------------
    def _held(self) -> bool:
        """A pass is under way: it keeps the weights it started on."""
        return self.steps is not None and self.graph is not None and self.position < self.steps.end

    def _release(self) -> None:
        """Take the newest weights, if some arrived while a pass held the old ones."""
        if self._pending is not None and self._pending[:2] != (self._weights or (None, None))[:2]:
            self._rebuild()

    def _rebuild(self) -> None:
        """The graph at the newest weights and the current sample, through the engine."""
        for _ in self._rebuild_parts():
            pass

    def _rebuild_later(self) -> None:
        """One part of a rebuild per turn of the event loop (the throttle's timer)."""
        if self._building is None:
            self._building = self._rebuild_parts()
        if next(self._building, None) is None:
            self._building = None
        else:
            self.later.start(0)

    def _rebuild_parts(self):
        """`_rebuild`, yielding True between the engine's parts. A newer rebuild started
        meanwhile supersedes this one: it stops at its next part."""
        self.later.stop()
        new = self._pending or self._weights
        if self.lens is None or new is None or self._x is None:
            return
        token = self._build_token = object()
        t0, spent = time.monotonic(), 0.0
        parts = self.lens.graph_parts(new[2], features.apply(self._feature_map, [self._x])[0], self._y)
        try:
            while True:
                try:
                    next(parts)
                except StopIteration as done:
                    graph = done.value
                    break
                spent += time.monotonic() - t0
                yield True
                if self._build_token is not token:
                    return
                t0 = time.monotonic()
            self._error = ""
        except (OverflowError, ValueError, ZeroDivisionError) as e:  # the engine's own messages
            graph, self._error = None, f"the engine stopped at these weights: {e}"
        self.graph, self._weights = graph, new
        if self._pending is new:
            self._pending = None
        self.canvas.set_graph(self.graph)
        self._redraw()
        self._built_at = time.monotonic()
        self._build_cost = spent + self._built_at - t0
        if self._pending is not None and not self._held():  # weights that came during the build
            self.later.start(int(1000 / REBUILDS_PER_S))

    def _restructure(self, focus=None) -> None:
        """New nodes drawn (another network, a neuron opened or closed): lay them out again, and
        show `focus` (a key), or the inputs if the graph is bigger than the view."""
        self.nodes, self.edges = self.lens.shown(self.expanded)
        self.steps = lenses.Steps(self.lens, self.nodes)
        self._lay_out(self.nodes, self.edges, self._network, self.expanded)
        self.canvas.set_structure(self.lens, self.graph, self.nodes, self.edges, self._layout)
        self._redraw()
        self.canvas.focus(focus)

    def _lay_out(self, nodes, edges, network, expanded) -> bool:
        """Lay out the nodes shown with `expanded` open, unless this shape is laid out already:
        a restart of the same network (a new rate, seed or data) keeps the layout (at 8 x 64 it
        takes ~90 ms, and every setting that restarts a run would pay it). True if it laid
        them out."""
        shape = (network, frozenset(expanded), len(nodes), len(edges))
        if shape == self._layout_of:
            return False
        self._layout, self._layout_of = lenses.layout(nodes, edges), shape
        return True

    # --- stepping ---------------------------------------------------------------------------
    def _move(self, cursor) -> None:
        self.position = cursor
        if cursor >= self.steps.end:
            self._release()
        self._redraw()

    def _on_play(self, on) -> None:
        if on and self.steps is not None:
            if self.position >= self.steps.end:
                self._release()
                self.position = 0
                self._redraw()
            self.player.start()
        else:
            self.player.stop()
            self.play_action.setChecked(False)

    def _on_tick(self) -> None:
        s = self.steps
        nxt = None if s is None else s.next(self.position, backward=False) or s.next(self.position, backward=True)
        if nxt is not None:
            self._move(nxt)
        if nxt is None or self.position >= s.end:
            self.play(False)

    def _on_save(self, kind) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save the graph", f"lens.{kind}",
                                                        f"{kind.upper()} image (*.{kind})")
        if path:
            if not path.lower().endswith(f".{kind}"):
                path += f".{kind}"
            try:
                self.save(path)
            except OSError as e:
                QtWidgets.QMessageBox.warning(self, "Save the graph", str(e))

    # --- drawing ----------------------------------------------------------------------------
    def _redraw(self) -> None:
        if self.steps is not None:
            self.canvas.show_pass(self.steps, self.position, self.highlighted(), self.current())
        self._sync_buttons()
        self._show_status()

    def _sync_buttons(self) -> None:
        ready = self.steps is not None and self.graph is not None
        done = not ready or self.position >= self.steps.end
        self.forward_action.setEnabled(ready and (done or self.steps.next(self.position, False) is not None))
        for action in (self.backward_action, self.restart_action, self.play_action, self.dot_action,
                       self.svg_action, self.png_action):
            action.setEnabled(ready)
        self.all_action.setEnabled(ready and not done)
        playing = self.play_action.isChecked()
        self.play_action.setText("Pause" if playing else "Play")
        media = QtWidgets.QStyle.StandardPixmap
        self.play_action.setIcon(self.style().standardIcon(media.SP_MediaPause if playing else media.SP_MediaPlay))

    def _show_status(self) -> None:
        """The sample's loss, the epoch of the weights, the step the pass is at."""
        g = self.graph
        if self._error or g is None:
            text = self._error or "waiting for the network's weights"
        else:
            epoch = self._weights[1]
            held = f" (held for the pass: training is at epoch {self._pending[1]})" if self._pending else ""
            text = f"sample loss {g.loss:.4g} (no L1/L2 penalty) · epoch {epoch}{held}"
            if not g.theta_grad.any():  # a hinge loss of 0: the sample is past the margin
                text += " · no gradient reaches the weights"
            now = self.current()
            if now is not None:
                key, backward = now
                value = f"∇ {_num(g.grad(key))}" if backward else f"= {_num(g.data(key))}"
                text += (f" · step {self.steps.count(self.position)}/{len(self.steps.keys)}, "
                         f"{'backward' if backward else 'forward'}: {g.name(key)} {g.op(key)} {value}")
        self.status.setText(text)


class _Node(QtWidgets.QGraphicsItem):
    """One drawn node: a box with its op (or name), data and ∇ grad, filled by the grad.
    Kept as a pixmap, drawn again only when it changes (see `_Edges`)."""

    def __init__(self, key, font):
        super().__init__()
        self.setCacheMode(PIXMAP_CACHE)
        self.key, self.text_font = key, font
        self.rect = QtCore.QRectF()
        self.lines = ()
        self.fill = NOT_YET
        self.current = False
        self.collapsed = key[0] in ("n", "L")  # a thicker border: there is more inside

    def boundingRect(self):
        return self.rect.adjusted(-2, -2, 2, 2)

    def set(self, lines, fill, current) -> None:
        if (lines, fill, current) != (self.lines, self.fill, self.current):
            self.lines, self.fill, self.current = lines, fill, current
            self.update()

    def paint(self, painter, option, widget=None):
        pen = QtGui.QPen(CARRIED if self.current else BORDER, 2.0 if self.current or self.collapsed else 1.0)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(self.fill)
        painter.drawRoundedRect(self.rect, 3, 3)
        painter.setPen(QtGui.QColor(FOREGROUND))
        painter.setFont(self.text_font)
        r = self.rect.adjusted(4, 1, -4, -1)
        if len(self.lines) == 1:
            painter.drawText(r, QtCore.Qt.AlignmentFlag.AlignVCenter | QtCore.Qt.AlignmentFlag.AlignLeft,
                             self.lines[0])
            return
        h = r.height() / len(self.lines)
        for k, line in enumerate(self.lines):
            painter.drawText(QtCore.QRectF(r.x(), r.y() + k * h, r.width(), h),
                             QtCore.Qt.AlignmentFlag.AlignCenter, line)


class _Edges(QtWidgets.QGraphicsPathItem):
    """Edges as one path, drawn without antialiasing (cheap to paint, however many). Kept as a
    pixmap, drawn again only when the path changes: painted in Python on every paint of the
    canvas, each Qt call waited for the GIL against a busy worker (stalls in the soak)."""

    def __init__(self):
        super().__init__()
        self.setCacheMode(PIXMAP_CACHE)

    def paint(self, painter, option, widget=None):
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        painter.setPen(self.pen())
        painter.drawPath(self.path())


class _Canvas(QtWidgets.QGraphicsView):
    """The drawn graph: a `_Node` per node, all edges in one path, the carrying ones in another."""

    clicked = QtCore.Signal(object)  # the key of the node clicked

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("lensCanvas")
        self.setScene(QtWidgets.QGraphicsScene(self))
        self.setBackgroundBrush(QtGui.QBrush(QtGui.QColor("white")))
        self.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setDragMode(QtWidgets.QGraphicsView.DragMode.ScrollHandDrag)  # a big graph scrolls
        self.setMinimumSize(200, 120)
        self.node_font = QtGui.QFont()
        self.node_font.setPointSizeF(FONT_PT)
        self.metrics = QtGui.QFontMetricsF(self.node_font)
        self.lens, self.graph, self.peak = None, None, 1.0
        self.nodes, self.columns = [], []
        self.boxes: dict = {}   # key -> _Node
        self.index: dict = {}   # key -> its row in the arrays below
        self.eu = self.ev = np.empty(0, dtype=np.int64)
        self.ends = np.zeros((0, 3))  # per node: left x, right x, middle y
        self.lines: dict = {}   # key -> 1 or 3 lines of text
        self.heads: dict = {}   # key -> its first words
        self.colors = _grad_colors()
        self.edge_items = []  # one per pair of columns the edges join
        self.carried = _Edges()
        self.carried.setPen(_pen(CARRIED, 2.0))
        self.carried.setZValue(1)
        self.scene().addItem(self.carried)
        self._pass = None

    def set_structure(self, lens, graph, nodes, edges, columns) -> None:
        """Another set of drawn nodes (`columns`: their layout), with `graph`'s numbers."""
        scene = self.scene()
        for box in self.boxes.values():
            scene.removeItem(box)
        self._pass = None  # it names the old nodes: the view shows a pass of the new ones
        self.lens, self.graph, self.nodes, self.columns = lens, graph, nodes, columns
        self.peak = nice_ceil(graph.grad_peak()) if graph is not None else 1.0
        self.index = {k: i for i, k in enumerate(nodes)}
        self.eu = np.array([self.index[u] for u, _ in edges], dtype=np.int64)
        self.ev = np.array([self.index[v] for _, v in edges], dtype=np.int64)
        self.boxes = {}
        for key in nodes:
            box = _Node(key, self.node_font)
            box.setZValue(2)
            if lens.group(key) is not None:
                box.setCursor(QtCore.Qt.CursorShape.PointingHandCursor)
            scene.addItem(box)
            self.boxes[key] = box
        self.heads = {k: self._head(k) for k in nodes}
        self.place()

    def set_graph(self, graph) -> None:
        """New numbers; the boxes move only if their first words changed width (a loss op's
        constant is the sample's target)."""
        self.graph = graph
        self.peak = nice_ceil(graph.grad_peak()) if graph is not None else 1.0
        heads = {k: self._head(k) for k in self.nodes}
        if heads != self.heads:
            self.heads = heads
            self.place()

    def place(self) -> None:
        """Boxes in viewport pixels: each column as wide as its text, rows as tall as fit, three
        lines to a box where a column has the room, one where it has not."""
        if not self.columns:
            return
        fm = self.metrics
        lh = fm.height()
        room = self.maximumViewportSize()  # without scroll bars: they come only if the graph cannot fit
        room_h = max(room.height() - 2 * MARGIN - 1, 3 * lh)
        number = fm.horizontalAdvance(NUMBER)
        grad = fm.horizontalAdvance("∇ ") + number
        space = fm.horizontalAdvance("  ")
        widths, pitches, heights = [], [], []
        for col in self.columns:
            three = room_h / len(col) >= 3 * lh + 10
            head = max(fm.horizontalAdvance(self.heads[k]) for k in col)
            box_h = 3 * lh + 3 if three else lh + 1
            widths.append((max(head, grad) if three else head + number + grad + 2 * space) + 10)
            pitches.append(min(max(room_h / len(col), box_h + 1), box_h + 14))
            heights.append(box_h)
            for k in col:
                self.lines[k] = 3 if three else 1
        gap = (room.width() - 2 * MARGIN - 1 - sum(widths)) / max(len(widths) - 1, 1)
        gap = min(max(gap, MIN_GAP), MAX_GAP)
        total_h = max(p * len(col) for p, col in zip(pitches, self.columns))
        ends = np.zeros((len(self.nodes), 3))
        x = MARGIN
        for col, w, pitch, box_h in zip(self.columns, widths, pitches, heights):
            y = MARGIN + (total_h - pitch * len(col)) / 2
            for r, k in enumerate(col):
                top = y + r * pitch + (pitch - box_h) / 2
                box = self.boxes[k]
                box.prepareGeometryChange()
                box.rect = QtCore.QRectF(x, top, w, box_h)
                ends[self.index[k]] = (x, x + w, top + box_h / 2)
            x += w + gap
        self.ends = ends
        self.scene().setSceneRect(0, 0, x - gap + MARGIN, total_h + 2 * MARGIN)
        self._place_edges()
        if self._pass is not None:
            self.show_pass(*self._pass)

    def _place_edges(self) -> None:
        """The edges, an item per pair of columns they join, each painted once into a pixmap
        that later paints reuse: 8 x 64 has 29,000 edges, 70 ms to stroke on every frame."""
        for item in self.edge_items:
            self.scene().removeItem(item)
        self.edge_items = []
        column = np.empty(len(self.nodes), dtype=np.int64)
        for c, col in enumerate(self.columns):
            column[[self.index[k] for k in col]] = c
        pair = column[self.eu] * len(self.columns) + column[self.ev]
        for p in np.unique(pair):
            item = _Edges()
            item.setPen(_pen(EDGE, 1.0))
            item.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
            item.setPath(self._path(self.eu[pair == p], self.ev[pair == p]))
            self.scene().addItem(item)
            self.edge_items.append(item)

    def _path(self, eu, ev) -> QtGui.QPainterPath:
        """Straight lines from the right of each parent's box to the left of its child's."""
        if not len(eu):
            return QtGui.QPainterPath()
        e = self.ends
        x = np.column_stack([e[eu, 1], e[ev, 0]]).ravel()
        y = np.column_stack([e[eu, 2], e[ev, 2]]).ravel()
        return pg.arrayToQPath(x, y, connect="pairs", finiteCheck=False)

    def _head(self, key) -> str:
        """A node's first words: its op, or the name of an input or parameter; the loss says so."""
        name = self.lens.name(key)
        op = self.graph.op(key) if self.graph is not None else ""
        if name == "loss":
            return f"loss ({op})" if op else name
        return op or name

    def show_pass(self, steps, cursor, carried, current) -> None:
        """Every node's text and colour at this point of the pass; the edges that carried the
        last step's value."""
        self._pass = (steps, cursor, carried, current)
        now = current[0] if current else None
        g = self.graph
        for key, box in self.boxes.items():
            head = self.heads[key]
            if g is None:
                box.set((head,), NOT_YET, False)
                continue
            data = _num(g.data(key)) if steps.data_shown(key, cursor) else UNKNOWN
            shown = steps.grad_shown(key, cursor)
            grad = _num(g.grad(key)) if shown else UNKNOWN
            lines = (head, data, f"∇ {grad}") if self.lines.get(key) == 3 else (f"{head}  {data}  ∇ {grad}",)
            box.set(lines, self._color(g.grad(key)) if shown else NOT_YET, key == now)
        index = self.index
        self.carried.setPath(self._path(np.array([index[u] for u, _ in carried], dtype=np.int64),
                                        np.array([index[v] for _, v in carried], dtype=np.int64)))

    def _color(self, g) -> QtGui.QColor:
        """Red for a positive grad, blue for a negative one, paler with each decade below the
        graph's largest; white for exactly 0 (no gradient flows there)."""
        if not math.isfinite(g):
            return NOT_YET
        if g == 0:
            return ZERO
        t = min(max(0.0, 1.0 + math.log10(abs(g) / self.peak) / DECADES), 1.0)
        half = len(self.colors) // 2
        return self.colors[half + round(math.copysign(t, g) * half)]

    def focus(self, key=None) -> None:
        """Scroll to `key`'s box, or to the left edge half way down (the inputs)."""
        if key in self.boxes:
            self.centerOn(self.boxes[key].rect.center())
        else:
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().minimum())
            bar = self.verticalScrollBar()
            bar.setValue((bar.minimum() + bar.maximum()) // 2)

    def node_center(self, key) -> QtCore.QPoint:
        """Where a node is, in viewport coordinates (for a click)."""
        return self.mapFromScene(self.boxes[key].rect.center())

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self.place()

    def mousePressEvent(self, event):
        item = self.itemAt(event.position().toPoint())
        if isinstance(item, _Node) and event.button() == QtCore.Qt.MouseButton.LeftButton:
            self.clicked.emit(item.key)
            event.accept()
            return
        super().mousePressEvent(event)

    def viewportEvent(self, event):
        if event.type() == QtCore.QEvent.Type.ToolTip:
            item = self.itemAt(event.pos())
            if isinstance(item, _Node) and self.graph is not None:
                QtWidgets.QToolTip.showText(event.globalPos(), self.describe(item.key), self.viewport())
            else:
                QtWidgets.QToolTip.hideText()
                event.ignore()
            return True
        return super().viewportEvent(event)

    def describe(self, key) -> str:
        """The tooltip: what the node is, its numbers in full, what a click does."""
        g = self.graph
        name, op = g.name(key), g.op(key)
        kind = key[0]
        what = {"x": "input", "w": "weight", "b": "bias", "dot": "weighted sum b + Σ w·x",
                "act": f"activation {op}", "n": f"neuron {op}: click to open",
                "loss": f"loss op {op}", "L": f"{op} loss of this sample: click to open"}[kind]
        if kind not in ("x", "n", "L"):
            what += " (click to close)"
        return f"{name + ': ' if name else ''}{what}\ndata {g.data(key):.6g}\n∇ d loss / d node {g.grad(key):.6g}"


def _grad_colors():
    """The diverging map (blue negative, red positive), paled so that text stays readable."""
    cmap = pale(diverging_cmap(), 0.35)
    return [cmap.map(t, mode=pg.ColorMap.QCOLOR) for t in np.linspace(0.0, 1.0, 129)]


def _pen(color, width) -> QtGui.QPen:
    pen = QtGui.QPen(color, width)
    pen.setCosmetic(True)
    return pen


class _blocked:
    """Block the widgets' signals inside the block: a sync never echoes back as an edit."""

    def __init__(self, *widgets):
        self.widgets = widgets

    def __enter__(self):
        self.previous = [w.blockSignals(True) for w in self.widgets]

    def __exit__(self, *exc):
        for w, was in zip(self.widgets, self.previous):
            w.blockSignals(was)
