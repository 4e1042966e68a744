"""Points placed by hand on the decision plot: real mouse events on the real widgets, the
result checked in the session's data and the model file (and the Qt-free rules beneath)."""
from __future__ import annotations

import numpy as np
import pytest

from PySide6 import QtCore, QtGui, QtTest, QtWidgets

from micrograd import modelfile
from micrograd.config import DataSpec
from micrograd.data import (CUSTOM, add_point, custom_dataset, load_csv, make_dataset, points_of, remove_points,
                            save_csv)
from micrograd.session import CONTINUE, RESTART, Session
from test_gui import TIMEOUT, epoch_of, small, step, wait_idle, win  # noqa: F401 - win is a fixture

Button, Mod = QtCore.Qt.MouseButton, QtCore.Qt.KeyboardModifier



def at(plot, x, y):
    """Where the data point (x, y) of the decision plot is, in its view's widget coordinates."""
    scene = plot.plot.vb.mapViewToScene(QtCore.QPointF(x, y))
    return plot.graphics.mapFromScene(scene)


def click(plot, x, y, button=Button.LeftButton, modifiers=Mod.NoModifier):
    """A real click, the mouse moved there first (as a hand does)."""
    QtTest.QTest.mouseMove(plot.graphics.viewport(), at(plot, x, y))
    QtTest.QTest.mouseClick(plot.graphics.viewport(), button, modifiers, at(plot, x, y))


def ctrl_drag(plot, a, b, let_go=None):
    """A real Ctrl-drag on the plot from data point a to b, Ctrl let go at the share `let_go`
    of the way. (QTest.mouseMove sends no modifiers; a hand holding Ctrl sends it on every move.)"""
    port, start, end = plot.graphics.viewport(), at(plot, *a), at(plot, *b)
    QtTest.QTest.mousePress(port, Button.LeftButton, Mod.ControlModifier, start)
    for t in np.linspace(0.1, 1.0, 6):
        held = Mod.ControlModifier if let_go is None or t < let_go else Mod.NoModifier
        pos = QtCore.QPointF(start + (end - start) * t)
        QtWidgets.QApplication.sendEvent(port, QtGui.QMouseEvent(
            QtCore.QEvent.Type.MouseMove, pos, port.mapToGlobal(pos), Button.NoButton, Button.LeftButton, held))
    held = Mod.ControlModifier if let_go is None else Mod.NoModifier
    QtTest.QTest.mouseRelease(port, Button.LeftButton, held, end)


def empty_spot(plot, session):
    """A point of the plane with no data point near it: the centre of the biggest gap on a grid."""
    X = np.vstack([session.train.X, session.test.X]) if session.test is not None else session.train.X
    x0, x1, y0, y1 = plot._plane
    grid = np.array([(x, y) for x in np.linspace(x0, x1, 15)[2:-2] for y in np.linspace(y0, y1, 15)[2:-2]])
    gaps = np.min(np.hypot(*(grid[:, None, :] - X[None, :, :]).transpose(2, 0, 1)), axis=1)
    return tuple(grid[int(np.argmax(gaps))])


# --- the rules, without Qt ----------------------------------------------------------------------

def test_a_custom_set_keeps_each_point_on_its_side_of_the_split():
    points = []
    for i in range(10):
        points = add_point(points, (i, -i), i % 2, 0.2)
    ds, train, test = custom_dataset(points, "classification")
    assert len(ds) == 10 and (len(train), len(test)) == (8, 2)  # the share of test points kept
    assert points_of(train, test) == sorted(points, key=lambda r: r[-1])  # and each point's side
    more = add_point(points, (5.5, 0.5), 1, 0.2)
    assert more[:10] == points  # adding one does not reshuffle the others
    assert remove_points(more, (-0.5, -3.5), (3.5, 0.5)) == points[4:] + more[10:]


def test_a_session_trains_on_points_placed_by_hand_and_goes_on_when_they_change():
    s = Session()
    for _ in range(3):
        s.step()
    theta = s.trainer.theta.copy()
    spec = s.custom_data()  # the moons as a custom set: the same points, each on its side
    assert s.use_data(spec) == CONTINUE and s.trainer.epoch == 3
    np.testing.assert_array_equal(s.train.X, Session().train.X)
    np.testing.assert_array_equal(s.trainer.theta, theta)
    more = s.custom_data(add_point(spec.points, (0.3, 0.3), 1, spec.test_ratio))
    assert s.use_data(more) == CONTINUE and len(s.dataset) == 101
    s.step()
    assert s.trainer.epoch == 4
    # no points: nothing to step on, said plainly; the run is still there to go on later
    assert s.use_data(s.custom_data([])) == CONTINUE and not s.can_step
    with pytest.raises(ValueError, match="no training points"):
        s.trainer.step()
    assert s.trainer.measure() == (None, None, None, None)
    # a regression set by hand is another task: the session restarts with what that task takes
    reg = DataSpec(dataset=CUSTOM, task="regression", inputs=1, points=[[0.0, 1.0, 0.0], [1.0, 2.0, 0.0]])
    assert s.use_data(reg) == RESTART and s.config.loss == "mse" and s.config.inputs == 1


