"""The gradient check and layer-health views through their real widgets: the gradient check
(one click, off the GUI thread, on a copy of the snapshot's weights) and layer health (live,
throttled, warnings once).

Every test waits on a signal or a condition, never sleeps, and ends with no thread running.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from micrograd import gradcheck, health, ops
from micrograd.config import Config, DataSpec
from micrograd.session import Session
from microgradgui.views import TABS
from microgradgui.views import health as health_view
from microgradgui.views.gradcheck import GradCheckView
from microgradgui.views.health import HealthView
from microgradgui.views.style import table_text

TIMEOUT = 20_000  # ms: generous, the machine is shared


def session(**kw):
    return Session(Config(**{"layers": [6, 4, 1], "activations": ["relu", "tanh", "linear"], "epochs": 50, **kw}),
                   DataSpec(samples=40))


def shown(qtbot, kind):
    view = kind()
    qtbot.addWidget(view)
    view.resize(900, 340)
    view.show()
    qtbot.waitExposed(view)
    return view


def trained(view, s, epochs=5):
    view.reset(s.setup())
    view.draw(s.snapshot())
    new = [s.step() for _ in range(epochs)]
    snap = s.snapshot(new)
    view.draw(snap)
    return snap


def cells(table, row):
    return [table.item(row, c).text() for c in range(table.columnCount())]


def test_both_views_are_tabs():
    assert GradCheckView in TABS and HealthView in TABS


# --- the gradient check ------------------------------------------------------------------

def test_one_click_checks_off_the_gui_thread_and_shows_the_module_numbers(qtbot, monkeypatch):
    view = shown(qtbot, GradCheckView)
    s = session()
    snap = trained(view, s)
    threads = []
    real = gradcheck.check_trainer
    monkeypatch.setattr(gradcheck, "check_trainer",
                        lambda *a, **kw: threads.append(threading.current_thread()) or real(*a, **kw))
    button = view.findChild(QtWidgets.QPushButton, "gradCheckButton")
    with qtbot.waitSignal(view.reported, timeout=TIMEOUT) as done:
        button.click()
    qtbot.waitUntil(lambda: not view.running, timeout=TIMEOUT)
    assert threads and threads[0] is not threading.main_thread()
    report = done.args[0]
    expect = gradcheck.check(s.config, snap.weights, s.train)  # the Qt-free module, here
    np.testing.assert_array_equal(report.analytic, expect.analytic)
    np.testing.assert_array_equal(report.numeric, expect.numeric)
    assert report.passed and view.report() is report
    table = view.findChild(QtWidgets.QTableWidget, "gradCheckTable")
    assert table.rowCount() == 3
    for r, row in enumerate(expect.layers):
        assert cells(table, r) == [str(row.checked), str(row.kinks), str(row.failed), table_text(row.max_error),
                                   table_text(row.max_rel), "PASS"]
    assert view.findChild(QtWidgets.QLabel, "gradCheckVerdict").text() == "PASS"
    x, y = view.agree.getData()
    ok = expect.ok & ~expect.kink
    np.testing.assert_array_equal(x, expect.numeric[ok])
    np.testing.assert_array_equal(y, expect.analytic[ok])
    assert len(view.wrong.getData()[0]) == 0
    assert button.text() == "Check gradients"


def test_the_check_holds_the_weights_it_started_from_while_training_goes_on(qtbot):
    view = shown(qtbot, GradCheckView)
    s = session()
    snap = trained(view, s)
    theta = s.trainer.theta.copy()
    with qtbot.waitSignal(view.reported, timeout=TIMEOUT) as done:
        view.button.click()
        view.draw(s.snapshot([s.step(), s.step()]))  # training goes on while it checks
    qtbot.waitUntil(lambda: not view.running, timeout=TIMEOUT)
    expect = gradcheck.check(s.config, snap.weights, s.train)
    np.testing.assert_array_equal(done.args[0].analytic, expect.analytic)
    assert not np.array_equal(s.trainer.theta, theta)  # it did go on, untouched by the check
    assert "At epoch 5" in view.note.text()


def test_a_wrong_derivative_shows_fail_and_the_points_off_the_line(qtbot, patch_op):
    view = shown(qtbot, GradCheckView)
    s = session()
    trained(view, s)
    relu = ops.UNARY["relu"]  # the check compiles its own run: from this table
    wrong = relu._replace(derivative=lambda X, Y, out=None: np.multiply(0.9, relu.derivative(X, Y), out=out))
    patch_op("relu", wrong)
    with qtbot.waitSignal(view.reported, timeout=TIMEOUT) as done:
        view.button.click()
    qtbot.waitUntil(lambda: not view.running, timeout=TIMEOUT)
    report = done.args[0]
    assert not report.passed
    assert view.verdict.text() == "FAIL" and "FAIL" in view.note.text()
    assert cells(view.table, 0)[-1] == "FAIL" and cells(view.table, 0)[2] == str(report.layers[0].failed)
    assert len(view.wrong.getData()[0]) == report.failed


def blocking(monkeypatch, view):
    """Make the check wait at its first parameter until it is cancelled; returns the event
    set once it waits there."""
    waiting = threading.Event()

    def difference(trainer, theta, X, Y, i, eps, check=None):
        waiting.set()
        view._worker.stop_event.wait(TIMEOUT / 1000)
        return 0.0
    monkeypatch.setattr(gradcheck, "_difference", difference)
    return waiting


def test_the_button_cancels_a_check_in_progress(qtbot, monkeypatch):
    view = shown(qtbot, GradCheckView)
    trained(view, session())
    waiting = blocking(monkeypatch, view)
    reports = []
    view.reported.connect(reports.append)
    view.button.click()
    assert view.running and view.button.text() == "Cancel" and view.progress.isVisible()
    qtbot.waitUntil(waiting.is_set, timeout=TIMEOUT)
    view.button.click()
    assert not view.running and view.verdict.text() == "cancelled" and view.button.text() == "Check gradients"
    assert not view.progress.isVisible() and reports == []


def test_a_new_network_cancels_a_check_and_clears_the_result(qtbot, monkeypatch):
    view = shown(qtbot, GradCheckView)
    trained(view, session())
    waiting = blocking(monkeypatch, view)
    view.button.click()
    qtbot.waitUntil(waiting.is_set, timeout=TIMEOUT)
    view.reset(session(layers=[3, 1], activations=["relu", "linear"]).setup())
    assert not view.running and view.report() is None and view.table.rowCount() == 0


def test_closing_the_window_cancels_a_check(qtbot, monkeypatch):
    window = QtWidgets.QMainWindow()
    qtbot.addWidget(window)
    tabs = QtWidgets.QTabWidget()
    view = GradCheckView()
    tabs.addTab(view, view.title)
    window.setCentralWidget(tabs)
    window.show()
    qtbot.waitExposed(window)
    trained(view, session())
    waiting = blocking(monkeypatch, view)
    view.button.click()
    qtbot.waitUntil(waiting.is_set, timeout=TIMEOUT)
    window.close()
    assert not view.running


def test_weights_that_diverged_give_a_message_not_a_crash(qtbot):
    view = shown(qtbot, GradCheckView)
    s = session()
    snap = trained(view, s)
    snap.weights[0][0][0, 0] = np.inf
    view.draw(snap)
    with qtbot.waitSignal(view.errored, timeout=TIMEOUT) as failed:
        view.button.click()
    qtbot.waitUntil(lambda: not view.running, timeout=TIMEOUT)
    assert "not finite" in failed.args[0] and view.verdict.text() == "could not check"
    assert view.report() is None


def test_a_big_network_on_the_reference_engine_checks_a_sample(qtbot, monkeypatch):
    monkeypatch.setitem(gradcheck.WORK, "value", 2e6)  # a tenth of a second's budget, not ten
    view = shown(qtbot, GradCheckView)
    s = session(layers=[64, 64, 1], activations=["tanh", "tanh", "linear"], engine="value", loss="mse")
    trained(view, s, epochs=1)
    with qtbot.waitSignal(view.reported, timeout=TIMEOUT) as done:
        view.button.click()
    qtbot.waitUntil(lambda: not view.running, timeout=TIMEOUT)
    report = done.args[0]
    assert report.engine == "value" and len(report.index) < report.parameters and report.passed
    assert all(row.checked > 0 for row in report.layers)
    assert cells(view.table, 1)[0] == f"{report.layers[1].checked} of {64 * 65}"


# --- layer health --------------------------------------------------------------------------

@pytest.fixture
def clock(monkeypatch):
    """The health view's clock, moved by hand: `clock[0] += 1` is a second later."""
    now = [1000.0]
    monkeypatch.setattr(health_view, "clock", lambda: now[0])
    return now


