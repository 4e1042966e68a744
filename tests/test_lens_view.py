"""The lens view through its real widgets: typing a sample, clicking nodes open and shut, stepping
a pass with the buttons, exporting; the gradient it shows is the trainer's."""
import re

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from micrograd import lens as lenses
from micrograd.config import Config, DataSpec
from micrograd.session import Session
from microgradgui.views import TABS
from microgradgui.views import lens as lens_module
from microgradgui.views.lens import LensView
from test_gui import win  # noqa: F401 - a fixture

LEFT = QtCore.Qt.MouseButton.LeftButton


def session(data=DataSpec("moons", samples=60), **kw):
    return Session(Config(**{"epochs": 100, **kw}), data)


@pytest.fixture
def view(qtbot):
    v = LensView()
    qtbot.addWidget(v)
    v.resize(1010, 304)  # the tab row's size in the window at its default 1400 x 900
    v.show()
    qtbot.waitExposed(v)
    return v


def showing(view, s, epochs=3):
    for _ in range(epochs):
        s.step()
    view.reset(s.setup())
    view.draw(s.snapshot())
    return s


def a_sample_that_teaches(view, s):
    """A training sample whose loss is not 0 (a hinge loss of 0 passes back nothing)."""
    for i in range(len(s.train)):
        view.pick(s.train.X[i], s.train.y[i])
        if view.graph.loss > 0:
            return i
    raise AssertionError("every sample has a loss of 0")


def click(qtbot, view, key):
    qtbot.mouseClick(view.canvas.viewport(), LEFT, pos=view.canvas.node_center(key))


def button(view, name):
    return view.findChild(QtWidgets.QToolButton, name)


def test_it_is_a_tab(view):
    assert LensView in TABS and view.objectName() == "lensView"


@pytest.mark.parametrize("engine", ["compiled", "value"])
def test_the_view_shows_the_trainers_gradient_for_the_sample(view, engine):
    s = showing(view, session(engine=engine, l2=1e-3), epochs=4)
    t = s.trainer
    i = a_sample_that_teaches(view, s)
    loss, grad, _ = t.engine.loss_and_grad(t.theta, t.train.X[i:i + 1], t.Y[i:i + 1])
    assert abs(view.graph.loss - loss) <= 1e-12
    np.testing.assert_allclose(view.graph.theta_grad, grad, rtol=0, atol=1e-12)
    assert "no L1/L2 penalty" in view.status.text() and "no gradient reaches" not in view.status.text()
    # what the boxes show is the same numbers: the loss's box, and a neuron's
    assert view.canvas.boxes[("loss", 3)].lines[1] == f"{loss:.3g}"
    assert f"∇ {view.graph.grad(('n', 1, 0)):.3g}" in view.canvas.boxes[("n", 1, 0)].lines[0]


def test_the_demo_network_fits_the_tab_collapsed(view):
    showing(view, session())
    assert len(view.nodes) == 2 + 16 + 16 + 1 + 4  # one node per neuron, the loss's ops
    canvas = view.canvas
    scene = canvas.scene().sceneRect()
    assert scene.width() <= canvas.viewport().width() and scene.height() <= canvas.viewport().height()
    assert all(box.rect.height() >= canvas.metrics.height() for box in canvas.boxes.values())


def test_clicking_a_neuron_opens_it_and_clicking_it_again_closes_it(view, qtbot):
    showing(view, session())
    click(qtbot, view, ("n", 1, 3))
    assert {("w", 1, 3, 0), ("b", 1, 3), ("dot", 1, 3), ("act", 1, 3)} <= set(view.nodes)
    assert ("n", 1, 3) not in view.nodes and len(view.nodes) == 39 - 1 + 16 + 1 + 2
    w = view.graph.data(("w", 1, 3, 5))
    assert w == s_weights(view)[1][0][3][5]
    click(qtbot, view, ("dot", 1, 3))  # the view scrolled to it
    assert ("n", 1, 3) in view.nodes and len(view.nodes) == 39
    click(qtbot, view, ("x", 0))  # an input has nothing inside
    assert len(view.nodes) == 39
    click(qtbot, view, ("loss", 2))  # the loss closes to one node
    assert ("L",) in view.nodes and len(view.nodes) == 36


def s_weights(view):
    return view._weights[2]


def test_typing_a_sample(view, qtbot):
    s = showing(view, session())
    x1 = view.findChild(QtWidgets.QLineEdit, "lensX1")
    x1.selectAll()
    qtbot.keyClicks(x1, "0.25")
    qtbot.keyClick(x1, QtCore.Qt.Key.Key_Return)
    assert view.graph.x[0] == 0.25 and view.graph.x[1] == s.train.X[0, 1]
    assert view.graph.data(("x", 0)) == 0.25
    target = view.graph.target
    box = view.findChild(QtWidgets.QComboBox, "lensClass")
    box.setFocus()
    qtbot.keyClick(box, QtCore.Qt.Key.Key_Down if box.currentIndex() == 0 else QtCore.Qt.Key.Key_Up)
    assert view.graph.target == -target  # hinge: the other class's target
    index = view.findChild(QtWidgets.QSpinBox, "lensSampleIndex")
    index.setFocus()
    qtbot.keyClick(index, QtCore.Qt.Key.Key_Up)
    assert list(view.graph.x) == list(s.train.X[1]) and x1.text() == f"{s.train.X[1, 0]:.6g}"