def test_a_custom_set_is_saved_in_the_model_file_and_comes_back(tmp_path):
    s = Session()
    s.use_data(s.custom_data(add_point(s.custom_data().points, (9.0, 9.0), 0, 0.2)))
    s.step()
    path = s.save(str(tmp_path / "m.json"))
    back, note = Session.from_model(modelfile.load(path))
    assert note == "" and back.data == s.data and back.trainer.epoch == 1
    np.testing.assert_array_equal(back.train.X, s.train.X)
    np.testing.assert_array_equal(back.test.y, s.test.y)


def test_custom_points_are_checked_with_a_message_naming_the_field():
    with pytest.raises(ValueError, match=r"data\.points: a class must be 0 or 1"):
        DataSpec(dataset=CUSTOM, task="classification", points=[[0.0, 0.0, 2.0, 0.0]]).validate()
    with pytest.raises(ValueError, match=r"data\.points: rows must be \[x1, x2, y, test\]"):
        DataSpec(dataset=CUSTOM, task="classification", points=[[0.0, 0.0, 1.0]]).validate()
    with pytest.raises(ValueError, match=r"data\.points"):
        DataSpec(dataset=CUSTOM, task="regression", points=[[0.0, float("nan"), 1.0, 0.0]]).validate()
    with pytest.raises(ValueError, match=r"data\.task"):
        DataSpec(dataset=CUSTOM, task="", points=[]).validate()


def test_save_csv_writes_what_load_csv_reads_back(tmp_path):
    for ds in (make_dataset("moons"), make_dataset("bumps", noise=0.3)):
        path = tmp_path / f"{ds.task}.csv"
        save_csv(path, ds)
        back = load_csv(path)
        assert back.task == ds.task and back.features == ds.features
        np.testing.assert_array_equal(back.X, ds.X)  # full precision
        np.testing.assert_array_equal(back.y, ds.y)


def test_the_loss_after_an_edit_goes_through_the_input_features():
    """Trainer.measure fed the data's raw x1, x2 to a network that takes its features."""
    from micrograd.config import Config
    s = Session(Config(inputs=3, feature_map=["x1", "x2", "x1x2"], layers=[4, 1],
                       activations=["tanh", "linear"]))
    train_loss, _, test_loss, _ = s.trainer.measure()
    assert train_loss == pytest.approx(s.step().train_loss)  # at the same weights, the same loss
    assert test_loss is not None


# --- the window ---------------------------------------------------------------------------------

def test_clicks_place_points_of_each_class_and_training_goes_on(win, qtbot):
    small(win, hidden=3)
    step(win, qtbot)
    plot = win.decision_plot
    n = len(win.session.dataset)
    spot = empty_spot(plot, win.session)
    click(plot, *spot)  # left: class 1
    assert win.session.data.dataset == CUSTOM and len(win.session.dataset) == n + 1
    assert win.data_panel.dataset.currentText() == CUSTOM
    X, y = win.session.dataset.X, win.session.dataset.y
    i = int(np.argmin(np.hypot(*(X - spot).T)))
    assert np.allclose(X[i], spot, atol=(plot._plane[1] - plot._plane[0]) / 100) and y[i] == 1
    click(plot, spot[0] + 0.05, spot[1] + 0.3, Button.RightButton)  # right: class 0
    click(plot, spot[0] - 0.05, spot[1] - 0.3, Button.LeftButton, Mod.ShiftModifier)  # shift: class 0
    assert len(win.session.dataset) == n + 3 and win.session.dataset.y[-3:].tolist() == [1, 0, 0]
    # the run went on (same epoch count, same weights), and the plot shows the new points
    assert epoch_of(win) == 1
    shown = len(plot.train_points.data) + len(plot.test_points.data)
    assert shown == n + 3
    step(win, qtbot)
    assert epoch_of(win) == 2 and len(win.session.train) + len(win.session.test) == n + 3


