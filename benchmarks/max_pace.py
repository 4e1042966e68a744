"""How fast the window trains at its fastest, side by side with an earlier checkout.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/max_pace.py [--against 1521221] [--epochs 5000] [--repeats 3]
        [--sgd]

Issue 9 asks that the pace control's "max" keep the throughput the window had before it
existed. For this checkout and for `--against` (exported with `git archive` into a temp folder:
no worktree of yours is touched), each in a process of its own, alternating: the real
`MainWindow` with its default settings (settings in a temp folder), the epoch budget set to
`--epochs` and the pace to "max" where there is a pace control, Train clicked, and the time
until the worker has ended and every frame is drawn. Reported: epochs per second, median and
range of the repeats, and the ratio of the two medians. The loss tab is in front, as by default.
`--sgd` sets both windows to plain SGD at learning rate 1, 1521221's defaults: today's
defaults train with Adam, whose update is ~3x SGD's (6 of ~100 us an epoch on the demo
network), so the default-against-default figure also counts that choice; `--sgd` compares
the same training work, the window and engine around it.
A benchmark, not a test: run it on a quiet machine.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def child(epochs, sgd):
    """In the measured checkout's process: one timed run; prints epochs done and seconds."""
    sys.path.insert(0, HERE)
    import measured  # the checkout measured goes first on sys.path
    import time
    from PySide6 import QtCore, QtWidgets
    from microgradgui.window import MainWindow
    measured.check()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    with tempfile.TemporaryDirectory() as folder:
        w = MainWindow(settings=QtCore.QSettings(os.path.join(folder, "s.ini"), QtCore.QSettings.Format.IniFormat))
        w.resize(1400, 900)
        w.show()
        w.findChild(QtWidgets.QSpinBox, "epochsSpin").setValue(epochs)
        pace = w.findChild(QtWidgets.QComboBox, "paceControl")
        if pace is not None:
            pace.setCurrentText("max")
        if sgd:
            w.findChild(QtWidgets.QComboBox, "optimizerCombo").setCurrentText("sgd")
            w.findChild(QtWidgets.QDoubleSpinBox, "lrSpin").setValue(1.0)
        for _ in range(20):
            app.processEvents()
        pump = getattr(w, "pump", None)
        loop = QtCore.QEventLoop()
        # The event loop sleeps between events: a loop of processEvents() would spin, and take
        # the GIL from the worker it measures.
        poll = QtCore.QTimer(interval=10)
        poll.timeout.connect(lambda: w.running or (pump is not None and not pump.idle) or loop.quit())
        start = time.perf_counter()
        w.train_button.click()
        poll.start()
        loop.exec()
        seconds = time.perf_counter() - start
        run = getattr(w, "session", None) or getattr(w, "state", None)
        print(run.trainer.epoch, seconds)
        w.close()


def export(rev, folder):
    """`rev` of this repository, as files in `folder`."""
    archive = subprocess.run(["git", "-C", os.path.dirname(HERE), "archive", rev], capture_output=True, check=True).stdout
    with tempfile.TemporaryFile() as f:
        f.write(archive)
        f.seek(0)
        tarfile.open(fileobj=f).extractall(folder, filter="data")


def run(repo, epochs, sgd):
    env = dict(os.environ, STUDIO_REPO=repo, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(epochs), *(["--sgd"] if sgd else [])],
                          env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"the run of {repo} failed:\n{proc.stderr[-2000:]}")
    done, seconds = proc.stdout.split()[-2:]
    done, seconds = int(done), float(seconds)
    return done / seconds, done


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--against", default="1521221", help="the earlier checkout (a git revision)")
    ap.add_argument("--epochs", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sgd", action="store_true", help="both windows on SGD at learning rate 1 (1521221's defaults)")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        return child(args.child, args.sgd)
    this = os.path.dirname(HERE)
    with tempfile.TemporaryDirectory() as ref:
        export(args.against, ref)
        rates = {"this checkout": [], args.against: []}
        for _ in range(args.repeats):
            for name, repo in (("this checkout", this), (args.against, ref)):
                rate, done = run(repo, args.epochs, args.sgd)
                if done != args.epochs:
                    print(f"  {name}: stopped at epoch {done} of {args.epochs}")
                rates[name].append(rate)
    settings = "SGD at learning rate 1" if args.sgd else "default settings"
    print(f"epochs per second at full pace, {settings}, {args.epochs} epochs, {args.repeats} runs each:")
    for name, values in rates.items():
        print(f"  {name:<14} median {statistics.median(values):7.0f}   range {min(values):.0f}-{max(values):.0f}")
    ratio = statistics.median(rates["this checkout"]) / statistics.median(rates[args.against])
    print(f"this checkout / {args.against}: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
