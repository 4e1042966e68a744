"""Shared pytest setup for micrograd studio.

* Forces Qt headless (``QT_QPA_PLATFORM=offscreen``) before anything can load Qt.
  ``./check`` exports it too; the setdefault keeps a plain ``pytest`` run headless
  while still letting a developer override it (e.g. ``QT_QPA_PLATFORM=xcb``).
* ``_no_leaked_threads`` (autouse): fails a test that leaves a thread running.
* Hypothesis draws the same examples on every run (``derandomize``): a property test that
  explored new ones each run failed one run in many on an example no other run met, which
  is a flaky suite. ``HYPOTHESIS_PROFILE=explore`` draws fresh ones, to look for more.

Thread contract for GUI code (microgradgui)
-------------------------------------------
Qt keeps no global list of QThreads, so GUI code must register every QThread it
creates in ``microgradgui.worker.LIVE_THREADS``, a module-level
``weakref.WeakSet``::

    # microgradgui/worker.py
    import weakref
    LIVE_THREADS: "weakref.WeakSet[QtCore.QThread]" = weakref.WeakSet()
    ...
    thread = QtCore.QThread()
    LIVE_THREADS.add(thread)

After every test, if ``microgradgui.worker`` has been imported (we never import
it, nor Qt, ourselves: pure-engine tests stay Qt-free), any thread in that set
whose ``isRunning()`` is still true after a short grace period fails the test.
The offending thread is then asked to ``quit()``/``wait()`` so that one leak does
not abort the interpreter later ("QThread: Destroyed while thread is still
running"). Plain Python threads are checked too: a non-daemon
``threading.Thread`` started during the test and still alive afterwards fails it.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest
from hypothesis import settings

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

settings.register_profile("suite", derandomize=True, database=None)
settings.register_profile("explore")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

# How long a thread may take to finish on its own after the test body returned.
THREAD_GRACE_SECONDS = 2.0


def running_qthreads() -> list:
    """QThreads registered in microgradgui.worker.LIVE_THREADS that are running.

    Returns [] without importing anything when the GUI worker module (and so Qt)
    has not been loaded by the test session.
    """
    worker = sys.modules.get("microgradgui.worker")
    live = getattr(worker, "LIVE_THREADS", None) if worker is not None else None
    if not live:
        return []
    running = []
    for thread in list(live):
        try:
            if thread.isRunning():
                running.append(thread)
        except RuntimeError:  # C++ object already deleted: not running
            continue
    return running


def _wait_for_qthreads(deadline: float) -> list:
    leftover = running_qthreads()
    while leftover and time.monotonic() < deadline:
        for thread in leftover:
            try:
                thread.wait(50)
            except RuntimeError:
                pass
        # Let queued finished()/deleteLater() events run if an app exists.
        core = sys.modules.get("PySide6.QtCore")
        if core is not None and core.QCoreApplication.instance() is not None:
            core.QCoreApplication.processEvents()
        leftover = running_qthreads()
    return leftover


@pytest.fixture(autouse=True)
def _no_leaked_threads():
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + THREAD_GRACE_SECONDS
    problems = []

    leftover_q = _wait_for_qthreads(deadline)
    if leftover_q:
        names = []
        for thread in leftover_q:
            try:
                names.append(thread.objectName() or repr(thread))
                thread.quit()
                thread.wait(5000)  # never terminate(): it can kill a thread holding the GIL
            except RuntimeError:
                pass
        problems.append(f"QThread(s) still running after the test: {names}")

    new_py = [t for t in threading.enumerate() if t not in before and not t.daemon and t.is_alive()]
    for thread in new_py:
        thread.join(max(0.0, deadline - time.monotonic()))
    new_py = [t for t in new_py if t.is_alive()]
    if new_py:
        problems.append(f"non-daemon Python thread(s) still alive after the test: {[t.name for t in new_py]}")

    if problems:
        pytest.fail("; ".join(problems) + " -- stop and join/wait threads before the test ends", pytrace=False)


@pytest.fixture
def patch_op(monkeypatch):
    """`patch_op(name, op)` replaces an op of the table (`micrograd.ops.UNARY`) for one test,
    with an empty program cache for the compiled engine: a program compiled from the wrong op
    must not outlive the test, nor one compiled before stand in for it."""
    import collections

    from micrograd import ops
    from micrograd.compiled import engine

    def patch(name, op):
        monkeypatch.setitem(ops.UNARY, name, op)
        monkeypatch.setattr(engine, "_PROGRAMS", collections.OrderedDict())
    return patch