def test_a_regression_sample_takes_a_number(view, qtbot):
    s = showing(view, session(DataSpec("sine", samples=40), inputs=1, loss="mse",
                              activations=["tanh", "tanh", "linear"]))
    assert len(view.x_edits) == 1
    target = view.findChild(QtWidgets.QLineEdit, "lensTarget")
    assert target.isVisible() and not view.class_box.isVisible()
    target.selectAll()
    qtbot.keyClicks(target, "-0.5")
    qtbot.keyClick(target, QtCore.Qt.Key.Key_Return)
    assert view.graph.target == -0.5
    view.pick([0.3], 2.0)
    assert target.text() == "2" and view.graph.x == (0.3,)
    view.pick([0.7])  # a point with no sample: the label stays
    assert view.graph.target == 2.0 and view.graph.x == (0.7,)
    assert s.train.X.shape[1] == 1


def test_stepping_forward_then_backward(view, qtbot):
    s = showing(view, session())
    a_sample_that_teaches(view, s)
    button(view, "lensRestart").click()
    assert not any(view.revealed(k)[0] for k in view.nodes if k[0] != "x")
    assert not any(view.revealed(k)[1] for k in view.nodes)
    forward = button(view, "lensForward")
    forward.click()
    key, backward = view.current()
    assert key == ("n", 0, 0) and not backward and view.revealed(key) == (True, False)
    assert view.highlighted() == [(("x", 0), key), (("x", 1), key)]  # what carried its data in
    assert "step 1/" in view.status.text() and "forward" in view.status.text()
    assert view.canvas.boxes[key].current and view.canvas.carried.path().elementCount() == 4
    assert view.canvas.boxes[("n", 0, 1)].lines[0].startswith("relu  ·  ∇ ·")
    clicks = 1
    while forward.isEnabled():
        forward.click()
        clicks += 1
    assert clicks == 16 + 16 + 1 + 4  # every op drawn, in turn
    assert view.current() == (("loss", 3), False) and all(view.revealed(k)[0] for k in view.nodes)
    back = button(view, "lensBackward")
    back.click()
    assert view.current() == (("loss", 3), True)
    assert view.canvas.boxes[("loss", 3)].lines[2] == "∇ 1"
    back.click()
    assert view.current() == (("loss", 2), True)
    assert view.highlighted() == [(("loss", 2), ("loss", 3))]  # what carried its gradient back
    while view.current() is not None:
        back.click()
    assert all(view.revealed(k) == (True, True) for k in view.nodes)
    assert not button(view, "lensShowAll").isEnabled()


def test_play_animates_the_whole_pass(view, qtbot):
    showing(view, session(layers=[3, 1], activations=["relu", "linear"]))
    view.player.setInterval(1)
    play = button(view, "lensPlay")
    play.click()
    assert view.play_action.isChecked() and view.play_action.text() == "Pause"
    qtbot.waitUntil(lambda: not view.play_action.isChecked())
    assert view.position == view.steps.end and view.current() is None
    assert all(view.revealed(k) == (True, True) for k in view.nodes)


def test_a_pass_keeps_its_weights_while_training_moves_on(view, qtbot):
    s = showing(view, session())
    button(view, "lensForward").click()
    first = view.epoch
    view.draw(s.snapshot([s.step()]))
    assert view.epoch == first and "held for the pass" in view.status.text()
    button(view, "lensShowAll").click()
    assert view.epoch == first + 1


