"""The view protocol: every registered view takes a Setup and Snapshots from a real session,
hidden views catch up when shown, and the distributions view (the proof that a view is one
file) records what the weights did."""
import numpy as np
import pytest
from PySide6 import QtWidgets

from micrograd.config import Config, DataSpec
from micrograd.session import Session
from microgradgui.panels import RunStatus
from microgradgui.views import TABS, DecisionPlot, NetworkView
from microgradgui.views.distributions import COLUMNS, QUANTILES, DistributionsView
from microgradgui.views.style import PlotWidget, curve, light_grid, nice_span
from microgradgui.views.weights import WeightsView

VIEWS = (*TABS, DecisionPlot, NetworkView, RunStatus)


def session(**kw):
    return Session(Config(**{"layers": [5, 3, 1], "activations": ["relu", "tanh", "linear"], **kw}),
                   DataSpec(samples=40))


@pytest.mark.parametrize("kind", VIEWS, ids=lambda k: k.__name__)
def test_every_view_speaks_the_protocol(qtbot, kind):
    view = kind()
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.show()
    assert isinstance(view.title, str) and view.title and view.objectName()
    s = session(evals=2, epochs=3)
    view.reset(s.setup())
    view.draw(s.snapshot())
    new = [s.step() for _ in range(4)]  # across the two runs
    view.draw(s.snapshot(new))
    list(s.run())
    view.draw(s.snapshot())  # finished, with a summary
    view.reset(session(layers=[2, 1], activations=["relu", "linear"]).setup())  # another network


def test_a_hidden_view_takes_every_snapshot_and_draws_when_shown(qtbot):
    tabs = QtWidgets.QTabWidget()
    qtbot.addWidget(tabs)
    shown, hidden = DistributionsView(), DistributionsView()
    tabs.addTab(shown, "a")
    tabs.addTab(hidden, "b")
    tabs.show()
    qtbot.waitExposed(tabs)
    calls = []
    hidden.present = lambda snap: calls.append(snap.epoch)
    s = session(epochs=50)
    for view in (shown, hidden):
        view.reset(s.setup())
    for _ in range(5):
        snap = s.snapshot([s.step()])
        shown.draw(snap)
        hidden.draw(snap)
    assert calls == [] and hidden.columns() == shown.columns() == 5  # taken, not drawn
    tabs.setCurrentWidget(hidden)
    qtbot.waitUntil(lambda: hidden.caught_up)  # a part per turn: its plots, then the draw
    assert calls == [5]  # drawn once, the latest, when shown


def test_distributions_follow_the_weights_and_stay_bounded(qtbot):
    view = DistributionsView()
    qtbot.addWidget(view)
    s = session(epochs=10_000)
    view.reset(s.setup())
    view.draw(s.snapshot())
    snaps = []
    for _ in range(3):
        snap = s.snapshot([s.step()])
        snaps.append(snap)
        view.draw(snap)
    assert view.columns() == 4
    for layer in range(3):
        W, _ = snaps[-1].weights[layer]
        np.testing.assert_allclose(view.quantiles(layer)[:, -1], np.percentile(W, QUANTILES))
        G, _ = snaps[-1].grads[layer]
        np.testing.assert_allclose(view.quantiles(layer, gradients=True)[:, -1], np.percentile(G, QUANTILES))
    q = view.quantiles(0)
    assert (np.diff(q, axis=0) >= 0).all()  # nested bands
    view.draw(snaps[-1])  # the same epoch again replaces its column
    assert view.columns() == 4
    for _ in range(COLUMNS + 10):  # a long run: the columns stay bounded
        view.draw(s.snapshot([s.step()]))
    assert COLUMNS // 2 <= view.columns() <= COLUMNS + 1
    s.restart()  # a reset: the curves start again
    view.draw(s.snapshot())
    assert view.columns() == 1


def test_distributions_ignore_non_finite_weights(qtbot):
    view = DistributionsView()
    qtbot.addWidget(view)
    s = session()
    view.reset(s.setup())
    snap = s.snapshot()
    W, b = snap.weights[0]
    W[0, 0] = np.inf
    view.draw(snap)
    assert np.isfinite(view.quantiles(0)).all()


def test_run_status_reads_the_snapshot(qtbot):
    status = RunStatus()
    qtbot.addWidget(status)
    status.show()
    s = session(evals=2, epochs=3)
    status.reset(s.setup())
    status.draw(s.snapshot())
    assert status.epoch_label.text() == "run 1/2 · epoch 0/3" and status.progress.maximum() == 6
    for _ in range(4):
        e = s.step()
    status.draw(s.snapshot([e]))
    assert status.epoch_label.text().startswith("run 2/2 · epoch 1/3 · loss ")
    assert status.progress.value() == 4
    status.draw(s.snapshot())  # nothing new: the same epoch still shows its loss
    assert "loss" in status.epoch_label.text()