def test_the_table_shows_the_module_numbers(qtbot, clock):
    view = shown(qtbot, HealthView)
    s = session(activations=["relu", "sigmoid", "linear"])
    view.reset(s.setup())
    view.draw(s.snapshot())
    clock[0] += 1.0
    snap = s.snapshot([s.step() for _ in range(5)])
    view.draw(snap)
    expect = health.measure(s.config, snap.weights, snap.grads, s.train.X, snap.new[-1].lr)
    assert view.layers() == expect
    table = view.findChild(QtWidgets.QTableWidget, "healthTable")
    assert table.rowCount() == 3
    for row, layer in enumerate(expect):
        assert cells(table, row) == [f"{layer.activation} ×{layer.units}",
                                     "—" if layer.dead is None else f"{layer.dead:.0%}",
                                     "—" if layer.saturated is None else f"{layer.saturated:.0%}",
                                     table_text(layer.grad_norm), table_text(layer.update), "OK"]
    assert cells(table, 0)[1] != "—" and cells(table, 1)[2] != "—" and view.health() == (frozenset(),) * 3


def test_it_measures_a_few_times_a_second_at_most_shown_or_hidden(qtbot, clock, monkeypatch):
    tabs = QtWidgets.QTabWidget()
    qtbot.addWidget(tabs)
    view, other = HealthView(), QtWidgets.QWidget()
    tabs.addTab(other, "other")
    tabs.addTab(view, view.title)
    tabs.show()
    qtbot.waitExposed(tabs)
    calls = []
    real = health.measure
    monkeypatch.setattr(health, "measure", lambda *a: calls.append(a[1]) or real(*a))
    s = session()
    view.reset(s.setup())
    view.draw(s.snapshot())
    assert len(calls) == 1 and view.table.item(0, 0) is None  # measured, but hidden: no table
    for _ in range(20):
        view.draw(s.snapshot([s.step()]))  # within the same quarter second
    assert len(calls) == 1
    clock[0] += 1.0 / health_view.RATE
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=TIMEOUT)  # the timer measures the latest
    np.testing.assert_array_equal(calls[-1][0][0], s.trainer.weights()[0][0])
    tabs.setCurrentWidget(view)  # shown: the table fills from the latest measurement
    assert view.table.item(0, 0).text() == "relu ×6" and len(calls) == 2


