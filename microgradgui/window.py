"""The main window: controls on the left, live plots on the right.

The window holds a plain description (`self.cfg`, a `Config`, and `self.data_spec`,
a dict); the panels show it and write user input back. Training state lives in a
`RunState` (see worker.py) that only one thread touches at a time.
"""
from __future__ import annotations

import dataclasses
import json
import os
import functools
import time

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from micrograd import modelfile
from micrograd import train as mtrain
from micrograd.data import DATASETS, load_csv, make_dataset, split
from micrograd.train import Config, flatten

from .network_view import NetworkView
from .panels import DataPanel, NetworkPanel, TrainingPanel
from .plots import DecisionPlot, EvalsView, LossPlot, WeightHeatmaps, save_png
from .worker import MAX_EMITS_PER_S, RunState, Update, start_worker

ORG, APP = "micrograd", "studio"
MAX_RECENT = 8
DEFAULT_DATA = {"dataset": "moons", "samples": 100, "noise": 0.1, "seed": 0, "test_ratio": 0.2, "split_seed": 0}
MODEL_FILTER = "micrograd model (*.json);;All files (*)"
CSV_FILTER = "CSV data (*.csv *.txt);;All files (*)"
PNG_FILTER = "PNG image (*.png)"


class Dialogs:
    """Every modal dialog the window opens; a test replaces `window.dialogs` with a fake."""

    def __init__(self, parent):
        self.parent = parent

    def open_path(self, title, filter, directory=""):
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self.parent, title, directory, filter)
        return path or None

    def save_path(self, title, filter, suggested=""):
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self.parent, title, suggested, filter)
        return path or None

    def error(self, title, text):
        QtWidgets.QMessageBox.critical(self.parent, title, text)

    def warning(self, title, text):
        QtWidgets.QMessageBox.warning(self.parent, title, text)


def load_data(spec):
    """(full dataset, train, test) for a data spec; raises ValueError (DataError) with a clear message."""
    if "csv" in spec:
        ds = load_csv(spec["csv"], spec.get("label"))
    else:
        ds = make_dataset(spec["dataset"], int(spec["samples"]), float(spec["noise"]), int(spec["seed"]))
    tr, te = split(ds, float(spec.get("test_ratio", 0.2)), int(spec.get("split_seed", spec.get("seed", 0))))
    return ds, tr, te


def spec_from_block(block):
    """A data spec from a model file's data block, or None if it names no data we can rebuild."""
    if not isinstance(block, dict):
        return None
    extra = {k: block[k] for k in ("test_ratio", "split_seed") if k in block}
    if block.get("dataset") in DATASETS:
        try:
            return {"dataset": block["dataset"], "samples": int(block.get("samples", 100)),
                    "noise": float(block.get("noise", 0.1)), "seed": int(block.get("seed", 0)), **extra}
        except (TypeError, ValueError):
            return None
    if isinstance(block.get("csv"), str):
        return {"csv": block["csv"], "label": block.get("label"), **extra}
    return None


