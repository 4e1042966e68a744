"""Rewind, branch and compare in the window: the timeline slider driven by real key presses, the
buttons clicked, the result checked in the views' data, the session and the exported file."""
from __future__ import annotations

import numpy as np

from PySide6 import QtCore, QtTest

from micrograd import modelfile
from micrograd.predict import predict
from micrograd.train import flatten
from test_gui import TIMEOUT, loss_view, small, wait_idle, win  # noqa: F401 - win is a fixture

Key = QtCore.Qt.Key



def train_to_end(win, qtbot, epochs):
    small(win, epochs=epochs, hidden=4)
    win.findChild(QtCore.QObject, "paceControl").setCurrentText("max")
    win.train_button.click()
    qtbot.waitUntil(lambda: win.session.finished and not win.running, timeout=TIMEOUT)
    wait_idle(qtbot, win)


def drawn_after(win, qtbot, slider, *presses):
    """Key presses on the timeline in one turn of the event loop, then until the views, drawn
    a part per turn, show where the last one went."""
    slider.setFocus()
    for k in presses:
        QtTest.QTest.keyClick(slider, k)
    qtbot.waitUntil(lambda: win.pump.idle, timeout=TIMEOUT)


def shown_weights(win):
    return flatten([(np.asarray(W), np.asarray(b)) for W, b in win.network_view._weights])


def test_the_timeline_shows_every_view_at_an_earlier_epoch_and_export_writes_it(win, qtbot, tmp_path):
    train_to_end(win, qtbot, 40)
    slider, t = win.timeline.slider, win.session.trainer
    live = t.theta.copy()
    assert slider.maximum() == 40 and slider.value() == 40
    drawn_after(win, qtbot, slider, Key.Key_Home)  # epoch 0: the initial weights
    np.testing.assert_array_equal(shown_weights(win), t.tape.at(0)[1])
    drawn_after(win, qtbot, slider, Key.Key_PageUp)  # one page on: epoch 10
    k = slider.value()
    assert 0 < k < 40 and win.rewound_to == k
    w_k = t.tape.at(k)[1]
    np.testing.assert_array_equal(shown_weights(win), w_k)
    # the decision surface is the model at epoch k, the loss plot marks it, the status says so
    plot = win.decision_plot
    xs, ys = plot.grid_axes()
    gx, gy = np.meshgrid(xs, ys)
    weights = [(W, b) for W, b in win.session.at(k).weights]
    expected = predict(weights, win.session.config.activations, np.column_stack([gx.ravel(), gy.ravel()]))[:, 0]
    np.testing.assert_allclose(plot.grid_values().ravel(), expected, rtol=1e-12, atol=1e-12)
    assert all(c.isVisible() and c.value() == k for c in loss_view(win).cursors)
    assert "rewound" in win.training_panel.status.epoch_label.text()
    np.testing.assert_array_equal(t.theta, live)  # the run itself is where it was
    # Export writes the epoch on screen
    path = str(tmp_path / "at-k.json")
    win.dialogs.save_paths.append(path)
    win.export_action.trigger()
    m = modelfile.load(path)
    np.testing.assert_array_equal(flatten([(np.array(W), np.array(b)) for W, b in m.weights]), w_k)
    assert m.history["epoch"][-1] == k
    # the right end is the run as it is
    drawn_after(win, qtbot, slider, Key.Key_End)
    assert win.rewound_to is None and not any(c.isVisible() for c in loss_view(win).cursors)
    np.testing.assert_array_equal(shown_weights(win), live)


def test_a_drag_draws_the_epoch_it_stops_at_not_each_it_passes(win, qtbot, monkeypatch):
    """Each move drew every view at once in its turn: 0.3 s at 8 x 64 for a soak's drag."""
    train_to_end(win, qtbot, 40)
    assert win.decision_plot.isVisible()  # a hidden view would draw nothing at all
    drawn = []
    present = win.decision_plot.present
    monkeypatch.setattr(win.decision_plot, "present", lambda s: drawn.append(s.epoch) or present(s))
    drawn_after(win, qtbot, win.timeline.slider, Key.Key_Home, Key.Key_PageUp, Key.Key_PageUp)
    assert drawn == [0, 20] and win.rewound_to == 20


def test_continue_from_here_branches_and_the_loss_plot_shows_both(win, qtbot):
    train_to_end(win, qtbot, 40)
    slider = win.timeline.slider
    drawn_after(win, qtbot, slider, Key.Key_Home, Key.Key_PageUp, Key.Key_PageUp)
    k = win.rewound_to
    assert k == 20
    w_k = win.session.trainer.tape.at(k)[1].copy()
    win.timeline.continue_button.click()
    wait_idle(qtbot, win)
    s = win.session
    assert s.trainer.epoch == k and not s.finished
    np.testing.assert_array_equal(s.trainer.theta, w_k)
    ghosts = loss_view(win).ghost_curves()
    assert [g[0] for g in ghosts] == ["#1 branched at 20"] and ghosts[0][1][-1] == 40  # the whole run it left
    assert loss_view(win).curve_length() == len(s.trainer.history)  # the branch's past, up to 20
    assert win.runs_view.table.rowCount() == 2
    # other settings for the branch: it restarts at 20, not at 0
    win.training_panel.fields["optimizer"].setCurrentText("sgd")
    assert s.trainer.epoch == k and s.config.optimizer == "sgd"
    win.train_button.click()
    qtbot.waitUntil(lambda: s.finished and not win.running, timeout=TIMEOUT)
    wait_idle(qtbot, win)
    assert s.trainer.epoch == 40 and s.ghosts[0].config["optimizer"] == "adam"
    np.testing.assert_array_equal(s.trainer.history.rows()[:k, :5], s.ghosts[0].rows[:k, :5])  # one past
    assert len(loss_view(win).ghost_curves()) == 1


def test_pin_keeps_a_run_to_compare_and_the_table_says_what_differs(win, qtbot):
    train_to_end(win, qtbot, 20)
    first = win.session.trainer.history[-1]
    win.runs_view.pin_button.click()
    assert [g[0] for g in loss_view(win).ghost_curves()] == ["#1 pinned"]
    win.training_panel.fields["lr"].setValue(0.2)  # a new run: the ghost stays
    win.train_button.click()
    qtbot.waitUntil(lambda: win.session.finished and not win.running, timeout=TIMEOUT)
    wait_idle(qtbot, win)
    label, epochs, losses, metrics = loss_view(win).ghost_curves()[0]
    assert epochs[-1] == 20 and losses[-1] == first.test_loss and metrics[-1] == first.test_metric
    win.tabs.setCurrentWidget(win.runs_view)  # a hidden view draws when shown
    table = win.runs_view.table
    assert table.item(0, 0).text() == "#1 pinned" and "lr 0.01" in table.item(0, 1).text()
    assert table.item(0, 4).text() != "—" and table.item(1, 0).text() == "now" and table.item(1, 2).text() == "20"
    win.runs_view.clear_button.click()
    assert loss_view(win).ghost_curves() == [] and table.rowCount() == 1
