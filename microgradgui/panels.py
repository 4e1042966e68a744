"""The control column: data, network designer and training panels, and the run's status.

Each panel shows part of the session's settings (a `DataSpec` or the `Config`) and
writes user input back through one signal; `sync(...)` refreshes the widgets
with their own signals blocked, so a sync never echoes back as an edit.
"""
from __future__ import annotations

import dataclasses
from contextlib import contextmanager

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from micrograd.config import ENGINES, MAX_EPOCHS, MAX_EVALS, MAX_LAYERS, MAX_WIDTH, RANGES, Config
from micrograd.data import CUSTOM, DATASETS, MAX_SAMPLES
from micrograd.features import FEATURES, RAW, RAW_INPUTS, choice
from micrograd.losses import LOSSES
from micrograd.nn import ACTIVATIONS, BIAS_INITS, INITS
from micrograd.optim import OPTIMIZERS, SCHEDULES

from .fields import NumberBox
from .views.base import LiveView
from .views.style import class_colors

SLOW_SECONDS_PER_STEP = 0.3  # warn from here on the reference ("value") engine
# measured on the value engine, one epoch of 80 moons samples (test pass included):
# 2-16-16-1, 24k multiply-adds, 33 ms; 2-64-64-1, 343k, 210 ms
MULTIPLY_ADDS_PER_SECOND = 1.0e6


@contextmanager
def signals_blocked(*objects):
    """Block the Qt signals of `objects` inside the block (restores the previous state)."""
    previous = [o.blockSignals(True) for o in objects]
    try:
        yield
    finally:
        for o, was in zip(objects, previous):
            o.blockSignals(was)


def _form():
    form = QtWidgets.QFormLayout()
    form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setContentsMargins(6, 6, 6, 6)
    form.setVerticalSpacing(4)
    return form


class _SpaceIsTheShortcut(QtCore.QObject):
    """In a number field Space means Train / Pause (the window's shortcut), not a character:
    the field would take the key, refuse it as input and blank its text. Ignoring the
    ShortcutOverride lets the shortcut have the key."""

    def eventFilter(self, obj, event):
        if (event.type() == QtCore.QEvent.Type.ShortcutOverride and event.key() == QtCore.Qt.Key.Key_Space
                and not event.modifiers()):
            event.ignore()
            return True
        return False


_space_filter = None


def _spin(lo, hi, name, tip, special=None, box=None):
    """A spin box over [lo, hi]; `special` is shown for the minimum (e.g. "full", "off")."""
    global _space_filter
    w = box or QtWidgets.QSpinBox()
    w.setRange(lo, hi)
    w.setObjectName(name)
    w.setToolTip(tip)
    w.setKeyboardTracking(False)
    _space_filter = _space_filter or _SpaceIsTheShortcut()  # made with the first box: after the app
    w.installEventFilter(_space_filter)
    if special:
        w.setSpecialValueText(special)
    return w


def _number(name, tip, step, special=None, integer=False):
    """A NumberBox over the setting's range in config.RANGES."""
    box = NumberBox(integer)
    box.setSingleStep(step)
    low, high = RANGES[name]
    return _spin(low, high, f"{name}Spin", tip, special, box=box)


def _button(text, name, tip):
    w = QtWidgets.QPushButton(text)
    w.setObjectName(name)
    w.setToolTip(tip)
    return w


def _tool_button(action, name):
    """A button for `action`: its text, tooltip, shortcut and enabled state are the action's."""
    w = QtWidgets.QToolButton()
    w.setDefaultAction(action)
    w.setObjectName(name)
    w.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextOnly)
    w.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)
    return w


def _combo(items, name, tip):
    w = QtWidgets.QComboBox()
    w.addItems(list(items))
    w.setObjectName(name)
    w.setToolTip(tip)
    return w


def _set_combo(combo, text):
    i = combo.findText(text)
    if i >= 0:
        combo.setCurrentIndex(i)


