"""GUI event-loop latency while a network trains at full speed in the worker.

A 10 ms `QTimer` (PreciseTimer) records the interval between its ticks while the
real `MainWindow` trains with an unlimited epoch budget and redraws every throttled
snapshot: the default network (`demo`: moons, 2-16-16-1) or the largest the designer
allows (`largest`: 8 hidden layers of 64, every neuron a thumbnail or a node in the
diagram). An idle loop ticks every ~10 ms; anything longer is time the GUI could not react.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/gui_latency.py [--seconds 10] [--engine value]
        [--network demo|largest|both] [--tab "Layer health" | --tab all] [--gradcheck]

Prints, per network, tab and engine (both engines by default, one after the other, in one run):
  * the timer's lateness, latency = tick interval - 10 ms: p50/p95/p99/max;
  * the raw tick interval p50/p99 (an idle loop gives ~10 ms);
  * pauses: tick intervals over 50 ms (the GUI could not react for that long);
  * the training rate, epochs/s, measured over the same seconds.
`--tab TITLE` puts that tab of views in front while measuring (`all`: each tab in turn); `--gradcheck` keeps the
Gradient check view checking (its button clicked again as each check ends), beside training.
Targets: latency p99 <= 25 ms, no pause over 50 ms. Exit status 1 if a target is
missed (a benchmark, not a test: run it on a quiet machine, several times).
STUDIO_REPO (default the repository this file is in) is the checkout whose window and
engines are measured, put first on sys.path; the interpreter needs its requirements
(the project's .venv, made by ./check, has them).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import measured  # first: the checkout measured goes first on sys.path

import numpy as np  # noqa: E402
from PySide6 import QtCore, QtWidgets  # noqa: E402

from micrograd.config import ENGINES, MAX_LAYERS, MAX_WIDTH  # noqa: E402
from microgradgui.window import MainWindow  # noqa: E402

measured.check()

TICK_MS = 10
P99_TARGET_MS = 25.0
PAUSE_MS = 50.0


def run_loop(app, seconds):
    loop = QtCore.QEventLoop()
    QtCore.QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def trainer(w):
    """The window's current run (`w.state` in windows from before the session layer)."""
    return w.session.trainer if hasattr(w, "session") else w.state.trainer


NETWORKS = {"demo": [16, 16, 1], "largest": [MAX_WIDTH] * MAX_LAYERS + [1]}


def grow(w):
    """The designer's largest network, built by its own buttons and spin boxes."""
    panel = w.network_panel
    while panel.add_layer.isEnabled():
        panel.add_layer.click()
    for i in range(MAX_LAYERS):
        panel.spin(i).setValue(MAX_WIDTH)


def tab_titles(w):
    return [w.tabs.tabText(i).replace("&&", "&") for i in range(w.tabs.count())]


