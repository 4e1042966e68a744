"""Screenshot of the real window mid-training: docs/screenshot.png.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot.py [--epochs 150] [--out docs/screenshot.png]

Builds `MainWindow` (settings in a temp dir), trains the default network (moons,
2-16-16-1) in its worker, waits on the worker's progress signals until the run
has passed `--epochs`, grabs the window while it still trains, then closes it.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from PySide6 import QtCore, QtWidgets  # noqa: E402

from microgradgui.window import MainWindow  # noqa: E402


class Waiter(QtCore.QObject):
    """Ends the loop at the first complete frame drawn after the run passed `epochs`."""

    def __init__(self, epochs, loop):
        super().__init__()
        self.epochs, self.loop, self.reached = epochs, loop, False

    @QtCore.Slot(object)
    def on_frame(self, frame):
        if frame.snapshot.epoch >= self.epochs:
            self.reached = True

    @QtCore.Slot()
    def on_drawn(self):
        if self.reached:
            self.loop.quit()


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "screenshot.png"))
    ap.add_argument("--size", default="1400x900")
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    _app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])  # alive as long as the window
    with tempfile.TemporaryDirectory() as d:
        w = MainWindow(settings=QtCore.QSettings(os.path.join(d, "s.ini"), QtCore.QSettings.Format.IniFormat))
        w.resize(width, height)
        w.show()
        w.training_panel.epochs.setValue(5000)  # the default settings otherwise: what a new user sees
        w.runner.max_emits_per_s = 10
        loop = QtCore.QEventLoop()
        timeout = QtCore.QTimer(singleShot=True, interval=120_000)
        timeout.timeout.connect(loop.quit)

        waiter = Waiter(args.epochs, loop)  # a QObject in this thread: its slot runs here, queued
        w.runner.frame.connect(waiter.on_frame)
        w.pump.drawn.connect(waiter.on_drawn)
        w.runner.ended.connect(loop.quit)
        w.train_button.click()
        timeout.start()
        loop.exec()
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        ok = w.grab().save(args.out, "PNG")
        epoch = w.session.trainer.epoch
        w.close()
    print(f"{args.out}: {'saved' if ok else 'FAILED'} at epoch {epoch}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