# --- data ---------------------------------------------------------------------

class DataPanel(QtWidgets.QGroupBox):
    """Data set, its parameters and a small preview; emits the edited data spec. `import_csv`:
    the window's action its Import CSV button is bound to. The input features the network
    takes (one toggle each, TensorFlow Playground's seven) emit the settings that choose them."""

    edited = QtCore.Signal(object)  # the new DataSpec
    featuresEdited = QtCore.Signal(dict)  # Config settings for Session.edit: feature_map and inputs
    customChosen = QtCore.Signal()  # "custom" chosen: the points there become editable

    CSV_ITEM = "imported CSV"

    def __init__(self, import_csv, parent=None):
        super().__init__("Data", parent)
        self.setObjectName("dataPanel")
        self.spec = None
        self.dataset = _combo((*DATASETS, CUSTOM), "datasetCombo", "Built-in data set, points you place on the "
                              "decision plot (custom), or the imported CSV")
        self.samples = _spin(2, MAX_SAMPLES, "samplesSpin", "Number of points generated (the reference engine "
                                                            "is slow beyond a few thousand)")
        self.samples.setSingleStep(10)
        self.noise = _number("noise", "Gaussian noise added to the points", 0.05)
        self.test_ratio = _number("test_ratio", "Share of points held out for testing", 0.05)
        self.test_ratio.setObjectName("testRatioSpin")
        self.seed = _number("seed", "Seed of the generated points and of the split", 1, integer=True)
        self.seed.setObjectName("dataSeedSpin")
        self.regenerate = _button("Regenerate", "regenerateButton", "Draw new points (next data seed)")
        self.import_csv = _tool_button(import_csv, "importCsvButton")
        self.preview = QtWidgets.QLabel()
        self.preview.setObjectName("dataPreview")
        self.preview.setFixedSize(84, 84)
        self.preview.setToolTip("Preview of the data set")
        self.info = QtWidgets.QLabel()
        self.info.setObjectName("dataInfo")
        self.info.setWordWrap(True)
        self.feature_toggles = {}
        toggles = QtWidgets.QGridLayout()
        toggles.setContentsMargins(0, 0, 0, 0)
        toggles.setHorizontalSpacing(6)
        toggles.setVerticalSpacing(0)
        for i, f in enumerate(FEATURES.values()):
            box = QtWidgets.QCheckBox(f.label)
            box.setObjectName(f"featureToggle_{f.name}")
            box.toggled.connect(lambda _, box=box: self._on_feature(box))
            self.feature_toggles[f.name] = box
            toggles.addWidget(box, i // 4, i % 4)

        form = _form()
        form.addRow("Data set", self.dataset)
        form.addRow("Samples", self.samples)
        form.addRow("Noise", self.noise)
        form.addRow("Test ratio", self.test_ratio)
        form.addRow("Seed", self.seed)
        form.addRow("Inputs", toggles)
        buttons = QtWidgets.QVBoxLayout()
        buttons.addWidget(self.regenerate)
        buttons.addWidget(self.import_csv)
        buttons.addStretch(1)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.preview)
        row.addLayout(buttons, 1)
        form.addRow(row)
        form.addRow(self.info)
        self.setLayout(form)

        self.dataset.currentTextChanged.connect(self._on_edit)
        for w in (self.samples, self.seed):
            w.valueChanged.connect(self._on_edit)
        for w in (self.noise, self.test_ratio):
            w.valueChanged.connect(self._on_edit)
        self.regenerate.clicked.connect(self._on_regenerate)
        self.sync_features([], RAW_INPUTS)  # the default: x1 and x2 as they are

    def _widgets(self):
        return (self.dataset, self.samples, self.noise, self.test_ratio, self.seed)

    def _on_edit(self, *_):
        if self.dataset.currentText() == CUSTOM:  # the window turns the points there into a custom set
            self.customChosen.emit()
            return
        seed = int(self.seed.value())
        changes = dict(test_ratio=round(self.test_ratio.value(), 4), split_seed=seed)
        name = self.dataset.currentText()
        if name != self.CSV_ITEM:
            changes.update(dataset=name, csv=None, label=None, samples=self.samples.value(),
                           noise=round(self.noise.value(), 4), seed=seed)
        self.edited.emit(self.spec.replace(**changes))

    def _on_feature(self, box):
        chosen = [name for name, b in self.feature_toggles.items() if b.isChecked()]
        if not chosen:  # a network needs an input: the last one stays
            with signals_blocked(box):
                box.setChecked(True)
            return
        self.featuresEdited.emit(choice(chosen, self.data_inputs))

    def sync_features(self, feature_map, width):
        """Show the features of `feature_map` (a Config's; [] shows x1, x2) for data of `width`
        inputs; features need two (x1, x2), so on other data the toggles are off and disabled."""
        self.data_inputs = width
        shown = set(feature_map or RAW) if width == RAW_INPUTS else set()
        tip = ("Input the network takes, computed from x1, x2 (the data and the plot keep x1, x2)"
               if width == RAW_INPUTS else f"Input features are computed from 2 inputs (x1, x2); "
                                           f"this data has {width}")
        for name, box in self.feature_toggles.items():
            with signals_blocked(box):
                box.setChecked(name in shown)
            box.setEnabled(width == RAW_INPUTS)
            box.setToolTip(tip)

    def _on_regenerate(self):
        self.seed.setValue(self.seed.value() + 1)  # new points; for a CSV, a new split of the same file

    def sync(self, spec, ds):
        """Show the `DataSpec` spec and preview its `Dataset` ds."""
        self.spec = spec
        csv = spec.csv is not None
        with signals_blocked(*self._widgets()):
            i = self.dataset.findText(self.CSV_ITEM)
            if csv and i < 0:
                self.dataset.addItem(self.CSV_ITEM)
            elif not csv and i >= 0:
                self.dataset.removeItem(i)
            _set_combo(self.dataset, self.CSV_ITEM if csv else spec.dataset)
            if not csv:
                self.samples.setValue(spec.samples)
                self.noise.setValue(spec.noise)
            self.test_ratio.setValue(spec.test_ratio)
            self.seed.setValue(spec.split_seed)
            # A custom set keeps its points and their split: it has nothing to draw or shuffle.
            drawn = not csv and spec.dataset != CUSTOM
            for w in (self.samples, self.noise):
                w.setEnabled(drawn)
            for w in (self.test_ratio, self.seed, self.regenerate):
                w.setEnabled(drawn or csv)
        self.preview.setPixmap(preview_pixmap(ds, self.preview.width()))
        what = "classification" if ds.task == "classification" else "regression"
        hint = " (click the decision plot to place points)" if spec.dataset == CUSTOM and not csv else ""
        self.info.setText(f"{spec.name}: {len(ds)} points, {ds.X.shape[1]} feature(s), {what}{hint}")


