"""The main window: the controls on the left, the live views on the right, and the wiring.

The window decides nothing about a run: the `Session` (micrograd.session) holds the
settings and the runs and says what an edit means; the panels mirror its settings; the
views (views/) draw what a `Runner` worker sends, through the `FramePump`.
"""
from __future__ import annotations

import json

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from micrograd.blas import single_blas_thread
from micrograd.config import MAX_SEED, Config, DataSpec
from micrograd.health import FLAGS
from micrograd.session import RESTART, Session

from . import heap
from .edits import HandEdits
from .files import Dialogs, FileMenu
from .frames import FramePump
from .panels import DEFAULT_PACE, DataPanel, NetworkPanel, TrainingPanel
from .views import TABS, DecisionPlot, HealthView, LensView, NetworkView, RunsView
from .views.timeline import Timeline
from .worker import Runner

ORG, APP = "micrograd", "studio"
TRIM_DELAY_MS = 2000  # after a restart or a worker's end, freed memory goes back to the system then
COLLECT_EVERY_MS = 5000  # a full collection then, if one is due (see heap.py)
UNDO_LIMIT = 100  # edits by hand kept to undo: each holds data or a run's place, and a session may be endless


class MainWindow(FileMenu, HandEdits, QtWidgets.QMainWindow):
    """micrograd studio. `settings`: a QSettings (tests pass one in a temp dir). The File menu's
    actions are in files.py, what the user sets by hand (points, weights; undoable) in edits.py."""

    def __init__(self, settings: QtCore.QSettings | None = None, parent=None):
        super().__init__(parent)
        single_blas_thread()  # the worker trains on one core, the views compute on the other (see blas.py)
        self.setObjectName("mainWindow")
        self.setWindowTitle("micrograd studio")
        self.settings = settings if settings is not None else QtCore.QSettings(ORG, APP)
        self.dialogs = Dialogs(self)
        self.runner = Runner(self)
        self.undo_stack = QtGui.QUndoStack(self)
        self.undo_stack.setUndoLimit(UNDO_LIMIT)
        self._diverged_shown = 0
        self._closing = self._close_pending = False
        self.rewound_to = None  # the epoch the timeline shows, when not where the run is

        self._build_actions()
        self._build_layout()
        self.pump = FramePump(self.views, self)
        self.runner.frame.connect(self.pump.push)
        self.runner.errored.connect(self._on_errored)
        self.runner.ended.connect(self._on_worker_ended)
        self.runner.orphansEnded.connect(self._on_orphans_ended)
        # Not in the turn that restarts: on a 600 MiB heap a trim takes milliseconds.
        self.trim_timer = QtCore.QTimer(self, singleShot=True, interval=TRIM_DELAY_MS, timeout=self._give_back)
        heap.defer_full_collections()
        self.collect_timer = QtCore.QTimer(self, interval=COLLECT_EVERY_MS, timeout=heap.collect_due)
        self.collect_timer.start()
        self._build_menus()
        self.session = self._restore_settings()
        self._adopt(self.session)
        self.pump.catch_up()  # drawn before it is shown: the views' content sets the window's size

    # --- construction -----------------------------------------------------------------------

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
        self.export_onnx_action = self._action("exportOnnxAction", "Export as &ONNX…", "Save the network as an "
                                               "ONNX graph, for onnxruntime and other tools", self.export_onnx)
        self.import_action = self._action("importAction", "&Import Model…", "Load a JSON model file: architecture, "
                                          "weights and settings (Ctrl+O)", self.import_model, K.Open)
        self.import_csv_action = self._action("importCsvAction", "Import &CSV Data…", "Train on your own data: "
                                              "numeric feature columns, label column last", self.import_csv)
        self.export_csv_action = self._action("exportCsvAction", "Export &Data as CSV…", "Save the data (train "
                                              "and test points) as a CSV file Import CSV reads back", self.export_csv)
        self.quit_action = self._action("quitAction", "&Quit", "Close micrograd studio", self.close, K.Quit)
        self.train_action = self._action("trainAction", "▶ Train", "Train (Space)", self.toggle_training, "Space")
        self.step_action = self._action("stepAction", "Step", "Train exactly one epoch (Ctrl+Right)", self.step,
                                        "Ctrl+Right")
        self.reset_action = self._action("resetAction", "Reset", "Back to epoch 0 with the same initial weights "
                                         "(Ctrl+R)", self.reset, "Ctrl+R")
        self.new_seed_action = self._action("newSeedAction", "New seed", "Draw a new seed: new initial weights",
                                            self.new_seed)
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setObjectName("undoAction")
        self.undo_action.setShortcut(QtGui.QKeySequence.StandardKey.Undo)
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setObjectName("redoAction")
        self.redo_action.setShortcut(QtGui.QKeySequence.StandardKey.Redo)
        for a in (self.undo_action, self.redo_action):
            self.addAction(a)
        self.pin_action = self._action("pinAction", "&Pin This Run", "Keep this run's curves and numbers to compare "
                                       "the next runs with (the loss plot, the Runs tab)", self.pin)
        self.unpin_action = self._action("unpinAction", "&Clear Pinned Runs", "Forget the runs kept to compare with",
                                         self.unpin)
        self.defaults_action = self._action("restoreDefaultsAction", "Restore &Default Settings",
                                            "Back to the settings micrograd studio starts with: moons, 2-16-16-1, "
                                            "and how they train", self.restore_defaults)

    def _build_layout(self):
        self.data_panel = DataPanel(self.import_csv_action)
        self.network_panel = NetworkPanel()
        self.training_panel = TrainingPanel({"train": self.train_action, "step": self.step_action,
                                             "reset": self.reset_action, "new_seed": self.new_seed_action})
        tp = self.training_panel
        self.train_button, self.step_button, self.reset_button = tp.train_button, tp.step_button, tp.reset_button

        column = QtWidgets.QWidget()
        col = QtWidgets.QVBoxLayout(column)
        col.setContentsMargins(4, 4, 4, 4)
        for panel in (self.data_panel, self.network_panel, self.training_panel):
            col.addWidget(panel)
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
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.setObjectName("plotTabs")
        self.tab_views = [view_class() for view_class in TABS]
        for view in self.tab_views:
            self.tabs.addTab(view, view.title)
        self.lens_view = next(v for v in self.tab_views if isinstance(v, LensView))
        self.runs_view = next(v for v in self.tab_views if isinstance(v, RunsView))
        self.health_view = next(v for v in self.tab_views if isinstance(v, HealthView))
        self.timeline = Timeline()
        # Every view the pump feeds, in drawing order: the run's status first (cheapest, most read).
        self.views = [tp.status, self.timeline, self.network_view, self.decision_plot, *self.tab_views]

        self.top_split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.top_split.setObjectName("topSplit")
        self.top_split.addWidget(self.network_view)
        self.top_split.addWidget(self.decision_plot)
        self.top_split.setSizes([560, 440])
        self.right_split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.right_split.setObjectName("rightSplit")
        self.right_split.addWidget(self.top_split)
        bottom = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(bottom)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.tabs, 1)
        column.addWidget(self.timeline)
        self.right_split.addWidget(bottom)
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
        self.network_panel.edited.connect(lambda layers, acts: self._edit(layers=layers, activations=acts))
        tp.edited.connect(lambda name, value: self._edit(**{name: value}))
        tp.paceChanged.connect(self._on_pace)
        self.network_view.parameterEdited.connect(self._on_parameter_edited)
        self.data_panel.featuresEdited.connect(lambda changes: self._edit(**changes))
        self.data_panel.customChosen.connect(lambda: self._edit_points("place points by hand", None))
        self.decision_plot.pointAdded.connect(self._on_point_added)
        self.decision_plot.pointPicked.connect(self._on_point_picked)
        self.timeline.scrubbed.connect(self._on_scrub)
        self.timeline.branchRequested.connect(self._on_branch)
        self.health_view.warning.connect(lambda text: self.status.showMessage(text, 10_000))
        self.health_view.healthChanged.connect(self._show_health)
        self.runs_view.pinRequested.connect(self.pin)
        self.runs_view.clearRequested.connect(self.unpin)
        self.decision_plot.areaCleared.connect(self._on_area_cleared)
        self.decision_plot.clearRequested.connect(lambda: self._edit_points("clear the data", []))

    def _build_menus(self):
        drawn = [v for v in self.views if v not in (self.training_panel.status, self.timeline)]
        self.png_actions = {}
        for widget in (*drawn, self):
            label = widget.title if widget is not self else "Whole Window"
            key = widget.objectName()
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
        menu.addAction(self.export_onnx_action)
        menu.addAction(self.export_csv_action)
        png = menu.addMenu("Save Plot as &PNG")
        png.setObjectName("savePngMenu")
        for a in self.png_actions.values():
            png.addAction(a)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        edit = self.menuBar().addMenu("&Edit")
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        run = self.menuBar().addMenu("&Training")
        for a in (self.train_action, self.step_action, self.reset_action, self.new_seed_action):
            run.addAction(a)
        run.addSeparator()
        run.addAction(self.pin_action)
        run.addAction(self.unpin_action)
        run.addSeparator()
        run.addAction(self.defaults_action)
        self._rebuild_recent()

    # --- settings ----------------------------------------------------------------------------

    def _options(self):
        """The views' check boxes (log scale, show gradients...): remembered by objectName."""
        return [box for view in self.views for box in view.findChildren(QtWidgets.QCheckBox)]

    def _restore_settings(self):
        """Window geometry and view options; returns the session of the last settings (or the
        default one, with a message, if they no longer load)."""
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
        for box in self._options():
            box.setChecked(s.value(f"view/{box.objectName()}", box.isChecked(), type=bool))
        pace = s.value("training/pace", DEFAULT_PACE, type=int)  # 0: max
        self._on_pace(pace or None)
        self.training_panel.set_pace(pace or None)
        try:
            config = Config.from_dict(json.loads(s.value("last/config", "", type=str) or "{}"))
            data = DataSpec.from_dict(json.loads(s.value("last/data", "", type=str) or "{}"))
            return Session(config, data)
        except (ValueError, TypeError, OSError) as e:  # DataError is a ValueError
            self.status.showMessage(f"Could not restore the last settings ({e}); using the defaults.", 8000)
            return Session()

    def _save_settings(self):
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        for splitter in (self.main_split, self.right_split, self.top_split):
            s.setValue(f"window/{splitter.objectName()}", splitter.saveState())
        s.setValue("last/config", json.dumps(self.session.config.to_dict()))
        s.setValue("last/data", json.dumps(self.session.data.to_dict()))
        for box in self._options():
            s.setValue(f"view/{box.objectName()}", box.isChecked())
        s.setValue("training/pace", self.runner.pace or 0)
        s.sync()

    # --- the session --------------------------------------------------------------------------

    @property
    def running(self):
        return self.runner.running

    def _adopt(self, session):
        """Show `session` (a new one, or the current one after a restart): panels, views, buttons."""
        self.session = session
        self._diverged_shown = 0
        self.data_panel.sync(session.data, session.dataset)
        self._sync_panels()
        self._redraw_all()
        fallback = session.trainer.engine.fallback_reason
        if fallback:
            self.status.showMessage(fallback)

    def _redraw_all(self):
        """Every view afresh from the session: its setup, then where it stands now."""
        self.rewound_to = None
        self.status.clearMessage()  # "Done: ..." of the run before would be a lie now
        self.pump.new_session()
        setup = self.session.setup()
        for view in self.views:
            view.reset(setup)
        # everything the run has so far: nothing after a reset, an imported model's history
        self.pump.draw_soon(self.session.snapshot(list(self.session.trainer.history)))
        self._update_buttons()
        self._trim_soon()

    def _trim_soon(self):
        """The old run's memory, given back: not later for each restart that follows (a burst
        of edits would put it off for good)."""
        if not self.trim_timer.isActive():
            self.trim_timer.start()

    def _give_back(self):
        """A full collection (the trim returns the more for it), then the trim in a turn of its
        own: the two in one turn made a 250-300 ms gap in a soak."""
        heap.collect()
        QtCore.QTimer.singleShot(0, self, heap.give_back)

    def _sync_panels(self):
        cfg = self.session.config
        train = self.session.train
        self.network_panel.sync(cfg, min(cfg.batch_size, len(train)) if cfg.batch_size else len(train))
        self.training_panel.sync(cfg)
        self.data_panel.sync_features(cfg.feature_map, self.session.dataset.X.shape[1])

    def _edit(self, **changes):
        """A setting changed in a panel: the session says whether the run goes on or restarts."""
        self._back_to_now()  # it applies to the run as it is
        try:
            outcome = self.session.edit(**changes)
        except ValueError as e:
            self.status.showMessage(str(e), 5000)
            self._sync_panels()
            return
        self._sync_panels()
        if outcome == RESTART:
            self._redraw_all()
        elif not self.running:
            self.pump.draw_soon(self.session.snapshot())  # the same run: its status, new budget...

    def _on_data_edited(self, spec):
        try:
            self.session.set_data(spec)
        except (ValueError, OSError) as e:
            self.dialogs.error("Cannot load the data", str(e))
            self.data_panel.sync(self.session.data, self.session.dataset)
            return
        self._adopt(self.session)

    def _show_health(self):
        """Layer health's flags as badges on the diagram's layers (their tooltips say why)."""
        layers = self.health_view.layers()
        self.network_view.set_badges(["\n".join(layers[k].message(f) for f in FLAGS if f in flags)
                                      for k, flags in enumerate(self.health_view.health())])

    # --- the way back: rewind, branch, compare ------------------------------------------------

    def _on_scrub(self, epoch):
        """The timeline dragged (paused): every view shows the run at that epoch."""
        if self.running:
            return
        snapshot = self.session.at(epoch)
        self.rewound_to = snapshot.epoch if snapshot.rewound else None
        self.pump.draw_latest(snapshot)  # a drag moves on before 8 x 64's views are drawn
        self._update_buttons()

    def _back_to_now(self):
        """The views show the run where it is (before it trains on, or an edit applies)."""
        if self.rewound_to is not None:
            self.rewound_to = None
            self.pump.draw_now(self.session.snapshot())
            self._update_buttons()

    def _on_branch(self, epoch):
        """Continue from the epoch shown: the run from there is the current one, the one it
        leaves a ghost in the loss plot and the Runs tab."""
        if self.running:
            return
        try:
            self.session.branch(epoch)
        except ValueError as e:
            self.status.showMessage(str(e), 5000)
            return
        self._redraw_all()
        self.status.showMessage(f"Branched at epoch {self.session.trainer.epoch}: Train goes on from here; "
                                "settings changed now apply from here too (Reset: back to epoch 0).", 8000)

    def pin(self):
        """Keep the current run to compare the next ones with."""
        was_training = self._pause_and_wait()  # the worker must not append to what is copied
        if self._busy():
            return
        if self.session.trainer.history:
            self.session.pin()
            self._redraw_all()
            self.status.showMessage(f"Pinned as {self.session.ghosts[-1].label.split()[0]}: change the settings "
                                    "and train to compare (Runs tab).", 6000)
        else:
            self.status.showMessage("Nothing to pin yet: train first.", 4000)
        self._resume(was_training)

    def unpin(self):
        was_training = self._pause_and_wait()
        if self._busy():
            return
        self.session.unpin()
        self._redraw_all()
        self._resume(was_training)

    def reset(self):
        self.runner.stop()
        self.session.reset()
        self._redraw_all()
        self.status.showMessage("Reset: epoch 0, same initial weights.", 3000)

    def restore_defaults(self):
        """The default data, network, training settings and pace; the trained run goes, once the
        user has said so."""
        if self.session.trainer.epoch and not self.dialogs.confirm(
                "Restore default settings", "Go back to the default settings? The current run "
                f"({self.session.trainer.epoch} epochs) will be discarded; export it first to keep it."):
            return
        self.runner.stop()
        self._adopt(Session())
        self.training_panel.set_pace(DEFAULT_PACE)
        self._on_pace(DEFAULT_PACE)
        self.status.showMessage("Default settings restored.", 3000)

    def new_seed(self):
        seed = int(np.random.default_rng().integers(0, MAX_SEED + 1))
        self._edit(seed=seed)
        self.status.showMessage(f"New seed {seed}: new initial weights.", 3000)

    # --- training ----------------------------------------------------------------------------

    def toggle_training(self):
        if self.running:
            self.pause()
        else:
            self.train()

    def train(self):
        if self.running or self._busy() or not self._has_points():
            return
        self._back_to_now()
        if not self.session.can_step:
            self.session.restart()  # a finished session: Train starts it again from the same weights
            self._redraw_all()
        self.runner.start(self.session, self.pump.tag)
        self.status.showMessage("Training…")
        self._update_buttons()

    def pause(self):
        self.runner.pause()

    def _on_pace(self, pace):
        self.runner.pace = pace  # the running worker too, from its next epoch

    def step(self):
        """One epoch, in a worker like Train: a big network on the reference engine can take
        seconds per epoch, and the window stays responsive meanwhile."""
        if self.running or self._busy() or not self._has_points():
            return
        if not self.session.can_step:
            self.status.showMessage("Every run has ended; Reset to start again.", 4000)
            return
        self._back_to_now()
        self.runner.start(self.session, self.pump.tag, epochs=1)
        self._update_buttons()

    def _has_points(self):
        if len(self.session.train):
            return True
        self.status.showMessage("No training points: click on the decision plot to place some "
                                "(left: class 1, right: class 0).", 5000)
        return False

    def _busy(self):
        """True while an orphaned worker still trains the session: no other may start."""
        if self.runner.busy(self.session):
            self.status.showMessage("Waiting for the training thread to finish its epoch…", 3000)
            return True
        return False

    def _stop_worker(self):
        stopped = self.runner.stop()
        if not stopped:
            self.status.showMessage("The training thread did not stop in time; it ends after its epoch.", 5000)
        self._update_buttons()
        return stopped

    @QtCore.Slot()
    def _on_worker_ended(self):
        self._update_buttons()
        if self._closing:
            return
        self._trim_soon()
        s = self.session
        if s.finished or s.trainer.done:
            stop = s.trainer.stop_reason
            self.status.showMessage(f"Done: {stop}." if stop else "Done.")
        else:
            self.status.showMessage("Paused.", 3000)
        self._report_divergence()

    @QtCore.Slot()
    def _on_orphans_ended(self):
        if self._close_pending:
            self._close_pending = False
            self.close()  # the close that waited for them

    @QtCore.Slot(str)
    def _on_errored(self, message):
        if not self._closing:
            self.dialogs.error("Training failed", message)

    def _report_divergence(self):
        messages = self.session.diverged()
        if len(messages) <= self._diverged_shown:
            return
        new = messages[self._diverged_shown:]
        self._diverged_shown = len(messages)
        self.dialogs.warning("Training diverged",
                             "\n".join(new) + "\n\nThe network keeps its last finite weights. "
                             "Try a smaller learning rate.")

    def _update_buttons(self):
        running = self.running
        self.train_action.setText("❚❚ Pause" if running else "▶ Train")
        self.train_action.setToolTip("Pause after the current epoch (Space)" if running else "Train (Space)")
        self.step_action.setEnabled(not running and self.session.can_step)
        self.new_seed_action.setEnabled(not running)
        self.import_csv_action.setEnabled(not running)
        self.data_panel.setEnabled(not running)
        self.network_panel.setEnabled(not running)
        self.network_view.set_editable(not running and self.rewound_to is None)
        self.timeline.set_running(running)
        self.training_panel.set_running(running)
        # Export and Import stay enabled: they pause a running worker first (_pause_and_wait)
        self.recent_menu.setEnabled(not running and bool(self.recent_files()))

    def _pause_and_wait(self):
        """Stop a running worker and draw what it sent: the epoch in progress, a Train's or a
        Step's, is abandoned and the run left as it was before it (waiting for a Step's epoch
        on a big network froze the window for seconds). True if a Train was paused: `_resume`
        it after."""
        if not self.running:
            return False
        training = not self.runner.stepping
        if not self._stop_worker():
            return False  # an orphan still trains the session: no resume (train() refuses until it ends)
        QtCore.QCoreApplication.sendPostedEvents(self.pump)  # the frames it emitted
        self.pump.flush()
        return training

    def _resume(self, was_training):
        """Train on after `_pause_and_wait`, unless the session has ended meanwhile (Train
        would start it over and wipe the finished run)."""
        if was_training and self.session.can_step:
            self.train()

    # --- shutdown ----------------------------------------------------------------------------

    def closeEvent(self, event):
        """The one shutdown path (Quit closes the window): stop training, save settings."""
        self._closing = True
        self.runner.stop()
        self.pump.new_session()  # nothing more to draw
        if self.runner.orphans:
            # A worker thread outlived the wait: the window holds the last references to it and
            # must outlive it. _on_orphans_ended closes the window again once it has ended.
            self._close_pending = True
            self.status.showMessage("Closing once the training thread has finished its epoch…")
            event.ignore()
            return
        try:
            self._save_settings()
        except Exception:  # noqa: BLE001 - never block closing on settings
            pass
        super().closeEvent(event)