def measure(app, engine, seconds, settings_dir, network="demo", tab=None, gradcheck=False):
    settings = QtCore.QSettings(os.path.join(settings_dir, f"{engine}-{network}.ini"), QtCore.QSettings.Format.IniFormat)
    w = MainWindow(settings=settings)
    w.resize(1400, 900)
    w.show()
    if tab is not None:
        w.tabs.setCurrentIndex(tab_titles(w).index(tab))
    w.training_panel.engine.setCurrentText(engine)
    w.training_panel.epochs.setValue(1_000_000)
    pace = w.findChild(QtWidgets.QComboBox, "paceControl")
    if pace is not None:  # full speed: the heaviest load on the window (older windows have no pace)
        pace.setCurrentText("max")
    cfg = w.session.config if hasattr(w, "session") else w.cfg  # today's window, or one before the session layer
    if network == "largest":
        grow(w)
        cfg = w.session.config
    assert cfg.engine == engine and cfg.layers == NETWORKS[network], (cfg.engine, cfg.layers)
    w.train_button.click()
    run_loop(app, 0.5)  # warm up: first snapshots, compiled trace
    checks, again = [], None
    if gradcheck:
        view = w.findChild(QtWidgets.QWidget, "gradCheckView")
        button = w.findChild(QtWidgets.QPushButton, "gradCheckButton")
        view.reported.connect(checks.append)
        again = QtCore.QTimer(w, interval=20)  # a new check as soon as the last one's thread has ended
        again.timeout.connect(lambda: view.running or button.click())
        again.start()

    intervals = []
    last = [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        intervals.append((now - last[0]) * 1000.0)
        last[0] = now

    timer = QtCore.QTimer()
    timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    epoch0 = trainer(w).epoch
    last[0] = time.perf_counter()
    t0 = last[0]
    timer.start()
    run_loop(app, seconds)
    timer.stop()
    elapsed = time.perf_counter() - t0
    epochs = trainer(w).epoch - epoch0
    if again is not None:
        again.stop()  # no check after the window has closed
    w.close()
    a = np.array(intervals)
    late = np.maximum(a - TICK_MS, 0.0)
    return {
        "engine": engine,
        "ticks": len(a),
        "p50": float(np.percentile(late, 50)),
        "p95": float(np.percentile(late, 95)),
        "p99": float(np.percentile(late, 99)),
        "max": float(late.max()),
        "raw_p50": float(np.percentile(a, 50)),
        "raw_p99": float(np.percentile(a, 99)),
        "pauses": int((a > PAUSE_MS).sum()),
        "epochs_per_s": epochs / elapsed,
        "checks": len(checks),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--engine", choices=ENGINES, action="append",
                    help="engine(s) to measure (default: every engine)")
    ap.add_argument("--network", choices=[*NETWORKS, "both"], default="demo",
                    help="demo: 2-16-16-1; largest: 8 hidden layers of 64")
    ap.add_argument("--tab", help="the tab of views in front while measuring (its title), or all: each in turn")
    ap.add_argument("--gradcheck", action="store_true", help="check gradients over and over meanwhile")
    args = ap.parse_args(argv)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    networks = list(NETWORKS) if args.network == "both" else [args.network]
    probe = MainWindow(settings=QtCore.QSettings(os.path.join(tempfile.mkdtemp(), "probe.ini"),
                                                 QtCore.QSettings.Format.IniFormat))
    titles = tab_titles(probe)
    probe.close()
    if args.tab not in (None, "all", *titles):
        raise SystemExit(f"no tab {args.tab!r}; the tabs are {', '.join(titles)}")
    tabs = titles if args.tab == "all" else [args.tab]
    ok = True
    print(f"platform {app.platformName()}, timer {TICK_MS} ms, {args.seconds:g} s per row, moons; "
          f"networks: demo 2-16-16-1, largest 2-{'-'.join(map(str, NETWORKS['largest']))}")
    print(f"measuring the checkout at {measured.revision()}")
    print("latency = tick interval - 10 ms (the timer's lateness); raw = the interval itself; ms")
    print(f"{'network':<8} {'tab':<16} {'engine':<9} {'ticks':>6} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} "
          f"{'raw p50':>8} {'raw p99':>8} {'>50ms':>6} {'epochs/s':>9}")
    with tempfile.TemporaryDirectory() as d:
        for network in networks:
            for tab in tabs:
                for engine in args.engine or ENGINES:
                    r = measure(app, engine, args.seconds, d, network, tab, args.gradcheck)
                    print(f"{network:<8} {tab or titles[0]:<16} {r['engine']:<9} {r['ticks']:>6} {r['p50']:>7.1f} "
                          f"{r['p95']:>7.1f} {r['p99']:>7.1f} {r['max']:>7.1f} {r['raw_p50']:>8.1f} "
                          f"{r['raw_p99']:>8.1f} {r['pauses']:>6} {r['epochs_per_s']:>9.1f}"
                          + (f"  ({r['checks']} gradient checks)" if args.gradcheck else ""), flush=True)
                    ok &= r["p99"] <= P99_TARGET_MS and r["pauses"] == 0
    print("targets (latency p99 <= 25 ms, no tick interval > 50 ms):", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
