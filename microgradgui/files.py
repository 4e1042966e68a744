"""The window's files: the File menu's actions (import and export of models, data and pictures),
the recent files and the folder the dialogs open in. A part of `MainWindow` (a mixin: it uses
the window's session, status bar and pause/resume), in a file of its own."""
from __future__ import annotations

import os

from PySide6 import QtWidgets

from micrograd import modelfile, onnx_export
from micrograd.data import save_csv
from micrograd.session import Session

from .views.style import save_png

MAX_RECENT = 8
MODEL_FILTER = "micrograd model (*.json);;All files (*)"
CSV_FILTER = "CSV data (*.csv *.txt);;All files (*)"
PNG_FILTER = "PNG image (*.png)"
ONNX_FILTER = "ONNX model (*.onnx)"


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

    def confirm(self, title, text):
        buttons = QtWidgets.QMessageBox.StandardButton
        answer = QtWidgets.QMessageBox.question(self.parent, title, text, buttons.Ok | buttons.Cancel, buttons.Cancel)
        return answer == buttons.Ok


class FileMenu:
    """The File menu's actions, for `MainWindow`."""

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
        self.recent_menu.setEnabled(bool(files) and not self.running)

    def open_recent(self, path):
        if path.lower().endswith((".csv", ".txt")):
            self.import_csv(path)
        else:
            self.import_model(path)

    def _last_folder(self):
        """Where the last file was opened or saved (the home folder at first, not wherever the
        program was started from)."""
        folder = self.settings.value("files/lastFolder", "", type=str)
        return folder if folder and os.path.isdir(folder) else os.path.expanduser("~")

    def _remember_folder(self, path):
        if path:
            self.settings.setValue("files/lastFolder", os.path.dirname(os.path.abspath(path)))
        return path

    def _ask_open(self, title, filter):
        return self._remember_folder(self.dialogs.open_path(title, filter, self._last_folder()))

    def _ask_save(self, title, filter, name):
        return self._remember_folder(self.dialogs.save_path(title, filter, os.path.join(self._last_folder(), name)))

    def export_model(self):
        was_training = self._pause_and_wait()
        if self._busy():  # a worker that did not stop in time still changes the weights
            return
        try:
            path = self._ask_save("Export weights", MODEL_FILTER, f"{self.session.data.name}-model.json")
            if not path:
                return
            if not os.path.splitext(path)[1]:
                path += ".json"
            try:
                self.session.save(path, epoch=self.rewound_to)
            except (ValueError, OSError) as e:
                self.dialogs.error("Export failed", str(e))
                return
            self._add_recent(path)
            self.status.showMessage(f"Exported to {path}", 5000)
        finally:
            self._resume(was_training)

    def export_onnx(self):
        """The run Export Weights saves (`Session.best`), as an ONNX graph."""
        was_training = self._pause_and_wait()
        if self._busy():
            return
        try:
            path = self._ask_save("Export as ONNX", ONNX_FILTER, f"{self.session.data.name}.onnx")
            if not path:
                return
            if not os.path.splitext(path)[1]:
                path += ".onnx"
            run = self.session.best()
            weights = run.weights() if self.rewound_to is None else self.session.at(self.rewound_to).weights
            try:
                onnx_export.save(path, weights, run.cfg.activations, self.session.dataset.features,
                                 run.cfg.feature_map)
            except onnx_export.ExportError as e:
                self.dialogs.error("Export failed", str(e))
                return
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
            path = self._ask_open("Import model", MODEL_FILTER)
            if not path:
                return False
        try:
            model = modelfile.load(path)  # its errors name the file
        except (ValueError, OSError) as e:  # ModelFileError is a ValueError
            self.dialogs.error("Cannot import the model", str(e))
            return False
        try:
            session, note = Session.from_model(model, fallback=self.session)
        except (ValueError, OSError) as e:
            self.dialogs.error("Cannot import the model", f"{path}: {e}")
            return False
        self._adopt(session)
        self._add_recent(path)
        self.status.showMessage(f"Imported {path}" + (f" ({note})" if note else ""), 8000)
        return True

    def import_csv(self, path=None):
        if self.running:
            return
        if not path:
            path = self._ask_open("Import CSV data", CSV_FILTER)
            if not path:
                return
        spec = self.session.data.replace(csv=os.path.abspath(path), label=None)
        try:
            self.session.set_data(spec)
        except (ValueError, OSError) as e:
            self.dialogs.error("Cannot load the data", str(e))
            return
        self._adopt(self.session)
        self._add_recent(path)
        self.status.showMessage(f"Imported {path}", 5000)

    def export_csv(self):
        """The data as a CSV file (a custom set's points, for instance), train and test points
        together: Import CSV reads it back."""
        path = self._ask_save("Export data as CSV", CSV_FILTER, f"{self.session.data.name}.csv")
        if not path:
            return
        if not os.path.splitext(path)[1]:
            path += ".csv"
        try:
            save_csv(path, self.session.dataset)
        except OSError as e:
            self.dialogs.error("Export failed", str(e))
            return
        self.status.showMessage(f"Exported {len(self.session.dataset)} points to {path}", 5000)

    def save_png(self, key, widget):
        path = self._ask_save("Save plot as PNG", PNG_FILTER, f"{key}.png")
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