def test_a_point_placed_past_the_data_grows_the_diagrams_thumbnails_with_the_plot(win, qtbot):
    """The diagram's neuron thumbnails show the model over the decision plot's plane: a point
    placed near its corner grows both, or the thumbnails leave the new point out."""
    small(win, hidden=3)
    step(win, qtbot)
    plot, diagram = win.decision_plot, win.network_view
    inputs = diagram.thumbnail_image(0)  # x1 and x2 over the plane
    assert inputs is not None
    x0, x1, y0, y1 = plot._plane
    click(plot, x1 - 0.02 * (x1 - x0), y1 - 0.02 * (y1 - y0))  # near the top right corner
    wait_idle(qtbot, win)
    grown = plot._plane
    assert grown[1] > x1 and grown[3] > y1
    (lo, hi), (xs, ys, _) = diagram._bounds, diagram._plane
    np.testing.assert_allclose([lo[0], hi[0], lo[1], hi[1]], grown)
    np.testing.assert_allclose([xs[0], xs[-1], ys[0], ys[-1]], grown)
    assert diagram.thumbnail_image(0) != inputs  # drawn again, over the grown plane


def test_a_click_on_a_point_picks_it_rather_than_placing_one(win, qtbot):
    plot = win.decision_plot
    x = win.session.train.X[0]
    with qtbot.waitSignal(plot.pointPicked, timeout=TIMEOUT) as picked:
        click(plot, *x)
    np.testing.assert_array_equal(picked.args[0], x)
    assert picked.args[1] == win.session.train.y[0]
    assert len(win.session.dataset) == 100 and win.session.data.dataset == "moons"
    # the Lens shows the graph of that sample's loss, and its numbers are the engine's
    lens = win.lens_view
    assert win.tabs.currentWidget() is lens
    qtbot.waitUntil(lambda: lens.graph is not None, timeout=TIMEOUT)
    t = win.session.trainer
    loss, grad, _ = t.engine.loss_and_grad(t.theta, t.X[:1], t.Y[:1])
    assert lens.graph.loss == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(lens.graph.theta_grad, grad, rtol=1e-9, atol=1e-15)


def test_ctrl_drag_removes_points_clear_removes_all_and_undo_brings_them_back(win, qtbot):
    plot = win.decision_plot
    before = win.session.data
    X = win.session.dataset.X
    box = (-0.2, -0.2), (0.6, 0.4)
    inside = int(np.sum((X[:, 0] >= -0.2) & (X[:, 0] <= 0.6) & (X[:, 1] >= -0.2) & (X[:, 1] <= 0.4)))
    assert inside > 0
    ctrl_drag(plot, *box)
    ds = win.session.dataset
    assert len(ds) == 100 - inside
    assert not np.any((ds.X[:, 0] >= -0.17) & (ds.X[:, 0] <= 0.57) & (ds.X[:, 1] >= -0.17) & (ds.X[:, 1] <= 0.37))
    win.findChild(QtCore.QObject, "clearDataButton").click()
    assert len(win.session.dataset) == 0 and not win.session.can_step
    assert not win.step_action.isEnabled()
    win.train_button.click()  # nothing to train on: said so, no worker
    assert not win.running and "No training points" in win.status.currentMessage()
    win.undo_action.trigger()
    assert len(win.session.dataset) == 100 - inside
    win.undo_action.trigger()
    assert win.session.data == before  # back to the moons themselves
    win.redo_action.trigger()
    win.redo_action.trigger()
    assert len(win.session.dataset) == 0


def test_a_ctrl_drag_stays_an_erase_when_ctrl_is_let_go_midway(win, qtbot):
    """It neither pans the plot under the mouse nor ends as a pan (before: the moves without
    Ctrl panned, and the release erased a box the pan had shifted, or nothing)."""
    plot, X = win.decision_plot, win.session.dataset.X
    shown = plot.plot.vb.viewRange()
    inside = int(np.sum((X[:, 0] >= -0.2) & (X[:, 0] <= 0.6) & (X[:, 1] >= -0.2) & (X[:, 1] <= 0.4)))
    ctrl_drag(plot, (-0.2, -0.2), (0.6, 0.4), let_go=0.5)
    assert plot.plot.vb.viewRange() == shown
    assert len(win.session.dataset) == 100 - inside


def test_a_plain_drag_pans_and_removes_nothing_even_if_ctrl_comes_midway(win, qtbot):
    plot = win.decision_plot
    x0 = plot.plot.vb.viewRange()[0][0]
    port, start, end = plot.graphics.viewport(), at(plot, -0.2, -0.2), at(plot, 0.6, 0.4)
    QtTest.QTest.mousePress(port, Button.LeftButton, Mod.NoModifier, start)
    QtTest.QTest.mouseMove(port, (start + end) / 2)
    QtTest.QTest.mouseRelease(port, Button.LeftButton, Mod.ControlModifier, end)
    assert len(win.session.dataset) == 100
    assert plot.plot.vb.viewRange()[0][0] < x0  # dragged right: the plane moved with it


