"""Screenshot of the Gradient check tab of the real window: docs/gradcheck.png.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/gradcheck_screenshot.py [--out docs/gradcheck.png]

Builds `MainWindow` (settings in a temp dir), trains the default network with mini-batches of
16 (seed 1: a run where a few parameters sit next to a relu's kink at epoch 150), clicks
Check gradients, waits for its report, grabs the view and closes the window.
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


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "gradcheck.png"))
    ap.add_argument("--size", default="1000x340", help="the view's size")
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    _app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])  # alive as long as the window
    with tempfile.TemporaryDirectory() as d:
        w = MainWindow(settings=QtCore.QSettings(os.path.join(d, "s.ini"), QtCore.QSettings.Format.IniFormat))
        w.resize(1400, 900)
        w.show()
        panel = w.training_panel
        panel.seed.setValue(1)
        panel.batch.setValue(16)
        panel.epochs.setValue(args.epochs)
        loop = QtCore.QEventLoop()
        timeout = QtCore.QTimer(singleShot=True, interval=120_000)
        timeout.timeout.connect(loop.quit)
        timeout.start()
        w.runner.ended.connect(loop.quit)
        w.train_button.click()
        loop.exec()
        while not w.pump.idle:  # the run's last frames, drawn: the check is of the last epoch
            QtCore.QCoreApplication.processEvents(QtCore.QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
        view = w.findChild(QtWidgets.QWidget, "gradCheckView")
        w.tabs.setCurrentWidget(view)
        view.reported.connect(loop.quit)
        view.errored.connect(loop.quit)
        w.findChild(QtWidgets.QPushButton, "gradCheckButton").click()
        loop.exec()
        w.right_split.setSizes([900 - height, height])  # the tab as tall as the picture
        w.resize(w.width() - view.width() + width, w.height())
        QtCore.QCoreApplication.processEvents()
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        ok = view.grab().save(args.out, "PNG")
        report = view.report()
        w.close()
    print(f"{args.out}: {'saved' if ok else 'FAILED'} ({report.verdict() if report else 'no report'})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