def test_new_weights_build_a_few_times_a_second(view, qtbot, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(lens_module.time, "monotonic", lambda: now[0])
    s = showing(view, session())
    built = []
    graph_parts = view.lens.graph_parts
    view.lens.graph_parts = lambda *a: built.append(1) or graph_parts(*a)
    view.draw(s.snapshot([s.step()]))  # a moment later: not yet
    assert built == [] and view.later.isActive()
    view.draw(s.snapshot([s.step()]))
    qtbot.waitUntil(lambda: view.epoch == s.trainer.epoch)  # the last of them, when the time comes
    assert built == [1]
    now[0] += 1.0
    view.draw(s.snapshot([s.step()]))  # later on: at once
    assert built == [1, 1] and view.epoch == s.trainer.epoch


@pytest.mark.parametrize("start", ["lensRestart", "lensForward", "lensBackward", "lensPlay"])
def test_a_pass_starts_on_the_newest_weights(view, qtbot, monkeypatch, start):
    monkeypatch.setattr(lens_module.time, "monotonic", lambda: 1000.0)
    s = showing(view, session())
    view.draw(s.snapshot([s.step()]))  # too soon after the last: for later
    assert view.epoch == s.trainer.epoch - 1 and view.later.isActive()
    button(view, start).click()
    assert view.epoch == s.trainer.epoch and not view.later.isActive()
    view.play(False)


def test_a_hidden_lens_builds_nothing_and_when_shown_builds_a_part_per_turn(qtbot, monkeypatch):
    tabs = QtWidgets.QTabWidget()
    qtbot.addWidget(tabs)
    other, view = QtWidgets.QWidget(), LensView()
    tabs.addTab(other, "other")
    tabs.addTab(view, "lens")
    tabs.show()
    qtbot.waitExposed(tabs)
    built = []
    graph_parts = lenses.Lens.graph_parts
    monkeypatch.setattr(lenses.Lens, "graph_parts", lambda *a: built.append(1) or graph_parts(*a))
    s = session()
    view.reset(s.setup())
    assert view.lens is None  # not even laid out: it is put off until shown
    for _ in range(5):
        view.draw(s.snapshot([s.step()]))
    assert built == [] and view.graph is None
    tabs.setCurrentWidget(view)
    # Shown, it builds and draws a part per turn of the event loop (in the show's one turn,
    # the lens of 8 x 64 took 120-300 ms), and changes only once its parts are done.
    assert view.lens is None and not view.caught_up
    qtbot.waitUntil(lambda: view.caught_up)
    assert built == [1] and view.epoch == 5 and view.lens is not None


def test_copy_as_dot_and_save_as_svg_and_png(view, qtbot, tmp_path, monkeypatch):
    showing(view, session())
    view.dot_action.trigger()
    text = QtWidgets.QApplication.clipboard().text()
    assert text == view.dot_text() and text.startswith("digraph G {")
    assert len(re.findall(r"^  n\d+ \[label=", text, re.M)) == len(view.nodes) == 39
    for kind, action in (("svg", view.svg_action), ("png", view.png_action)):
        path = tmp_path / f"graph.{kind}"
        monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, p=path: (str(p)[:-4], ""))
        action.trigger()  # the extension is added when the name has none
        assert path.exists()
    svg = (tmp_path / "graph.svg").read_text()
    assert "<svg" in svg and "loss (sum)" in svg
    image = QtGui.QImage(str(tmp_path / "graph.png"))
    scene = view.canvas.scene().sceneRect()
    assert image.width() == round(2 * scene.width()) and image.height() == round(2 * scene.height())
    assert len({image.pixel(x, image.height() // 2) for x in range(0, image.width(), 7)}) > 3  # not blank


def test_another_network_and_data(view):
    first = showing(view, session())
    view.toggle(("n", 1, 3))
    first.restart()
    view.reset(first.setup())  # the same network again: what was open stays open
    view.draw(first.snapshot())
    assert ("dot", 1, 3) in view.nodes and view.epoch == 0
    s = showing(view, session(DataSpec("plane", samples=40), loss="mse", layers=[2, 1],
                              activations=["tanh", "linear"]))
    assert view.expanded == view.lens.every_group()  # 20 nodes: drawn whole
    assert len(view.nodes) == 2 + 2 * 5 + 4 + 3
    assert list(view.graph.x) == list(s.train.X[0])  # other data: its first sample
    s.restart()
    view.reset(s.setup())  # the same data: the sample stays
    view.pick([0.4, 0.5], 0.3)
    view.reset(s.setup())
    view.draw(s.snapshot())
    assert view.graph.x == (0.4, 0.5)


def test_in_the_window_the_lens_follows_training(qtbot, tmp_path):
    from microgradgui.window import MainWindow
    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    view = next(v for v in win.tab_views if isinstance(v, LensView))
    win.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: win.pump.idle)  # the session's first draw, in steps
    assert view.epoch == 0 and len(view.nodes) == 39  # the default network, drawn as it starts
    win.step_button.click()
    qtbot.waitUntil(lambda: not win.running and win.pump.idle and view.epoch == 1)
    t = win.session.trainer
    loss, grad, _ = t.engine.loss_and_grad(t.theta, t.train.X[:1], t.Y[:1])
    np.testing.assert_allclose(view.graph.theta_grad, grad, rtol=0, atol=1e-12)
    win.close()


def test_a_pass_stepped_through_then_a_smaller_network_raises_nothing(win, qtbot):
    """The canvas kept the pass it showed (its carried edges, by node) and showed it again on
    the new network's nodes: a KeyError on every later reset, resize and frame."""
    win.tabs.setCurrentWidget(win.lens_view)
    forward = win.findChild(QtWidgets.QToolButton, "lensForward")
    for _ in range(3):
        forward.click()
    win.data_panel.feature_toggles["x2"].click()  # one input fewer: the node x2 is gone
    assert win.session.config.inputs == 1
    win.lens_view.canvas.resize(win.lens_view.canvas.width() + 10, win.lens_view.canvas.height())