def test_regression_points_take_their_target_from_the_box_or_the_click(win, qtbot):
    plot = win.decision_plot
    win.data_panel.dataset.setCurrentText("plane")
    wait_idle(qtbot, win)
    assert plot.target_box.isVisible()
    plot.target_box.setValue(2.5)
    spot = empty_spot(plot, win.session)
    click(plot, *spot)
    assert win.session.data.dataset == CUSTOM and win.session.dataset.task == "regression"
    assert 2.5 in win.session.dataset.y.tolist()
    win.data_panel.dataset.setCurrentText("sine")  # one input: the click's height is the target
    wait_idle(qtbot, win)
    assert not plot.target_box.isVisible()
    x0, x1, y0, y1 = plot._plane
    click(plot, x0 + 0.97 * (x1 - x0), y0 + 0.9 * (y1 - y0))
    ds = win.session.dataset
    i = int(np.argmax(ds.X[:, 0]))
    assert ds.X[i, 0] == pytest.approx(x0 + 0.97 * (x1 - x0), abs=(x1 - x0) / 100)
    assert ds.y[i] == pytest.approx(y0 + 0.9 * (y1 - y0), abs=(y1 - y0) / 100)


def test_a_click_while_training_places_the_point_and_training_goes_on(win, qtbot):
    small(win, epochs=100_000, hidden=3)
    win.findChild(QtCore.QObject, "paceControl").setCurrentText("max")
    win.train_button.click()
    qtbot.waitUntil(lambda: epoch_of(win) >= 2, timeout=TIMEOUT)
    click(win.decision_plot, *empty_spot(win.decision_plot, win.session))
    assert len(win.session.dataset) == 101 and win.running
    reached = epoch_of(win)
    qtbot.waitUntil(lambda: epoch_of(win) > reached, timeout=TIMEOUT)  # on the new points
    win.pause()
    wait_idle(qtbot, win)


def test_custom_points_survive_export_and_import_and_export_as_csv(win, qtbot, tmp_path):
    plot = win.decision_plot
    click(plot, *empty_spot(plot, win.session), Button.RightButton)
    step(win, qtbot)
    model, table = str(tmp_path / "mine.json"), str(tmp_path / "mine.csv")
    win.dialogs.save_paths += [model, table]
    win.export_action.trigger()
    win.export_csv_action.trigger()
    saved = modelfile.load(model)
    assert saved.data["dataset"] == CUSTOM and len(saved.data["points"]) == 101
    back = load_csv(table)
    assert len(back) == 101 and back.task == "classification"
    win.data_panel.dataset.setCurrentText("xor")
    win.dialogs.open_paths.append(model)
    win.import_action.trigger()
    assert win.session.data.dataset == CUSTOM and len(win.session.dataset) == 101
    assert win.data_panel.dataset.currentText() == CUSTOM and not win.data_panel.samples.isEnabled()


def test_choosing_custom_in_the_data_panel_makes_the_points_there_editable(win, qtbot):
    step(win, qtbot)
    X = win.session.dataset.X.copy()
    win.data_panel.dataset.setCurrentText(CUSTOM)
    assert win.session.data.dataset == CUSTOM and epoch_of(win) == 1  # the run goes on
    np.testing.assert_array_equal(np.sort(win.session.dataset.X, axis=0), np.sort(X, axis=0))


def test_a_picked_point_goes_through_the_input_features_to_the_lens(win, qtbot):
    win.data_panel.feature_toggles["x1x2"].click()  # the network takes x1, x2, x1·x2
    assert win.session.config.feature_map == ["x1", "x2", "x1x2"]
    plot, lens = win.decision_plot, win.lens_view
    i = 3
    with qtbot.waitSignal(plot.pointPicked, timeout=TIMEOUT):
        click(plot, *win.session.train.X[i])
    qtbot.waitUntil(lambda: lens.graph is not None and lens._x == win.session.train.X[i].tolist(), timeout=TIMEOUT)
    t = win.session.trainer
    loss, grad, _ = t.engine.loss_and_grad(t.theta, t.X[i:i + 1], t.Y[i:i + 1])
    assert lens.graph.loss == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(lens.graph.theta_grad, grad, rtol=1e-9, atol=1e-15)