def test_a_layer_turning_unhealthy_warns_once_per_run(qtbot, clock):
    view = shown(qtbot, HealthView)
    warnings, changes = [], []
    view.warning.connect(lambda message: warnings.append((message, view.layers())))
    view.healthChanged.connect(lambda: changes.append(view.health()))
    s = Session(Config(optimizer="sgd", lr=5.0, schedule="constant", epochs=30), DataSpec())
    view.reset(s.setup())
    view.draw(s.snapshot())
    assert warnings == [] and changes == []

    def train(epochs):
        for _ in range(epochs):
            clock[0] += 1.0  # every snapshot measured
            view.draw(s.snapshot([s.step()]))
    train(10)
    assert warnings, "the demo network at SGD lr 5 kills its relus within 10 epochs"
    message, layers = warnings[0]  # the most pressing condition, and how many more there are
    flagged = [(flag, layer) for flag in health.FLAGS for layer in layers if flag in layer.flags]
    flag, layer = flagged[0]
    more = f" (and {len(flagged) - 1} more: see Layer health)" if len(flagged) > 1 else ""
    assert message == layer.message(flag) + more
    dead = [layer.layer for layer in view.layers() if health.DEAD in layer.flags]
    assert dead and all(health.DEAD in view.health()[k] for k in dead) and changes[-1] == view.health()
    assert "dead" in view.table.item(dead[0], 5).text()
    assert view.table.item(dead[0], 5).toolTip() == view.layers()[dead[0]].message(health.DEAD)
    count = len(warnings)
    train(5)  # still dead: nothing new to say
    assert len(warnings) == count
    s.restart()  # a reset: the run starts again, and its conditions are news again
    view.draw(s.snapshot())
    train(10)
    assert len(warnings) > count