def preview_pixmap(ds, size):
    """A tiny scatter of the data (first two features, or x against y for one feature)."""
    pix = QtGui.QPixmap(size, size)
    pix.fill(QtGui.QColor("white"))
    X, y = ds.X, ds.y
    if len(X) == 0:
        return pix
    if X.shape[1] >= 2:
        px, py = X[:, 0], X[:, 1]
    else:
        px, py = X[:, 0], y
    def norm(a):
        lo, hi = float(np.min(a)), float(np.max(a))
        return (a - lo) / (hi - lo) if hi > lo else np.full_like(a, 0.5)
    pad = 5
    u = pad + norm(px) * (size - 2 * pad)
    v = size - pad - norm(py) * (size - 2 * pad)
    p = QtGui.QPainter(pix)
    p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    p.setPen(QtCore.Qt.PenStyle.NoPen)
    if ds.task == "classification":
        c0, c1 = class_colors()  # the plots' colours: the preview and the decision plot agree
        colors = [c1 if c > 0.5 else c0 for c in y]
    elif X.shape[1] >= 2:
        t = norm(y)
        colors = [QtGui.QColor.fromRgbF(float(a), 0.3, float(1 - a)) for a in t]
    else:
        colors = [class_colors()[1]] * len(y)
    step = max(1, len(X) // 400)
    for i in range(0, len(X), step):
        p.setBrush(colors[i])
        p.drawEllipse(QtCore.QPointF(u[i], v[i]), 1.8, 1.8)
    p.setPen(QtGui.QColor("#999999"))
    p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
    p.drawRect(0, 0, size - 1, size - 1)
    p.end()
    return pix


# --- network designer -----------------------------------------------------------

def parameter_count(inputs, layers):
    return sum(nout * (nin + 1) for nin, nout in zip([inputs, *layers], layers))


def scalar_nodes_per_sample(layers, output_act):
    """Value-engine nodes one sample builds: a `dot` and an activation per hidden neuron, a `dot`
    (and its activation, if any) for the output, and ~4 for the per-sample loss."""
    hidden = sum(layers[:-1])
    return 2 * hidden + (1 if output_act == "linear" else 2) + 4


def multiply_adds_per_sample(inputs, layers):
    """Multiply-adds of one sample's forward pass: one per weight. (The engines fuse each
    neuron's weighted sum into one node, so this counts work, not graph nodes.)"""
    return sum(nout * nin for nin, nout in zip([inputs, *layers], layers))


class NetworkPanel(QtWidgets.QGroupBox):
    """Hidden layers (neurons, activation), the output activation, size and cost estimates."""

    edited = QtCore.Signal(list, list)  # layers (incl. the 1-neuron output), activations

    def __init__(self, parent=None):
        super().__init__("Network", parent)
        self.setObjectName("networkPanel")
        self.inputs, self.hidden, self.hidden_acts, self.output_act = 2, [], [], "linear"
        self.batch = 80
        self.engine = ENGINES[0]
        self.rows_box = QtWidgets.QWidget()
        self.rows = QtWidgets.QGridLayout(self.rows_box)
        self.rows.setContentsMargins(0, 0, 0, 0)
        self.rows.setVerticalSpacing(2)
        self.add_layer = _button("+ Add hidden layer", "addLayerButton", f"Append a hidden layer (at most {MAX_LAYERS})")
        self.add_layer.clicked.connect(self._on_add)
        self.output = _combo(ACTIVATIONS, "outputActivationCombo", "Activation of the output neuron")
        self.output.currentTextChanged.connect(self._on_output)
        self.inputs_label = QtWidgets.QLabel()
        self.inputs_label.setObjectName("inputsLabel")
        self.cost = QtWidgets.QLabel()
        self.cost.setObjectName("costLabel")
        self.cost.setWordWrap(True)
        self.warning = QtWidgets.QLabel()
        self.warning.setObjectName("slowWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #b35806; font-weight: bold;")

        lay = QtWidgets.QVBoxLayout()
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(4)
        lay.addWidget(self.inputs_label)
        lay.addWidget(self.rows_box)
        lay.addWidget(self.add_layer)
        out = QtWidgets.QHBoxLayout()
        out.addWidget(QtWidgets.QLabel("Output: 1 neuron,"))
        out.addWidget(self.output, 1)
        lay.addLayout(out)
        lay.addWidget(self.cost)
        lay.addWidget(self.warning)
        self.setLayout(lay)
        self.row_widgets = []

    # the rows are rebuilt from the description; cheap at <= 8 rows
    def _rebuild_rows(self):
        for ws in self.row_widgets:
            for w in ws:
                self.rows.removeWidget(w)
                w.hide()
                w.setParent(None)  # out of findChild() at once, not only after deleteLater runs
                w.deleteLater()
        self.row_widgets = []
        for i, (n, act) in enumerate(zip(self.hidden, self.hidden_acts)):
            label = QtWidgets.QLabel(f"Hidden {i + 1}")
            minus = QtWidgets.QToolButton()
            minus.setText("−")
            minus.setObjectName(f"neuronsMinus{i}")
            minus.setToolTip("One neuron fewer")
            spin = _spin(1, MAX_WIDTH, f"neuronsSpin{i}", f"Neurons in hidden layer {i + 1} (1..{MAX_WIDTH})")
            spin.setValue(n)
            plus = QtWidgets.QToolButton()
            plus.setText("+")
            plus.setObjectName(f"neuronsPlus{i}")
            plus.setToolTip("One neuron more")
            combo = _combo(ACTIVATIONS, f"activationCombo{i}", f"Activation of hidden layer {i + 1}")
            _set_combo(combo, act)
            remove = QtWidgets.QToolButton()
            remove.setText("✕")
            remove.setObjectName(f"removeLayerButton{i}")
            remove.setToolTip(f"Remove hidden layer {i + 1}")
            minus.setEnabled(n > 1)
            plus.setEnabled(n < MAX_WIDTH)
            minus.clicked.connect(spin.stepDown)
            plus.clicked.connect(spin.stepUp)
            spin.valueChanged.connect(lambda v, i=i: self._on_neurons(i, v))
            combo.currentTextChanged.connect(lambda a, i=i: self._on_activation(i, a))
            remove.clicked.connect(lambda _=False, i=i: self._on_remove(i))
            for col, w in enumerate((label, minus, spin, plus, combo, remove)):
                self.rows.addWidget(w, i, col)
            self.row_widgets.append((label, minus, spin, plus, combo, remove))
        self.add_layer.setEnabled(len(self.hidden) < MAX_LAYERS)

    def _emit(self):
        self._update_cost()
        self.edited.emit([*self.hidden, 1], [*self.hidden_acts, self.output_act])

    def _on_add(self):
        if len(self.hidden) >= MAX_LAYERS:
            return
        self.hidden.append(self.hidden[-1] if self.hidden else 8)
        self.hidden_acts.append(self.hidden_acts[-1] if self.hidden_acts else "relu")
        self._rebuild_rows()
        self._emit()

    def _on_remove(self, i):
        del self.hidden[i], self.hidden_acts[i]
        self._rebuild_rows()
        self._emit()

    def _on_neurons(self, i, v):
        self.hidden[i] = v
        _, minus, _, plus, _, _ = self.row_widgets[i]
        minus.setEnabled(v > 1)
        plus.setEnabled(v < MAX_WIDTH)
        self._emit()

    def _on_activation(self, i, act):
        self.hidden_acts[i] = act
        self._emit()

    def _on_output(self, act):
        self.output_act = act
        self._emit()

    def spin(self, i):
        return self.row_widgets[i][2]

    def sync(self, cfg, batch):
        """Show the architecture of `cfg`; `batch` is the number of samples per step (for the cost)."""
        self.inputs, self.batch, self.engine = cfg.inputs, batch, cfg.engine
        hidden, acts = list(cfg.layers[:-1]), list(cfg.activations[:-1])
        if hidden != self.hidden or acts != self.hidden_acts or not self.row_widgets and hidden:
            self.hidden, self.hidden_acts = hidden, acts
            self._rebuild_rows()
        self.output_act = cfg.activations[-1]
        with signals_blocked(self.output):
            _set_combo(self.output, self.output_act)
        self.inputs_label.setText(f"Inputs: {cfg.inputs}")
        self._update_cost()

    def _update_cost(self):
        layers = [*self.hidden, 1]
        params = parameter_count(self.inputs, layers)
        madds = multiply_adds_per_sample(self.inputs, layers) * self.batch
        nodes = scalar_nodes_per_sample(layers, self.output_act) * self.batch
        self.cost.setText(f"{params:,} parameters · ~{nodes:,} scalar nodes per step")
        self.cost.setToolTip(f"Each step: ~{nodes:,} Value nodes on the reference engine, "
                             f"{madds:,} multiply-adds of weights by inputs")
        seconds = madds / MULTIPLY_ADDS_PER_SECOND
        if self.engine == "value" and seconds > SLOW_SECONDS_PER_STEP:  # the compiled engine is fast
            self.warning.setText(f"Slow: about {seconds:.1f} s per step on the value engine. Fewer "
                                 "neurons, a smaller batch or the compiled engine train faster.")
            self.warning.show()
        else:
            self.warning.hide()


# --- training -------------------------------------------------------------------

# The pace control: (label, epochs per second). None trains as fast as the engine goes.
PACES = (("1 epoch/s", 1), ("3 epochs/s", 3), ("10 epochs/s", 10), ("30 epochs/s", 30),
         ("100 epochs/s", 100), ("300 epochs/s", 300), ("1000 epochs/s", 1000), ("max", None))
DEFAULT_PACE = 30  # the default demo as an animation of a few seconds, an epoch a frame


class TrainingPanel(QtWidgets.QGroupBox):
    """Train/Pause, Step, Reset and the run's status; loss, optimizer, schedule, regularisation,
    run length, seed, engine. `actions`: the window's train, step, reset and new_seed actions,
    which the buttons are bound to."""

    edited = QtCore.Signal(str, object)  # Config field, new value
    paceChanged = QtCore.Signal(object)  # epochs per second, or None: max

    def __init__(self, actions, parent=None):
        super().__init__("Training", parent)
        self.setObjectName("trainingPanel")
        self.loss = _combo(LOSSES, "lossCombo", "hinge: max-margin (micrograd demo) · mse/sse: squared error · "
                                                "bce: cross-entropy on a logit")
        self.optimizer = _combo(OPTIMIZERS, "optimizerCombo", "Update rule")
        # Decimals enough that a rate or penalty from a model file shows unrounded.
        self.lr = _number("lr", "Learning rate; a change applies from the next epoch, no reset", 0.01)
        self.momentum = _number("momentum", "SGD momentum", 0.05)
        self.schedule = _combo(SCHEDULES, "scheduleCombo", "constant, or linear decay to lr × end over N steps")
        self.lr_end = _number("lr_end", "Linear schedule: final rate as a fraction of lr", 0.05)
        self.lr_end.setObjectName("lrEndSpin")
        self.decay_steps = _spin(1, MAX_EPOCHS, "decayStepsSpin", "Linear schedule: steps to the final rate")
        self.l1 = _number("l1", "L1 penalty on every parameter", 0.0001)
        self.l2 = _number("l2", "L2 penalty on every parameter", 0.0001)
        self.batch = _spin(0, 1_000_000, "batchSpin", "Samples per step; full = the whole training set", "full")
        self.epochs = _spin(0, MAX_EPOCHS, "epochsSpin", "Epochs per run (0: until paused, one run)",
                            "until paused")
        self.tolerance = _number("tolerance", "Stop a run once the train loss is at or below this", 0.01, "off")
        self.evals = _spin(1, MAX_EVALS, "evalsSpin", "Independent runs (seeds seed, seed+1, …) for statistics")
        self.seed = _number("seed", "Seed of the initial weights; Reset keeps it", 1, integer=True)
        self.new_seed = _tool_button(actions["new_seed"], "newSeedButton")
        self.init = _combo(INITS, "initCombo", "Initial weights: uniform in (-1, 1) as micrograd, Xavier, He, "
                                               "or auto: He for the relu family, Xavier for the rest")
        self.bias_init = _combo(BIAS_INITS, "biasInitCombo", "Initial biases: zero, or uniform in (-1, 1)")
        self.engine = _combo(ENGINES, "engineCombo", "value: the reference scalar engine · "
                                                     "compiled: the same maths, faster")

        self.fields = {
            "loss": self.loss, "optimizer": self.optimizer, "lr": self.lr, "momentum": self.momentum,
            "schedule": self.schedule, "lr_end": self.lr_end, "decay_steps": self.decay_steps,
            "l1": self.l1, "l2": self.l2, "batch_size": self.batch, "epochs": self.epochs,
            "tolerance": self.tolerance, "evals": self.evals, "seed": self.seed,
            "init": self.init, "bias_init": self.bias_init, "engine": self.engine,
        }
        kinds = {f.name: type(f.default) for f in dataclasses.fields(Config) if f.name in self.fields}
        for name, w in self.fields.items():
            if isinstance(w, QtWidgets.QComboBox):
                w.currentTextChanged.connect(lambda v, n=name: self.edited.emit(n, v))
            else:  # a seed is shown in a double spin box (its range) but is an int
                w.valueChanged.connect(lambda v, n=name, kind=kinds[name]: self.edited.emit(n, kind(v)))

        self.train_button = _tool_button(actions["train"], "trainButton")
        self.step_button = _tool_button(actions["step"], "stepButton")
        self.reset_button = _tool_button(actions["reset"], "resetButton")
        self.train_button.setStyleSheet("font-weight: bold;")
        self.pace = _combo([label for label, _ in PACES], "paceControl",
                           "Epochs a second, to watch it learn; max: as fast as the engine goes. "
                           "Changes apply at once, also while training")
        self.pace.currentIndexChanged.connect(lambda i: self.paceChanged.emit(PACES[i][1]))
        self.status = RunStatus()

        form = _form()
        buttons = QtWidgets.QHBoxLayout()
        for b in (self.train_button, self.step_button, self.reset_button):
            buttons.addWidget(b, 1)
        form.addRow(buttons)  # first: reachable without scrolling
        form.addRow("Pace", self.pace)
        form.addRow(self.status)
        form.addRow("Loss", self.loss)
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Learning rate", self.lr)
        form.addRow("Momentum", self.momentum)
        sched = QtWidgets.QHBoxLayout()
        sched.addWidget(self.schedule, 1)
        sched.addWidget(QtWidgets.QLabel("to ×"))
        self.lr_end.setMinimumWidth(self.lr_end.fontMetrics().horizontalAdvance("0.0000") + 36)
        sched.addWidget(self.lr_end)
        form.addRow("Schedule", sched)
        form.addRow("Decay epochs", self.decay_steps)
        reg = QtWidgets.QHBoxLayout()
        reg.addWidget(self.l1)
        reg.addWidget(QtWidgets.QLabel("L2"))
        reg.addWidget(self.l2)
        form.addRow("L1", reg)
        form.addRow("Batch size", self.batch)
        form.addRow("Epochs", self.epochs)
        form.addRow("Tolerance", self.tolerance)
        form.addRow("Evals", self.evals)
        seed = QtWidgets.QHBoxLayout()
        seed.addWidget(self.seed, 1)
        seed.addWidget(self.new_seed)
        form.addRow("Seed", seed)
        form.addRow("Weight init", self.init)
        form.addRow("Bias init", self.bias_init)
        form.addRow("Engine", self.engine)
        self.setLayout(form)

    def sync(self, cfg):
        widgets = list(self.fields.values())
        with signals_blocked(*widgets):
            for name, w in self.fields.items():
                v = getattr(cfg, name)
                if isinstance(w, QtWidgets.QComboBox):
                    _set_combo(w, v)
                else:
                    w.setValue(v)
        self.momentum.setEnabled(cfg.optimizer == "sgd")
        linear = cfg.schedule == "linear"
        self.lr_end.setEnabled(linear)
        self.decay_steps.setEnabled(linear)

    def set_pace(self, pace):
        """Show `pace` (one of PACES' values; another value shows the nearest slower one)."""
        values = [v for _, v in PACES]
        i = values.index(pace) if pace in values else max(
            (k for k, v in enumerate(values) if v is not None and v <= (pace or 0)), default=0)
        with signals_blocked(self.pace):
            self.pace.setCurrentIndex(i)

    def set_running(self, running):
        """While a worker trains, only the learning rate stays editable."""
        for name, w in self.fields.items():
            if name != "lr":
                w.setEnabled(not running and (name != "momentum" or self.optimizer.currentText() == "sgd")
                             and (name not in ("lr_end", "decay_steps") or self.schedule.currentText() == "linear"))


class RunStatus(LiveView, QtWidgets.QWidget):
    """Where the run stands: run, epoch, loss and metric, progress over every run, epochs/s."""

    title = "Status"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("runStatus")
        self.epoch_label = QtWidgets.QLabel()
        self.epoch_label.setObjectName("epochLabel")
        self.epoch_label.setWordWrap(True)  # on one line, a long status widened the whole panel
        self.rate_label = QtWidgets.QLabel()
        self.rate_label.setObjectName("rateLabel")
        self.rate_label.setToolTip("How fast the engine trains: epochs per second of training time, "
                                   "not counting the waits of the pace")
        self.rate_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setObjectName("progressBar")
        self.progress.setTextVisible(True)
        lay = QtWidgets.QGridLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.epoch_label, 0, 0, 1, 2)
        lay.addWidget(self.progress, 1, 0)
        lay.addWidget(self.rate_label, 1, 1)
        self._task = "classification"
        self._last = None  # the run's latest Epoch: a snapshot with no new epochs still shows it

    def prepare(self, setup) -> None:
        self._task, self._last = setup.task, None

    def take(self, snap) -> None:
        if snap.rewound:
            return  # an earlier epoch on show: the run is still where it was
        if snap.last is not None:
            self._last = snap.last
        elif self._last is not None and (self._last.run, self._last.epoch) != (snap.run, snap.epoch):
            self._last = None

    def present(self, snap) -> None:
        if snap.total:
            self.progress.setRange(0, snap.total)
            self.progress.setValue(min(snap.done, snap.total))
            self.progress.setFormat("%p%")
        else:  # until paused: no end to measure against (and no busy animation to repaint)
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat("until paused")
        run = f"run {snap.run + 1}/{snap.runs} · " if snap.runs > 1 else ""
        text = f"{run}epoch {snap.epoch}" + (f"/{snap.epochs}" if snap.epochs else "")
        e = None if snap.rewound else self._last
        if e is not None:
            m = e.test_metric if e.test_metric is not None else e.train_metric
            metric = "" if m is None else f" · acc {m:.0%}" if self._task == "classification" else f" · R² {m:.3f}"
            text += f" · loss {e.train_loss:.4g}{metric}"
            # the engine's own speed: at a pace of 30 epochs/s a bare "2261 epochs/s" read as a contradiction
            self.rate_label.setText(f"engine: {snap.epoch / snap.elapsed:.0f} epochs/s" if snap.elapsed > 0 else "")
        elif not snap.epoch:
            self.rate_label.setText("")
        if snap.progress:  # a long epoch, on its way
            text += f" · {snap.progress:.0%} of epoch {snap.epoch + 1}"
        if snap.measured is not None:  # weights or points set by hand since the last epoch, or rewound
            loss, m = snap.measured[0], snap.measured[3] if snap.measured[3] is not None else snap.measured[1]
            metric = "" if m is None else f", acc {m:.0%}" if self._task == "classification" else f", R² {m:.3f}"
            what = "rewound: " if snap.rewound else "edited: "
            text += " · no training points" if loss is None else f" · {what}loss {loss:.4g}{metric}"
        elif snap.rewound:
            text += " · rewound"
        self.epoch_label.setText(text)