class MainWindow(QtWidgets.QMainWindow):
    """micrograd studio. `settings`: a QSettings (tests pass one in a temp dir)."""

    frameDrawn = QtCore.Signal()  # every plot shows the latest update received

    def __init__(self, settings: QtCore.QSettings | None = None, parent=None):
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("micrograd studio")
        self.settings = settings if settings is not None else QtCore.QSettings(ORG, APP)
        self.dialogs = Dialogs(self)
        self.cfg = Config()
        self.data_spec = dict(DEFAULT_DATA)
        self.dataset = self.train_set = self.test_set = None
        self.state: RunState | None = None
        self.thread = self.worker = None
        # (thread, worker, state) of workers still running after we stopped waiting for them:
        # dropping the last reference to a running QThread aborts the process.
        self._orphans = []
        self._close_pending = False  # a close waits for an orphan to finish
        self.initial_weights = None  # imported weights: Reset returns to them
        self._pending: list[Update] = []
        self._redraw_scheduled = False
        self._last_snapshot = None
        self._diverged_shown = 0
        self._closing = False
        self.max_emits_per_s = MAX_EMITS_PER_S

        self._build_ui()
        self._build_actions()
        self._restore_settings()
        self._set_data(self.data_spec, fallback=True)
        self._reset()

    # --- construction -----------------------------------------------------------------------

    def _build_ui(self):
        self.data_panel = DataPanel()
        self.network_panel = NetworkPanel()
        self.training_panel = TrainingPanel()
        tp = self.training_panel
        self.train_button, self.pause_button = tp.train_button, tp.pause_button
        self.step_button, self.reset_button = tp.step_button, tp.reset_button

        column = QtWidgets.QWidget()
        col = QtWidgets.QVBoxLayout(column)
        col.setContentsMargins(4, 4, 4, 4)
        col.addWidget(self.data_panel)
        col.addWidget(self.network_panel)
        col.addWidget(self.training_panel)
        col.addStretch(1)
        self.controls = QtWidgets.QScrollArea()
        self.controls.setObjectName("controls")
        self.controls.setWidget(column)
        self.controls.setWidgetResizable(True)
        self.controls.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        sb = self.controls.verticalScrollBar().sizeHint().width()
        self.controls.setMinimumWidth(max(column.minimumSizeHint().width(), 360) + sb + 8)

        self.network_view = NetworkView()
        self.decision_plot = DecisionPlot()
        self.loss_plot = LossPlot()
        self.heatmaps = WeightHeatmaps()
        self.evals_view = EvalsView()

        self.log_check = QtWidgets.QCheckBox("log scale")
        self.log_check.setObjectName("logScaleCheck")
        self.log_check.setToolTip("Loss on a logarithmic axis")
        self.log_check.toggled.connect(self._on_log)
        self.grad_check = QtWidgets.QCheckBox("show gradients")
        self.grad_check.setObjectName("showGradientsCheck")
        self.grad_check.setToolTip("Show each weight's last gradient instead of its value")
        self.grad_check.toggled.connect(self._on_show_gradients)

        def page(widget, *extras):
            w = QtWidgets.QWidget()
            lay = QtWidgets.QVBoxLayout(w)
            lay.setContentsMargins(2, 2, 2, 2)
            lay.setSpacing(2)
            if extras:
                bar = QtWidgets.QHBoxLayout()
                for e in extras:
                    bar.addWidget(e)
                bar.addStretch(1)
                lay.addLayout(bar)
            lay.addWidget(widget, 1)
            return w

        self.tabs = QtWidgets.QTabWidget()
        self.tabs.setObjectName("plotTabs")
        self.tabs.addTab(page(self.loss_plot, self.log_check), "Loss && accuracy")
        self.tabs.addTab(page(self.heatmaps, self.grad_check), "Weights")
        self.evals_tab = self.tabs.addTab(page(self.evals_view), "Evals")
        self.tabs.currentChanged.connect(self._on_tab)

        self.top_split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.top_split.setObjectName("topSplit")
        self.top_split.addWidget(self.network_view)
        self.top_split.addWidget(self.decision_plot)
        self.top_split.setSizes([560, 440])
        self.right_split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.right_split.setObjectName("rightSplit")
        self.right_split.addWidget(self.top_split)
        self.right_split.addWidget(self.tabs)
        self.right_split.setSizes([520, 330])
        self.main_split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.main_split.setObjectName("mainSplit")
        self.main_split.addWidget(self.controls)
        self.main_split.addWidget(self.right_split)
        self.main_split.setStretchFactor(0, 0)
        self.main_split.setStretchFactor(1, 1)
        self.main_split.setCollapsible(0, False)
        self.main_split.setSizes([self.controls.minimumWidth(), 1000])
        self.setCentralWidget(self.main_split)
        self.status = self.statusBar()

        self.data_panel.edited.connect(self._on_data_edited)
        self.data_panel.importCsvRequested.connect(self.import_csv)
        self.network_panel.edited.connect(self._on_architecture_edited)
        tp.edited.connect(self._on_training_edited)
        tp.newSeedRequested.connect(self.new_seed)
        self.train_button.clicked.connect(self.train)
        self.pause_button.clicked.connect(self.pause)
        self.step_button.clicked.connect(self.step)
        self.reset_button.clicked.connect(self.reset)

    def _action(self, name, text, tip, slot, shortcut=None):
        a = QtGui.QAction(text, self)
        a.setObjectName(name)
        a.setToolTip(tip)
        a.setStatusTip(tip)
        if shortcut is not None:
            a.setShortcut(QtGui.QKeySequence(shortcut))
        a.triggered.connect(slot)
        self.addAction(a)
        return a

    def _build_actions(self):
        K = QtGui.QKeySequence.StandardKey
        self.export_action = self._action("exportAction", "&Export Weights…", "Save the network, its weights "
                                          "and settings to a JSON model file (Ctrl+E)", self.export_model, "Ctrl+E")
        self.import_action = self._action("importAction", "&Import Model…", "Load a JSON model file: architecture, "
                                          "weights and settings (Ctrl+O)", self.import_model, K.Open)
        self.import_csv_action = self._action("importCsvAction", "Import &CSV Data…", "Train on your own data "
                                              "from a CSV file", self.import_csv)
        self.quit_action = self._action("quitAction", "&Quit", "Close micrograd studio", self.close, K.Quit)
        self.train_action = self._action("trainAction", "&Train / Pause", "Start or pause training (Space)",
                                         self.toggle_training, "Space")
        self.step_action = self._action("stepAction", "&Step", "Train one epoch", self.step, "Ctrl+Right")
        self.reset_action = self._action("resetAction", "&Reset", "Back to epoch 0, same initial weights",
                                         self.reset, "Ctrl+R")
        self.png_actions = {}
        for key, label, widget in (("loss", "Loss && Accuracy", self.loss_plot),
                                   ("weights", "Weight Heatmaps", self.heatmaps),
                                   ("decision", "Decision Plot", self.decision_plot),
                                   ("network", "Network Diagram", self.network_view),
                                   ("evals", "Evals", self.evals_view),
                                   ("window", "Whole Window", self)):
            self.png_actions[key] = self._action(
                f"savePng_{key}", f"{label}…", f"Save the {label.replace('&&', '&').lower()} as a PNG image",
                lambda _=False, k=key, w=widget: self.save_png(k, w))

        menu = self.menuBar().addMenu("&File")
        menu.addAction(self.import_action)
        self.recent_menu = menu.addMenu("Open &Recent")
        self.recent_menu.setObjectName("recentMenu")
        menu.addAction(self.import_csv_action)
        menu.addSeparator()
        menu.addAction(self.export_action)
        png = menu.addMenu("Save Plot as &PNG")
        png.setObjectName("savePngMenu")
        for a in self.png_actions.values():
            png.addAction(a)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        run = self.menuBar().addMenu("&Training")
        for a in (self.train_action, self.step_action, self.reset_action):
            run.addAction(a)
        self._rebuild_recent()

    # --- settings ----------------------------------------------------------------------------

    def _restore_settings(self):
        s = self.settings
        geom = s.value("window/geometry", QtCore.QByteArray(), type=QtCore.QByteArray)
        if geom and not geom.isEmpty():
            self.restoreGeometry(geom)
        else:
            self.resize(1400, 900)
        for splitter in (self.main_split, self.right_split, self.top_split):
            state = s.value(f"window/{splitter.objectName()}", QtCore.QByteArray(), type=QtCore.QByteArray)
            if state and not state.isEmpty():
                splitter.restoreState(state)
        try:
            self.cfg = Config.from_dict(json.loads(s.value("last/config", "", type=str) or "null") or {})
        except (ValueError, TypeError):
            self.cfg = Config()
        try:
            spec = json.loads(s.value("last/data", "", type=str) or "null")
            self.data_spec = spec if isinstance(spec, dict) and spec else dict(DEFAULT_DATA)
        except ValueError:
            self.data_spec = dict(DEFAULT_DATA)
        self.log_check.setChecked(s.value("view/log", False, type=bool))
        self.grad_check.setChecked(s.value("view/gradients", False, type=bool))

    def _save_settings(self):
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        for splitter in (self.main_split, self.right_split, self.top_split):
            s.setValue(f"window/{splitter.objectName()}", splitter.saveState())
        s.setValue("last/config", json.dumps(self.cfg.to_dict()))
        s.setValue("last/data", json.dumps(self.data_spec))
        s.setValue("view/log", self.log_check.isChecked())
        s.setValue("view/gradients", self.grad_check.isChecked())
        s.sync()

    def recent_files(self):
        files = self.settings.value("recent/files", [], type=list) or []
        return [f for f in files if isinstance(f, str)]

    def _add_recent(self, path):
        path = os.path.abspath(path)
        files = [path] + [f for f in self.recent_files() if f != path]
        self.settings.setValue("recent/files", files[:MAX_RECENT])
        self._rebuild_recent()

    def _rebuild_recent(self):
        self.recent_menu.clear()
        files = self.recent_files()
        for i, f in enumerate(files):
            a = self.recent_menu.addAction(f"&{i + 1} {os.path.basename(f)}")
            a.setToolTip(f)
            a.setStatusTip(f)
            a.triggered.connect(lambda _=False, f=f: self.open_recent(f))
        self.recent_menu.setEnabled(bool(files))

    def open_recent(self, path):
        if path.lower().endswith((".csv", ".txt")):
            self.import_csv(path)
        else:
            self.import_model(path)

    # --- state -------------------------------------------------------------------------------

    @property
    def running(self):
        return self.thread is not None

    def _set_data(self, spec, fallback=False, data=None):
        """Load data for `spec` (or take `data`, already loaded from it); True on success.
        On failure: message, and (fallback) the default data."""
        try:
            ds, tr, te = data if data is not None else load_data(spec)
        except (ValueError, OSError, KeyError, TypeError) as e:
            if not fallback:
                self.dialogs.error("Cannot load the data", str(e))
                self.data_panel.sync(self.data_spec)
                return False
            self.status.showMessage(f"Could not restore the last data ({e}); using the default.", 8000)
            spec = dict(DEFAULT_DATA)
            ds, tr, te = load_data(spec)
        old_task = self.dataset.task if self.dataset is not None else None
        self.data_spec, self.dataset, self.train_set, self.test_set = dict(spec), ds, tr, te
        cfg = dataclasses.replace(self.cfg, layers=list(self.cfg.layers), activations=list(self.cfg.activations))
        if cfg.inputs != ds.X.shape[1]:
            cfg.inputs = ds.X.shape[1]
            self.initial_weights = None
        if ds.task == "regression" and cfg.loss in ("hinge", "bce"):
            cfg.loss = "mse"
        elif ds.task == "classification" and old_task == "regression" and cfg.loss == "mse":
            cfg.loss = "hinge"
        self.cfg = cfg
        self.data_panel.sync(spec, ds)
        self.decision_plot.set_data(tr, te)
        metric = "accuracy" if ds.task == "classification" else "R²"
        self.loss_plot.set_metric_name(metric)
        self.evals_view.set_metric_name(metric)
        return True

    def _sync_panels(self):
        self.network_panel.sync(self.cfg, self._batch())
        self.training_panel.sync(self.cfg)
        self.tabs.setTabVisible(self.evals_tab, self.cfg.evals > 1)

    def _batch(self):
        n = len(self.train_set) if self.train_set is not None else 80
        return min(self.cfg.batch_size, n) if self.cfg.batch_size else n

    def _reset(self, state=None):
        """A fresh session from the current description (or `state`, already built from it);
        draw its initial weights."""
        self._stop_worker()
        self._pending.clear()
        if state is None:
            try:
                state = RunState(self.cfg, self.train_set, self.test_set)
                if self.initial_weights is not None:
                    state.trainer.theta = flatten(self.initial_weights)
            except ValueError as e:
                self.dialogs.error("Cannot start training", str(e))
                return
        self.state = state
        self._diverged_shown = 0
        self._sync_panels()
        self.network_view.set_architecture(self.cfg.inputs, self.cfg.layers, self.cfg.activations)
        self.heatmaps.set_architecture(self.cfg.inputs, self.cfg.layers)
        self.loss_plot.clear()
        self.evals_view.clear()
        self._last_snapshot = None
        initial = state.update([])
        self._draw_snapshot(initial.snapshot)
        self._update_status(None, initial)
        self._update_buttons()
        fallback = state.trainer.engine.fallback_reason
        if fallback:
            self.status.showMessage(fallback)

    def reset(self):
        self._reset()
        self.status.showMessage("Reset: epoch 0, same initial weights.", 3000)

    def new_seed(self):
        seed = int(np.random.default_rng().integers(0, 2**31 - 1))
        self.cfg.seed = seed
        self.initial_weights = None
        self._reset()
        self.status.showMessage(f"New seed {seed}: new initial weights.", 3000)

    # --- edits from the panels ---------------------------------------------------------------

    def _on_data_edited(self, spec):
        if self._set_data(spec):
            self._reset()

    def _on_architecture_edited(self, layers, activations):
        cfg = dataclasses.replace(self.cfg, layers=list(layers), activations=list(activations))
        try:
            cfg.validate()
        except ValueError as e:
            self.status.showMessage(str(e), 5000)
            self._sync_panels()
            return
        self.cfg = cfg
        self.initial_weights = None
        self._reset()

    def _on_training_edited(self, name, value):
        if name == "lr":
            if not value > 0:
                return
            self.cfg.lr = float(value)
            if self.state is not None:
                self.state.set_lr(value)  # the next epoch uses it: no reset
            return
        cfg = dataclasses.replace(self.cfg, layers=list(self.cfg.layers), activations=list(self.cfg.activations),
                                  **{name: value})
        try:
            cfg.validate()
        except ValueError as e:
            self.status.showMessage(str(e), 5000)
            self.training_panel.sync(self.cfg)
            return
        self.cfg = cfg
        if name in ("epochs", "tolerance") and self.state is not None and not self.running \
                and not self.state.trainer.done and self.cfg.epochs > self.state.trainer.epoch:
            # Where a paused run stops is not part of its past: continue it, don't restart it.
            setattr(self.state.cfg, name, value)
            self._update_status(None, self.state.update([]))
            return
        self._reset()

    def _on_log(self, on):
        self.loss_plot.set_log(on)
        self.evals_view.set_log(on)

    def _on_show_gradients(self, on):
        self.heatmaps.set_show_gradients(on)

    def _on_tab(self, _):
        if self._last_snapshot is not None and self.tabs.currentWidget().isAncestorOf(self.heatmaps):
            s = self._last_snapshot
            self.heatmaps.show_weights(s.weights, s.grads)

    # --- training ----------------------------------------------------------------------------

    def toggle_training(self):
        if self.running:
            self.pause()
        else:
            self.train()

    def train(self):
        if self.running or self.state is None or self._state_busy():
            return
        if not self.state.can_step:
            self._reset()  # a finished session: Train starts it again from the same weights
            if self.state is None:
                return
        self.thread, self.worker = start_worker(self.state, self._on_progress, self._on_errored,
                                                self._on_thread_finished, self.max_emits_per_s)
        self.status.showMessage("Training…")
        self._update_buttons()

    def pause(self):
        if self.worker is not None:
            self.worker.pause()

    def step(self):
        """One epoch, in a worker like Train: a big network on the reference engine can take
        seconds per epoch, and the window stays responsive meanwhile."""
        if self.running or self.state is None or self._state_busy():
            return
        if self.state.trainer.done and not self.state.advance():
            self.status.showMessage("Every run has ended; Reset to start again.", 4000)
            return
        self.thread, self.worker = start_worker(self.state, self._on_progress, self._on_errored,
                                                self._on_thread_finished, self.max_emits_per_s, epochs=1)
        self._update_buttons()

    def _stop_worker(self, interrupt=True):
        """Stop the worker after its current epoch (or, not `interrupt`, let it end on its own,
        as a Step does) and wait for its thread. False if the thread still runs after the wait:
        it is then kept in `_orphans` until it finishes."""
        if self.thread is None:
            return True
        if interrupt:
            self.worker.stop()
        stopped = self.thread.wait(10_000)  # one epoch; generous for huge networks
        if not stopped:
            self._orphans.append((self.thread, self.worker, self.worker.state))
            self.status.showMessage("The training thread did not stop in time; it ends after its epoch.", 5000)
        self._thread_done()
        return stopped

    def _thread_done(self):
        self.thread = self.worker = None
        self._update_buttons()

    def _state_busy(self):
        """True while an orphaned worker still trains the current session: no other may start."""
        if any(state is self.state for _, _, state in self._orphans):
            self.status.showMessage("Waiting for the training thread to finish its epoch…", 3000)
            return True
        return False

    @staticmethod
    def _finished(thread):
        """True once `thread` has ended. One that is finishing (isFinished() is already true
        then) still deletes its worker: wait for that, as dropping our references to the
        worker meanwhile races with it (a crash)."""
        try:
            return thread.isFinished() and thread.wait()
        except RuntimeError:  # deleteLater already ran: it had finished
            return True

    @QtCore.Slot()
    def _on_thread_finished(self):
        self._orphans = [o for o in self._orphans if not self._finished(o[0])]
        if self._close_pending and not self._orphans:
            self._close_pending = False
            self.close()  # the close that waited for them
            return
        if self.thread is not None and self._finished(self.thread):
            self._thread_done()
            if self.state is not None and not self._closing:
                if self.state.finished or not self.state.can_step:
                    stop = self.state.trainer.history[-1].stop if self.state.trainer.history else ""
                    self.status.showMessage(f"Done: {stop}." if stop else "Done.")
                else:
                    self.status.showMessage("Paused.", 3000)
                self._report_divergence()

    @QtCore.Slot(str)
    def _on_errored(self, message):
        if not self._closing:
            self.dialogs.error("Training failed", message)

    def _report_divergence(self):
        st = self.state
        if st is None or len(st.diverged) <= self._diverged_shown:
            return
        new = st.diverged[self._diverged_shown:]
        self._diverged_shown = len(st.diverged)
        self.dialogs.warning("Training diverged",
                             "\n".join(new) + "\n\nThe network keeps its last finite weights. "
                             "Try a smaller learning rate.")

    # --- drawing -----------------------------------------------------------------------------

    @QtCore.Slot(object)
    def _on_progress(self, update):
        if update.state is not self.state or self._closing:
            if update.gate is not None:
                update.gate.done()
            return  # from a session that was reset meanwhile
        self._pending.append(update)
        if not self._redraw_scheduled:
            self._redraw_scheduled = True
            QtCore.QTimer.singleShot(0, self._redraw)

    def _redraw(self):
        self._redraw_scheduled = False
        pending, self._pending = self._pending, []
        if not pending:
            return
        gates = [u.gate for u in pending if u.gate is not None]
        if not gates or not self.isVisible():
            self._apply(pending)
            for g in gates:
                g.done(0.0)
            self.frameDrawn.emit()
            return
        # A frame in short steps, one per turn of the event loop, each drawn or painted at
        # once: a timer or a click waits for one step at most, never a whole frame. The
        # worker waits for the last one (see worker.py).
        steps = [functools.partial(self._add_epochs, pending), self._paint_now,
                 functools.partial(self._draw_snapshot, pending[-1].snapshot), self._paint_now]
        self._frame_step(pending[-1].state, steps, gates, 0.0)

    def _frame_step(self, state, steps, gates, cost):
        """Run the next step of a frame drawing `state`'s updates, and queue the rest. A Reset or
        an Import between two steps replaces `self.state`: the remaining steps would draw the
        old session over the new one, so they are dropped."""
        current = state is self.state
        if current:
            t0 = time.perf_counter()
            steps.pop(0)()
            cost += time.perf_counter() - t0
            if steps:
                QtCore.QTimer.singleShot(0, self, functools.partial(self._frame_step, state, steps, gates, cost))
                return
        for g in gates:
            g.done(cost)  # a worker still waiting on a dropped frame is being stopped: release it
        if current:
            self.frameDrawn.emit()

    @staticmethod
    def _paint_now():
        """Deliver the scenes' queued updates and the paint passes they request now, while
        the worker waits for this frame, not later from the event loop against a busy worker."""
        QtCore.QCoreApplication.sendPostedEvents()

    def _add_epochs(self, updates):
        """Every epoch of the updates into the curves and the status line."""
        evals = self.cfg.evals > 1
        last_epoch = None
        for u in updates:
            if u.epochs:
                self.loss_plot.add(u.epochs)
                if evals:
                    self.evals_view.add(u.run, u.epochs)
                last_epoch = u.epochs[-1]
            if u.summary is not None and evals:
                self.evals_view.set_summary(u.summary)
        self._update_status(last_epoch, updates[-1])

    def _apply(self, updates):
        """Draw a batch of updates: every epoch into the curves, the last snapshot everywhere."""
        self._add_epochs(updates)
        self._draw_snapshot(updates[-1].snapshot)

    def _draw_snapshot(self, snap):
        self._last_snapshot = snap
        self.network_view.show_weights(snap.weights)
        self.decision_plot.show_model(snap.weights, self.cfg.activations, mtrain.decision_threshold(self.cfg))
        if self.heatmaps.isVisible() or not self.isVisible():
            self.heatmaps.show_weights(snap.weights, snap.grads)

    def _update_status(self, epoch, u):
        """The epoch line, progress and rate from the Update `u` (where its session stood when
        it was sent; never the live trainer, which a worker may be changing) and the last
        `epoch` it carried (None: no epoch yet)."""
        tp, cfg, total = self.training_panel, u.state.cfg, u.state.total_epochs
        tp.progress.setRange(0, total)
        tp.progress.setValue(min(u.epochs_done, total))
        run = f"run {u.run + 1}/{cfg.evals} · " if cfg.evals > 1 else ""
        metric = ""
        if epoch is not None:
            m = epoch.test_metric if epoch.test_metric is not None else epoch.train_metric
            if m is not None:
                name = "acc" if self.dataset.task == "classification" else "R²"
                metric = f" · {name} {m:.0%}" if name == "acc" else f" · R² {m:.3f}"
            tp.epoch_label.setText(f"{run}epoch {u.epoch}/{cfg.epochs} · loss {epoch.train_loss:.4g}{metric}")
            tp.rate_label.setText(f"{u.epoch / u.elapsed:.0f} epochs/s" if u.elapsed > 0 else "")
        else:
            tp.epoch_label.setText(f"{run}epoch {u.epoch}/{cfg.epochs}")
            tp.rate_label.setText("")

    def _update_buttons(self):
        running = self.running
        # a running worker owns the state: read can_step only without one
        can = not running and self.state is not None and self.state.can_step
        self.train_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.step_button.setEnabled(can)
        self.data_panel.setEnabled(not running)
        self.network_panel.setEnabled(not running)
        self.training_panel.set_running(running)
        # Export and Import stay enabled: they pause a running worker first (_pause_and_wait)
        for a in (self.import_csv_action, self.step_action):
            a.setEnabled(not running)
        self.recent_menu.setEnabled(not running and bool(self.recent_files()))

    # --- files -------------------------------------------------------------------------------

    def _pause_and_wait(self):
        """Let a running worker end and draw what it sent: a Train pauses after its current
        epoch, a Step finishes its one epoch. True if a Train was paused: `_resume` it after."""
        if not self.running:
            return False
        training = self.worker.epochs is None
        if not self._stop_worker(interrupt=training):
            return False  # an orphan still trains the session: no resume (train() refuses until it ends)
        QtCore.QCoreApplication.sendPostedEvents(self)  # draw the last updates it emitted
        self._redraw()
        return training

    def _resume(self, was_training):
        """Train on after `_pause_and_wait`, unless the session has ended meanwhile (Train
        would start it over and wipe the finished run)."""
        if was_training and self.state is not None and self.state.can_step:
            self.train()

    def export_model(self):
        was_training = self._pause_and_wait()
        if self._state_busy():  # a worker that did not stop in time still changes the weights
            return
        try:
            name = self.data_spec.get("dataset") or os.path.splitext(os.path.basename(self.data_spec.get("csv", "model")))[0]
            path = self.dialogs.save_path("Export weights", MODEL_FILTER, f"{name}-model.json")
            if not path:
                return
            if not os.path.splitext(path)[1]:
                path += ".json"
            summary = self.state.session.summary() if self.cfg.evals > 1 and self.state.session.runs else None
            try:
                modelfile.save_trainer(path, self.state.trainer, self.dataset, summary=summary,
                                test_ratio=self.data_spec.get("test_ratio", 0.2),
                                split_seed=self.data_spec.get("split_seed", 0))
            except (ValueError, OSError) as e:
                self.dialogs.error("Export failed", str(e))
                return
            self._add_recent(path)
            self.status.showMessage(f"Exported to {path}", 5000)
        finally:
            self._resume(was_training)

    def import_model(self, path=None):
        was_training = self._pause_and_wait()  # the import replaces the run: no worker may hold it
        if not self._import_model(path):  # cancelled or failed: the run goes on as before
            self._resume(was_training)

    def _import_model(self, path):
        """The import itself; True once the model replaced the session."""
        if not path:
            path = self.dialogs.open_path("Import model", MODEL_FILTER)
            if not path:
                return False
        try:
            model = modelfile.load(path)
        except (ValueError, OSError) as e:  # ModelFileError is a ValueError
            self.dialogs.error("Cannot import the model", str(e))
            return False
        # Work on copies; commit only once everything fits.
        spec = spec_from_block(model.data)
        note = ""
        data = None
        if spec is not None:
            try:
                data = load_data(spec)
            except (ValueError, OSError, TypeError) as e:
                note = f" (its data could not be rebuilt: {e})"
        if data is None or data[0].X.shape[1] != model.inputs:
            if self.dataset is not None and self.dataset.X.shape[1] == model.inputs:
                spec, data = self.data_spec, (self.dataset, self.train_set, self.test_set)
                note = note or " (kept the current data)"
            else:
                self.dialogs.error("Cannot import the model",
                                   f"{path}: the model takes {model.inputs} inputs, the current data has "
                                   f"{self.dataset.X.shape[1]} features, and the file names no data set that "
                                   f"can be rebuilt{note}. Import the matching CSV first.")
                return False
        cfg = model.config
        try:
            state = RunState(cfg, data[1], data[2])
            state.trainer.theta = flatten(model.weights)
        except (ValueError, TypeError) as e:
            self.dialogs.error("Cannot import the model", f"{path}: {e}")
            return False
        self.cfg = cfg
        self.initial_weights = [(np.array(W), np.array(b)) for W, b in model.weights]
        if spec is not self.data_spec:
            self._set_data(spec, data=data)
            self.cfg = cfg  # _set_data may adapt the loss to the task; the file's settings win
        self._reset(state)
        self._add_recent(path)
        self.status.showMessage(f"Imported {path}{note}", 8000)
        return True

    def import_csv(self, path=None):
        if self.running:
            return
        if not path:
            path = self.dialogs.open_path("Import CSV data", CSV_FILTER)
            if not path:
                return
        spec = {"csv": os.path.abspath(path), "label": None,
                "test_ratio": self.data_spec.get("test_ratio", 0.2),
                "split_seed": self.data_spec.get("split_seed", 0)}
        if self._set_data(spec):
            self.initial_weights = None
            self._reset()
            self._add_recent(path)
            self.status.showMessage(f"Imported {path}", 5000)

    def save_png(self, key, widget):
        path = self.dialogs.save_path("Save plot as PNG", PNG_FILTER, f"{key}.png")
        if not path:
            return
        if not path.lower().endswith(".png"):
            path += ".png"
        try:
            save_png(widget, path)
        except OSError as e:
            self.dialogs.error("Cannot save the image", str(e))
            return
        self.status.showMessage(f"Saved {path}", 5000)

    # --- shutdown ----------------------------------------------------------------------------

    def closeEvent(self, event):
        """The one shutdown path (Quit closes the window): stop training, save settings."""
        self._closing = True
        self._stop_worker()
        self._pending.clear()
        if self._orphans:
            # A worker thread outlived the wait: the window holds the last references to it and
            # must outlive it. _on_thread_finished closes the window again once it has ended.
            self._close_pending = True
            self.status.showMessage("Closing once the training thread has finished its epoch…")
            event.ignore()
            return
        try:
            self._save_settings()
        except Exception:  # noqa: BLE001 - never block closing on settings
            pass
        super().closeEvent(event)
