"""Environment guards: Qt binding health and engine/GUI separation.

These run in subprocesses so that a crash (abort, segfault) or an unwanted
import is observed cleanly instead of taking the pytest process down.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# PySide6 6.12.0 aborts the Python 3.11 interpreter with reference-count
# corruption after signal emits (pytest prints its summary, then exit 134).
BROKEN_PYSIDE_VERSIONS = {(6, 12, 0)}

SIGNAL_STRESS_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from PySide6 import QtCore

    N = int(sys.argv[1])


    class Producer(QtCore.QObject):
        item = QtCore.Signal(object)
        pair = QtCore.Signal(dict, list)
        done = QtCore.Signal(int)

        @QtCore.Slot()
        def run(self):
            for i in range(N):
                payload = {"i": i, "grad": np.full(4, float(i)), "tags": ["w", i]}
                self.item.emit(payload)
                self.pair.emit({"i": i}, [i, str(i), (i,)])
            self.done.emit(N)


    class Consumer(QtCore.QObject):
        def __init__(self):
            super().__init__()
            self.items = 0
            self.pairs = 0
            self.checksum = 0.0
            self.expected = None

        @QtCore.Slot(object)
        def on_item(self, payload):
            assert QtCore.QThread.currentThread() is QtCore.QCoreApplication.instance().thread()
            self.items += 1
            self.checksum += float(payload["grad"].sum())
            self.maybe_quit()

        @QtCore.Slot(dict, list)
        def on_pair(self, d, lst):
            assert d["i"] == lst[0]
            self.pairs += 1
            self.maybe_quit()

        @QtCore.Slot(int)
        def on_done(self, n):
            self.expected = n
            self.maybe_quit()

        def maybe_quit(self):
            if self.expected is not None and self.items == self.pairs == self.expected:
                QtCore.QCoreApplication.quit()


    app = QtCore.QCoreApplication(sys.argv)
    thread = QtCore.QThread()
    producer = Producer()
    producer.moveToThread(thread)
    consumer = Consumer()
    Q = QtCore.Qt.ConnectionType.QueuedConnection
    producer.item.connect(consumer.on_item, Q)
    producer.pair.connect(consumer.on_pair, Q)
    producer.done.connect(consumer.on_done, Q)
    thread.started.connect(producer.run)
    thread.start()
    QtCore.QTimer.singleShot(120_000, lambda: (print("timeout", flush=True), app.exit(3)))
    rc = app.exec()
    thread.quit()
    assert thread.wait(10_000), "worker thread did not stop"
    del producer
    expected_sum = 4.0 * N * (N - 1) / 2
    assert rc == 0, rc
    assert consumer.items == consumer.pairs == N, (consumer.items, consumer.pairs)
    assert consumer.checksum == expected_sum, (consumer.checksum, expected_sum)
    print("signal-stress-ok", consumer.items, flush=True)
    """
)


def _pyside_version() -> tuple[str, tuple[int, ...]]:
    for dist in ("PySide6-Essentials", "PySide6"):
        try:
            ver = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
        nums = tuple(int(p) for p in ver.split(".")[:3] if p.isdigit())
        return f"{dist}=={ver}", nums
    pytest.fail("PySide6 is not installed: run the tests with ./check")


def test_pyside6_queued_signal_stress_exits_cleanly():
    """~20k cross-thread queued emits with Python object args, then a normal exit.

    PySide6 6.12.0 corrupts reference counts here and the interpreter aborts
    (exit 134 / SIGABRT) at or before shutdown.
    """
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-c", SIGNAL_STRESS_SCRIPT, "10000"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO_ROOT,
    )
    assert proc.returncode == 0 and "signal-stress-ok 10000" in proc.stdout, (
        f"signal stress subprocess exited {proc.returncode} "
        f"(negative = killed by signal {-proc.returncode if proc.returncode < 0 else ''})\n"
        f"stdout:\n{proc.stdout[-2000:]}\nstderr:\n{proc.stderr[-4000:]}"
    )


def test_pyside6_version_is_not_known_broken():
    spec, nums = _pyside_version()
    assert nums not in BROKEN_PYSIDE_VERSIONS, (
        f"{spec} is installed, but PySide6 6.12.0 aborts the Python 3.11 interpreter "
        "with reference-count corruption after signal emits (the test run ends "
        "with exit 134 after pytest prints its summary). Use the pin in "
        "requirements.txt (6.11.x): rm -rf .venv && ./check"
    )


QT_MODULE_PREFIXES = ("PySide6", "PySide2", "shiboken6", "shiboken2", "PyQt5", "PyQt6", "pyqtgraph")

IMPORT_ISOLATION_SCRIPT = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys

    PREFIXES = tuple(sys.argv[1].split(","))

    def qt_mods():
        return sorted(m for m in sys.modules if m.split(".")[0] in PREFIXES)

    report = {"modules": [], "offenders": {}, "errors": {}}
    import micrograd
    report["modules"].append("micrograd")
    if qt_mods():
        report["offenders"]["micrograd"] = qt_mods()
    names = [m.name for m in pkgutil.walk_packages(micrograd.__path__, "micrograd.",
                                                   onerror=lambda n: report["errors"].setdefault(n, "walk failed"))]
    for name in names:
        before = set(qt_mods())
        try:
            importlib.import_module(name)
        except Exception as exc:  # report, do not hide
            report["errors"][name] = f"{type(exc).__name__}: {exc}"
            continue
        report["modules"].append(name)
        new = sorted(set(qt_mods()) - before)
        if new:
            report["offenders"][name] = new
    report["final"] = qt_mods()
    print(json.dumps(report))
    """
)


def test_engine_does_not_import_gui_toolkits():
    """micrograd (and every submodule) must stay importable without Qt/pyqtgraph."""
    import json

    env = dict(os.environ)
    env.pop("PYTHONSTARTUP", None)
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_ISOLATION_SCRIPT, ",".join(QT_MODULE_PREFIXES)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, f"importing micrograd failed:\n{proc.stderr[-4000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not report["errors"], f"micrograd submodules failed to import: {report['errors']}"
    assert not report["offenders"] and not report["final"], (
        "micrograd must not import GUI toolkits (keep Qt/pyqtgraph in microgradgui); "
        f"offending modules: {report['offenders']}; loaded: {report['final']}"
    )