def test_the_distribution_bands_are_opaque_and_look_as_the_blended_ones_did(qtbot):
    """Alpha-blended fills made the nine plots of 8 x 64 a 26 ms paint (20 ms opaque). The
    bands are nested, so each band's opaque colour is its layers' blend over white."""
    from PySide6 import QtGui
    from microgradgui.views.distributions import BAND_ALPHAS
    from microgradgui.views.style import TRAIN_COLOR
    view = DistributionsView()
    qtbot.addWidget(view)
    view.reset(Session(Config(layers=[4, 1], activations=["relu", "linear"]), DataSpec(samples=20)).setup())
    view.build_now()
    image = QtGui.QImage(1, 1, QtGui.QImage.Format.Format_RGB32)
    image.fill(QtGui.QColor("white"))
    painter = QtGui.QPainter(image)
    color = QtGui.QColor(TRAIN_COLOR)
    for band, alpha in zip(view._bands[0], BAND_ALPHAS):
        assert band.brush().color().alpha() == 255
        color.setAlpha(alpha)
        painter.fillRect(0, 0, 1, 1, color)  # the old look: each layer blended over the ones below
        blended = QtGui.QColor(image.pixel(0, 0))
        got = band.brush().color()
        assert max(abs(got.red() - blended.red()), abs(got.green() - blended.green()),
                   abs(got.blue() - blended.blue())) <= 2
    painter.end()


def test_a_plots_axes_are_not_redrawn_when_only_its_curves_change(qtbot):
    """An axis with grid lines covers its plot, so without a cache every curve update
    replayed its whole drawing (the largest cost of a frame at full pace)."""
    w = PlotWidget()
    qtbot.addWidget(w)
    plot = w.addPlot()
    light_grid(plot)
    line = curve(plot, "b")
    line.setData([0.0, 1.0, 2.0], [0.0, 1.0, 0.0])
    plot.setRange(xRange=(0, 2), yRange=(0, 1), padding=0)
    plot.disableAutoRange()
    w.resize(300, 200)
    w.show()
    qtbot.waitExposed(w)
    painted = {"axis": 0, "curve": 0}

    def counting(item, key):
        paint = item.paint
        item.paint = lambda *args: (painted.__setitem__(key, painted[key] + 1), paint(*args))

    counting(plot.getAxis("left"), "axis")
    counting(line.curve, "curve")

    quiet = []

    def settled():  # the first layouts are done: three repaints in a row draw the axis from its cache
        before = painted["axis"]
        w.viewport().repaint()
        quiet.append(painted["axis"] == before)
        return quiet[-3:] == [True] * 3

    qtbot.waitUntil(settled)
    painted.update(axis=0, curve=0)
    line.setData([0.0, 1.0, 2.0], [1.0, 0.0, 1.0])
    qtbot.waitUntil(lambda: painted["curve"] > 0)
    assert painted["axis"] == 0
    plot.setRange(yRange=(0, 2), padding=0)  # a new range is drawn anew
    qtbot.waitUntil(lambda: painted["axis"] > 0)


def test_distribution_axes_move_only_when_the_values_cross_a_nice_step(qtbot):
    """Autoranged, the nine plots of 8 x 64 regenerated their 18 axes on every frame."""
    view = DistributionsView()
    qtbot.addWidget(view)
    view.show()
    s = session(epochs=10_000)
    view.reset(s.setup())
    view.draw(s.snapshot())
    plot = view._plots[0]

    def draw(snap):
        view.draw(snap)
        view.graphics.scene().prepareForPaint()  # any autorange settles, as in a paint

    draw(s.snapshot([s.step()]))
    shown = plot.viewRange()
    low, high = view.quantiles(0)[[0, -1], -1]
    assert shown[1][0] <= low and high <= shown[1][1] and shown[0][1] >= 10
    for _ in range(3):  # small steps: the weights stay inside the nice bounds
        draw(s.snapshot([s.step()]))
        assert plot.viewRange() == shown
    snap = s.snapshot([s.step()])
    W, _ = snap.weights[0]
    W[0, 0] = 3 * high + 1  # a weight far outside: the span grows to hold it
    draw(snap)
    assert plot.viewRange()[1][1] >= W[0, 0]


def test_a_nice_span_holds_the_values_and_zero_in_nice_steps():
    assert nice_span([0.3, 0.9]) == (0.0, 1.0)
    assert nice_span([-0.26, 0.4]) == pytest.approx((-0.3, 0.4))
    assert nice_span([2.0, 1200.0]) == (0.0, 1500.0)
    assert nice_span([-5e-4, -1e-4]) == pytest.approx((-5e-4, 0.0))
    assert nice_span([np.nan, np.inf]) == nice_span([]) == nice_span([0.0]) == (0.0, 1.0)


def test_the_weights_view_keeps_its_plots_when_the_network_changes(qtbot):
    """A new pyqtgraph plot costs ~10 ms (its menus): making every one anew on each change of
    the network was a 100-200 ms turn of the event loop at 8 x 64."""
    view = WeightsView()
    qtbot.addWidget(view)
    view.show()
    for layers, kept in (([5, 3, 1], None), ([4, 4, 3, 1], 3), ([2, 1], 2)):
        s = session(layers=layers, activations=["relu"] * (len(layers) - 1) + ["linear"])
        before = list(view._plots)
        view.reset(s.setup())
        snap = s.snapshot()
        view.draw(snap)
        if kept:
            assert view._plots[:kept] == before[:kept]
        sizes = [2, *layers]
        assert view.image_shapes() == list(zip(sizes[1:], sizes))
        for (W, b), (image, bias) in zip(snap.weights, view.displayed()):
            np.testing.assert_allclose(image, W)
            np.testing.assert_allclose(bias, b)