def test_a_snapshot_ending_a_run_is_measured_at_once(qtbot, clock):
    view = shown(qtbot, HealthView)
    s = session(epochs=3)
    view.reset(s.setup())
    view.draw(s.snapshot())
    list(s.run())
    final = s.snapshot()
    view.draw(final)  # no time has passed, but the run has ended
    assert view.layers() == health.measure(s.config, final.weights, final.grads, s.train.X)


# --- in the window ----------------------------------------------------------------------------

def test_in_the_window_a_check_runs_while_training_and_closing_the_window_cancels_one(qtbot, tmp_path, monkeypatch):
    from microgradgui.window import MainWindow
    w = MainWindow(settings=QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    view = w.findChild(GradCheckView, "gradCheckView")
    w.tabs.setCurrentWidget(view)
    w.training_panel.epochs.setValue(0)  # until paused
    w.train_button.click()
    qtbot.waitUntil(lambda: w.session.trainer.epoch > 0, timeout=TIMEOUT)
    with qtbot.waitSignal(view.reported, timeout=TIMEOUT) as done:
        w.findChild(QtWidgets.QPushButton, "gradCheckButton").click()
    assert done.args[0].passed and w.running  # checked beside the training worker
    qtbot.waitUntil(lambda: not view.running, timeout=TIMEOUT)
    w.train_button.click()  # pause
    qtbot.waitUntil(lambda: not w.running, timeout=TIMEOUT)
    health_tab = w.findChild(HealthView, "healthView")
    assert len(health_tab.health()) == 3 and health_tab.layers()  # measured while hidden
    waiting = blocking(monkeypatch, view)
    view.button.click()
    qtbot.waitUntil(waiting.is_set, timeout=TIMEOUT)
    w.close()
    assert not view.running


def test_a_dead_layer_gets_a_badge_in_the_diagram_and_a_message_in_the_status_bar(qtbot, tmp_path):
    from test_gui import make_window, small
    win = make_window(qtbot, tmp_path)
    small(win, hidden=5)
    assert win.network_view.badges() == ["", ""]
    for j in range(5):  # every relu of the hidden layer below zero on every sample: dead
        win._on_parameter_edited(0, j, None, -1e3)
    qtbot.waitUntil(lambda: win.network_view.badges()[0] != "", timeout=TIMEOUT)
    assert "dead" in win.network_view.badges()[0] and win.network_view.badges()[1] == ""
    assert win.network_view._captions[1].text().startswith("⚠")
    assert "Layer 1" in win.status.currentMessage() and "dead" in win.status.currentMessage()
    win.reset_button.click()  # the initial weights again: healthy, the badge goes
    qtbot.waitUntil(lambda: win.network_view.badges() == ["", ""], timeout=TIMEOUT)
    assert not win.network_view._captions[1].text().startswith("⚠")
    win.close()
