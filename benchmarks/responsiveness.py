"""How fast the window answers the training controls, on every engine and network size.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/responsiveness.py [--repeats 3]

For each engine (compiled, value) and network (the demo 2-16-16-1, the largest 8 x 64), on
the real `MainWindow` at pace max, it measures (wall clock, ms):
  * first update: from clicking Train to the first frame drawn (`FramePump.drawn`);
  * pause: from clicking Pause (the Train button again) to the worker's end (`Runner.ended`);
  * stop: a Reset while training, which stops the worker and waits for it (the call's time);
  * close: closing the window while training (the call's time: closeEvent stops and waits).
Targets (issue 9): first update <= 300 ms; pause, stop and close <= 100 ms. Exit status 1 if a
target is missed. A benchmark, not a test: run it on a quiet machine, several times.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from PySide6 import QtCore, QtWidgets  # noqa: E402

from microgradgui.window import MainWindow  # noqa: E402

NETWORKS = {"2-16-16-1": [16, 16], "8 x 64": [64] * 8}
TARGETS = {"first update": 300.0, "pause": 100.0, "stop": 100.0, "close": 100.0}


def wait_for(app, condition, timeout=60.0):
    """Run the event loop until `condition()`, looked at every millisecond. The loop sleeps
    between events, as the app's does: a loop of processEvents() would spin, a GUI thread
    never idle, and the workers wait for the GUI's turn (`GuiFirst`)."""
    end = time.perf_counter() + timeout
    loop = QtCore.QEventLoop()
    timer = QtCore.QTimer(interval=1, timerType=QtCore.Qt.TimerType.PreciseTimer)
    timer.timeout.connect(lambda: (condition() or time.perf_counter() > end) and loop.quit())
    timer.start()
    if not condition():
        loop.exec()
    timer.stop()
    if not condition():
        raise TimeoutError("the window did not get there")


def window(settings_dir, engine, hidden):
    w = MainWindow(settings=QtCore.QSettings(os.path.join(settings_dir, "s.ini"), QtCore.QSettings.Format.IniFormat))
    w.resize(1400, 900)
    w.show()
    panel = w.network_panel
    while len(panel.hidden) > len(hidden):
        w.findChild(QtWidgets.QToolButton, f"removeLayerButton{len(panel.hidden) - 1}").click()
    while len(panel.hidden) < len(hidden):
        w.findChild(QtWidgets.QPushButton, "addLayerButton").click()
    for i, n in enumerate(hidden):
        panel.spin(i).setValue(n)
    w.training_panel.engine.setCurrentText(engine)
    w.training_panel.epochs.setValue(0)  # until paused
    w.findChild(QtWidgets.QComboBox, "paceControl").setCurrentText("max")
    return w


def measure(app, engine, hidden, settings_dir):
    """One round: ms of first update, pause, stop, close."""
    w = window(settings_dir, engine, hidden)
    # The designer's edits restart the session, whose draw comes a part per turn and ends with a
    # `drawn` of its own: counted, it read as a first update before the click (negative times).
    wait_for(app, lambda: w.pump.idle)
    drawn = []
    w.pump.drawn.connect(lambda: drawn.append(time.perf_counter()))
    ended = []
    w.runner.ended.connect(lambda: ended.append(time.perf_counter()))
    t0 = time.perf_counter()
    w.train_button.click()
    wait_for(app, lambda: drawn)
    first = drawn[0] - t0
    settle = time.perf_counter() + 0.5  # train a while, then pause
    wait_for(app, lambda: time.perf_counter() > settle)
    t0 = time.perf_counter()
    w.train_button.click()
    wait_for(app, lambda: ended)
    pause = ended[0] - t0
    w.train_button.click()
    settle = time.perf_counter() + 0.5
    wait_for(app, lambda: time.perf_counter() > settle)
    t0 = time.perf_counter()
    w.reset_button.click()
    stop = time.perf_counter() - t0
    assert not w.running
    w.train_button.click()
    settle = time.perf_counter() + 0.5
    wait_for(app, lambda: time.perf_counter() > settle)
    t0 = time.perf_counter()
    w.close()
    close = time.perf_counter() - t0
    assert not w.running
    w.deleteLater()
    app.processEvents()
    return 1000 * np.array([first, pause, stop, close])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    print(f"platform {app.platformName()}; ms, median [max] of {args.repeats} rounds; "
          f"load {' '.join(open('/proc/loadavg').read().split()[:3])}")
    print(f"{'engine':<9} {'network':<10} " + " ".join(f"{k:>16}" for k in TARGETS))
    ok = True
    with tempfile.TemporaryDirectory() as d:
        for engine in ("compiled", "value"):
            for name, hidden in NETWORKS.items():
                rounds = np.array([measure(app, engine, hidden, d) for _ in range(args.repeats)])
                med, worst = np.median(rounds, axis=0), rounds.max(axis=0)
                ok &= bool(np.all(worst <= list(TARGETS.values())))
                print(f"{engine:<9} {name:<10} " + " ".join(f"{m:>8.0f} [{x:>5.0f}]" for m, x in zip(med, worst)),
                      flush=True)
    print("targets (first update <= 300 ms; pause, stop, close <= 100 ms):", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
