"""The live plots and the network diagram, driven with real engine output (headless)."""
import math
import types

import numpy as np
import pytest


from PySide6 import QtCore, QtGui, QtWidgets

from micrograd.data import Dataset, make_dataset, split
from micrograd.predict import predict
from micrograd.config import Config, DataSpec
from micrograd.session import Session
from micrograd.train import Epoch, Trainer
from microgradgui.views.decision import DecisionPlot, contour_segments
from microgradgui.views.evals import EvalsView
from microgradgui.views.loss import LossView as LossPlot
from microgradgui.views.network import HIDDEN, LINKS_SHOWN, NetworkView
from microgradgui.views.style import class_colors, nice_ceil, save_png
from microgradgui.views.weights import WeightsView as WeightHeatmaps


def ep(epoch, loss, test=None, acc=0.5, run=0, stop=None):
    return Epoch(run, epoch, loss, test, acc, None if test is None else acc, 0.1, 0.01 * epoch, stop)


@pytest.fixture(scope="module")
def moons():
    return split(make_dataset("moons", samples=60, noise=0.1), 0.25)


@pytest.fixture(scope="module")
def trained(moons):
    tr, te = moons
    cfg = Config(layers=[8, 8, 1], activations=["relu", "relu", "linear"], epochs=3)
    t = Trainer(cfg, tr, te)
    epochs = [t.step() for _ in range(3)]
    return cfg, epochs, types.SimpleNamespace(weights=t.weights(), grads=t.grads())


def make(qtbot, cls, w=500, h=350):
    widget = cls()
    qtbot.addWidget(widget)
    widget.resize(w, h)
    widget.show()
    return widget


# --- LossPlot -------------------------------------------------------------------------------

def test_loss_plot_grows_one_point_per_epoch(qtbot, trained):
    _, epochs, _ = trained
    lp = make(qtbot, LossPlot)
    assert lp.objectName() == "lossPlot"
    lp.add(epochs[:2])
    assert lp.curve_length() == 2
    lp.add(epochs[2:])
    assert lp.curve_length() == 3
    x, y = lp.train_loss.getData()
    assert list(x) == [1, 2, 3]
    assert np.allclose(y, [e.train_loss for e in epochs])
    lp.clear()
    assert lp.curve_length() == 0


def test_loss_plot_survives_nan_inf_and_log(qtbot):
    lp = make(qtbot, LossPlot)
    lp.add([ep(1, 1.0, 1.2), ep(2, float("nan"), float("inf")), ep(3, 0.0, 0.5), ep(4, 0.25, None)])
    assert lp.curve_length() == 4
    y = lp.train_loss.yData
    assert y[0] == 1.0 and math.isnan(y[1]) and y[2] == 0.0   # non-finite -> gap, not a crash
    lp.set_log(True)
    y = lp.train_loss.yData
    assert np.isnan(y[1]) and np.isnan(y[2]) and y[3] == 0.25  # zero can't go on a log axis
    assert lp.loss_plot.getAxis("left").logMode
    lp.add([ep(5, float("-inf"))])
    assert lp.curve_length() == 5
    vr = lp.loss_plot.viewRange()[1]
    assert all(math.isfinite(v) for v in vr)
    assert not lp.grab().isNull()
    lp.set_log(False)
    assert not lp.loss_plot.getAxis("left").logMode


def test_loss_plot_restarts_on_new_run_or_reset(qtbot):
    lp = make(qtbot, LossPlot)
    lp.add([ep(1, 1.0), ep(2, 0.9)])
    lp.add([ep(1, 2.0, run=1)])  # the next run of an evals session
    assert lp.curve_length() == 1
    lp.add([ep(2, 1.5, run=1), ep(1, 3.0, run=1)])  # a reset inside one batch
    assert lp.curve_length() == 1 and lp.train_loss.yData[0] == 3.0


def test_metric_name_sets_axis(qtbot):
    lp = make(qtbot, LossPlot)
    lp.set_metric_name("R²")
    assert "R²" in lp.metric_plot.getAxis("left").labelText
    lp.add([ep(1, 1.0, acc=-50.0)])
    assert lp.train_metric.yData[0] == -1.0  # hugely negative R² is clipped for display


# --- WeightHeatmaps -------------------------------------------------------------------------

def test_heatmap_shapes_follow_architecture(qtbot, trained):
    cfg, _, snap = trained
    hm = make(qtbot, WeightHeatmaps)
    assert hm.objectName() == "weightHeatmap"
    hm.set_architecture(2, [8, 8, 1])
    assert hm.image_shapes() == [(8, 2), (8, 8), (1, 8)]
    hm.show_weights(snap.weights, snap.grads)
    W0, b0 = hm.displayed()[0]
    assert np.allclose(W0, snap.weights[0][0]) and np.allclose(b0, snap.weights[0][1])
    items_before = list(hm._w_items)
    hm.set_architecture(2, [8, 8, 1])  # same shapes: items kept
    assert hm._w_items == items_before
    hm.set_architecture(3, [5, 1])
    assert hm.image_shapes() == [(5, 3), (1, 5)]
    assert len(hm._plots) == 2


def test_heatmap_gradient_toggle_and_levels(qtbot, trained):
    _, _, snap = trained
    hm = make(qtbot, WeightHeatmaps)
    hm.set_architecture(2, [8, 8, 1])
    hm.show_weights(snap.weights, snap.grads)
    lo, hi = hm.levels()
    peak = max(max(np.abs(W).max(), np.abs(b).max()) for W, b in snap.weights)
    assert lo == -hi and hi >= peak and hi == nice_ceil(hi)
    # smaller weights next frame: the levels stay put, so colours keep their meaning
    hm.show_weights([(W * 0.5, b * 0.5) for W, b in snap.weights], snap.grads)
    assert hm.levels() == (lo, hi)
    # bigger weights: the scale grows, still symmetric
    hm.show_weights([(W * 10, b * 10) for W, b in snap.weights], snap.grads)
    lo2, hi2 = hm.levels()
    assert lo2 == -hi2 and hi2 >= 10 * peak > hi
    hm.set_show_gradients(True)
    W0, b0 = hm.displayed()[0]
    assert np.allclose(W0, snap.grads[0][0]) and np.allclose(b0, snap.grads[0][1])
    glo, ghi = hm.levels()
    gpeak = max(max(np.abs(W).max(), np.abs(b).max()) for W, b in snap.grads)
    assert glo == -ghi and ghi >= gpeak and ghi != hi2
    assert hm.colorbar.getAxis("left").labelText == "gradient"
    hm.set_show_gradients(False)
    assert np.allclose(hm.displayed()[0][0], 10 * snap.weights[0][0])


def test_heatmap_without_grads_and_nonfinite(qtbot):
    hm = make(qtbot, WeightHeatmaps)
    hm.set_architecture(1, [2, 1])
    hm.set_show_gradients(True)
    hm.show_weights([(np.ones((2, 1)), np.zeros(2)), (np.ones((1, 2)), np.zeros(1))], None)
    assert np.all(hm.displayed()[0][0] == 0)  # no gradients yet: zeros, not a crash
    hm.set_show_gradients(False)
    hm.show_weights([(np.array([[np.nan], [np.inf]]), np.zeros(2)), (np.ones((1, 2)), np.zeros(1))])
    assert np.all(np.isfinite(hm.displayed()[0][0]))


# --- DecisionPlot ---------------------------------------------------------------------------

def test_decision_grid_matches_predict(qtbot, moons, trained):
    tr, te = moons
    cfg, _, snap = trained
    dp = make(qtbot, DecisionPlot)
    assert dp.objectName() == "decisionPlot"
    assert dp.grid_values() is None
    dp.set_data(tr, te)
    dp.show_model(snap.weights, cfg.activations, 0.0)
    Z = dp.grid_values()
    xs, ys = dp.grid_axes()
    assert Z.shape == (80, 80)
    allX = np.vstack([tr.X, te.X])
    assert xs[0] < allX[:, 0].min() and xs[-1] > allX[:, 0].max()
    assert ys[0] < allX[:, 1].min() and ys[-1] > allX[:, 1].max()
    for i, j in [(0, 0), (5, 70), (40, 41), (79, 79)]:
        want = predict(snap.weights, cfg.activations, [[xs[j], ys[i]]])[0, 0]
        assert Z[i, j] == pytest.approx(want)
    assert np.allclose(dp.image.image, Z - 0.0)
    # the threshold contour lies where the surface crosses it
    sx, sy = dp.contour.xData, dp.contour.yData
    if (Z > 0).any() and (Z <= 0).any():
        assert len(sx) > 0 and len(sx) % 2 == 0
        on = predict(snap.weights, cfg.activations, np.column_stack([sx, sy]))[:, 0]
        assert np.abs(on).max() < 0.5 * np.abs(Z).max()
    assert dp.train_points.data.size == len(tr) and dp.test_points.data.size == len(te)
    dp.clear_model()
    assert dp.grid_values() is None


def test_contour_segments_of_a_circle():
    xs = ys = np.linspace(-1, 1, 41)
    gx, gy = np.meshgrid(xs, ys)
    Z = gx ** 2 + gy ** 2
    sx, sy = contour_segments(Z, xs, ys, 0.25)
    r = np.hypot(sx, sy)
    assert len(sx) > 40 and np.allclose(r, 0.5, atol=0.01)


def test_decision_regression_1d_and_2d(qtbot):
    dp = make(qtbot, DecisionPlot)
    sine = make_dataset("sine", samples=40)
    w = [(np.array([[1.0]]), np.array([0.0])), (np.array([[2.0]]), np.array([0.5]))]
    dp.set_data(sine, None)
    dp.show_model(w, ["tanh", "linear"], 0.0)
    xs, _ = dp.grid_axes()
    g = dp.grid_values()
    assert g.ndim == 1 and len(g) == len(xs)
    assert np.allclose(g, 2 * np.tanh(xs) + 0.5)
    assert np.allclose(dp.curve.yData, g)
    plane = make_dataset("plane", samples=40)
    w2 = [(np.array([[0.6, -0.4]]), np.array([0.5]))]
    dp.set_data(plane, None)
    dp.show_model(w2, ["linear"], 0.0)
    xs, ys = dp.grid_axes()
    assert dp.grid_values()[3, 7] == pytest.approx(0.6 * xs[7] - 0.4 * ys[3] + 0.5)
    assert dp.stack.currentWidget() is not dp.message


def test_decision_three_features_shows_message(qtbot):
    dp = make(qtbot, DecisionPlot)
    X = np.random.default_rng(0).normal(size=(20, 3))
    ds = Dataset(X, (X[:, 0] > 0).astype(float), "classification", ["a", "b", "c"], "y", {}, ["0", "1"])
    dp.set_data(ds, None)
    assert dp.stack.currentWidget() is dp.message
    assert "needs 1 or 2 inputs" in dp.message.text() and "3 features" in dp.message.text()
    dp.show_model([(np.ones((1, 3)), np.zeros(1))], ["linear"], 0.0)
    assert dp.grid_values() is None
    dp.set_data(make_dataset("moons", samples=20), None)  # back to a plot
    assert dp.stack.currentWidget() is not dp.message


# --- NetworkView ----------------------------------------------------------------------------

@pytest.mark.parametrize("inputs,layers", [(2, [1]), (2, [16, 16, 1]), (3, [4, 1]), (2, [64] * 8 + [1])])
def test_network_counts(qtbot, inputs, layers):
    nv = make(qtbot, NetworkView)
    assert nv.objectName() == "networkView"
    acts = ["tanh"] * (len(layers) - 1) + ["linear"]
    nv.set_architecture(inputs, layers, acts)
    sizes = [inputs, *layers]
    assert nv.neuron_count() == sum(sizes)
    assert nv.link_count() == sum(a * b for a, b in zip(sizes, sizes[1:]))
    rng = np.random.default_rng(0)
    nv.show_weights([(rng.normal(size=(o, i)), rng.normal(size=o)) for i, o in zip(sizes, layers)])
    assert not nv.grab().isNull()


def test_network_colours_widths_and_tooltips(qtbot):
    nv = make(qtbot, NetworkView)
    nv.set_architecture(2, [3, 1], ["relu", "linear"])
    W0 = np.array([[1.0, -0.1], [0.0, 0.5], [-1.0, 0.2]])
    nv.show_weights([(W0, np.array([0.3, -0.3, 0.0])), (np.array([[0.7, -0.7, 0.1]]), np.array([0.05]))])
    assert nv.layer_scales() == [1.0, 0.8]  # each layer: a nice number at or above its largest |w|
    strong, weak, neg = nv.link_pen(0, 0, 0), nv.link_pen(0, 0, 1), nv.link_pen(0, 2, 0)
    assert strong.widthF() > weak.widthF()
    assert strong.color().red() > strong.color().blue()   # positive: red
    assert neg.color().blue() > neg.color().red()         # negative: blue
    assert nv.link_step(0, 1, 0) == 0
    assert nv.tooltip_at(nv.link_midpoint(0, 2, 1)) == "w[0][2][1] = 0.2"
    assert nv.tooltip_at(nv.neuron_center(1, 1)).startswith("neuron 0,1 bias = -0.3")
    assert nv.tooltip_at(nv.neuron_center(0, 0)) == "input x1"
    assert nv.tooltip_at(QtCore.QPointF(-50, -50)) == ""
    # values stay current: the next frame's weights show in the tooltip
    nv.show_weights([(W0 * 2, np.zeros(3)), (np.array([[0.7, -0.7, 0.1]]), np.zeros(1))])
    assert nv.tooltip_at(nv.link_midpoint(0, 2, 1)) == "w[0][2][1] = 0.4"
    # a real hover: the tooltip event on the viewport shows the text
    pos = nv.mapFromScene(nv.link_midpoint(1, 0, 1))
    event = QtGui.QHelpEvent(QtCore.QEvent.Type.ToolTip, pos, nv.viewport().mapToGlobal(pos))
    QtWidgets.QApplication.sendEvent(nv.viewport(), event)
    assert QtWidgets.QToolTip.text() == "w[1][0][1] = -0.7"
    QtWidgets.QToolTip.hideText()


def test_network_relayouts_on_resize(qtbot):
    nv = make(qtbot, NetworkView, 400, 300)
    nv.set_architecture(2, [4, 1], ["tanh", "linear"])
    before = nv.neuron_center(2, 0)
    nv.resize(800, 600)
    qtbot.waitUntil(lambda: nv.neuron_center(2, 0).x() > before.x() + 100)
    rect = nv.scene().itemsBoundingRect()
    assert rect.left() >= 0 and rect.top() >= 0
    assert rect.right() <= nv.viewport().width() and rect.bottom() <= nv.viewport().height()


def test_a_dense_layer_draws_no_more_links_before_its_weights_than_after(qtbot):
    """All 28,864 links of 8 x 64 were drawn at step 0 until the first weights came: the first
    paint of a new network was a 45 ms turn of the event loop."""
    nv = make(qtbot, NetworkView)
    layers = [64] * 8 + [1]
    nv.set_architecture(2, layers, ["relu"] * 8 + ["linear"])
    shown = [sum(nv.link_step(l, j, i) != HIDDEN for j in range(o) for i in range(n))
             for l, (n, o) in enumerate(zip([2, *layers], layers))]
    assert shown[0] == 2 * 64 and shown[-1] == 64  # small layers: every link
    assert all(count <= LINKS_SHOWN for count in shown[1:-1])


def test_the_links_are_painted_again_only_when_they_change(qtbot):
    """Repainted in Python on every paint of the view, the links waited for the GIL at each Qt
    call against a busy worker: the soak's most frequent stall. A hover or a click now blits them."""
    nv = make(qtbot, NetworkView)
    nv.set_architecture(2, [3, 1], ["relu", "linear"])
    W0 = np.array([[1.0, -0.1], [0.0, 0.5], [-1.0, 0.2]])
    nv.show_weights([(W0, np.zeros(3)), (np.array([[0.7, -0.7, 0.1]]), np.zeros(1))])
    qtbot.waitExposed(nv)
    painted = []
    paint = nv._links.paint
    nv._links.paint = lambda *args: (painted.append(1), paint(*args))
    quiet = []

    def settled():  # three repaints in a row draw the links from their pixmap
        before = len(painted)
        nv.viewport().repaint()
        quiet.append(len(painted) == before)
        return quiet[-3:] == [True] * 3

    qtbot.waitUntil(settled)
    red = nv.grab().toImage().pixelColor(nv.mapFromScene(nv.link_midpoint(0, 0, 0)))
    assert red.red() > red.blue() + 60  # the strongest positive link, drawn from the pixmap
    painted.clear()
    nv.show_weights([(-W0, np.zeros(3)), (np.array([[0.7, -0.7, 0.1]]), np.zeros(1))])
    qtbot.waitUntil(lambda: len(painted) > 0)
    blue = nv.grab().toImage().pixelColor(nv.mapFromScene(nv.link_midpoint(0, 0, 0)))
    assert blue.blue() > blue.red() + 60  # the same link, now negative


# --- EvalsView ------------------------------------------------------------------------------

def test_evals_view_runs_median_and_summary(qtbot):
    ev = make(qtbot, EvalsView, 700, 350)
    assert ev.objectName() == "evalsView"
    cfg = Config(layers=[4, 1], activations=["relu", "linear"], epochs=4, evals=3, tolerance=0.01)
    session = Session(cfg, DataSpec(samples=60, test_ratio=0.25))
    for e in session.run():
        ev.add(e.run, [e])
    assert ev.run_count() == 3
    curves = np.array([[e.train_loss for e in t.history] for t in session.runs])
    assert np.allclose(ev.median_curve(), np.median(curves, axis=0))
    ev.set_summary(session.summary())
    table = ev.table
    assert table.rowCount() >= 6
    names = [table.verticalHeaderItem(r).text() for r in range(table.rowCount())]
    assert "runs" in names and "epochs to tolerance" in names and "final train loss" in names
    r = names.index("final train loss")
    finals = curves[:, -1]
    assert float(table.item(r, 0).text()) == pytest.approx(finals.mean(), abs=1e-3)
    assert float(table.item(r, 2).text()) == pytest.approx(finals.min(), abs=1e-3)
    assert table.item(names.index("runs"), 0).text() == "3"
    ev.clear()
    assert ev.run_count() == 0 and len(ev.median_curve()) == 0


def test_evals_median_with_unequal_runs(qtbot):
    ev = make(qtbot, EvalsView)
    ev.add(0, [ep(1, 4.0), ep(2, 2.0, stop="tolerance reached")])
    ev.add(1, [ep(1, 6.0, run=1), ep(2, 5.0, run=1), ep(3, 4.0, run=1)])
    ev.add(2, [ep(1, 8.0, run=2)])
    # epoch 3: run 0 ended at 2.0 (held), run 1 at 4.0, run 2 not there yet
    assert np.allclose(ev.median_curve(), [6.0, 3.5, 3.0])


def test_save_png(qtbot, tmp_path, trained):
    _, epochs, _ = trained
    lp = make(qtbot, LossPlot)
    lp.add(epochs)
    path = tmp_path / "loss.png"
    save_png(lp, path)
    img = QtGui.QImage(str(path))
    assert img.width() == 500 and img.height() == 350


def test_log_scale_after_a_diverged_run_was_cleared(qtbot):
    """A run's losses reach 1e66, the curves are cleared (Reset), then log scale is ticked: the
    axis must not read the old linear range (up to 1e35) as exponents (a tick loop that never
    ends). The range is checked before the switch, so the old code fails here instead of hanging."""
    lp = make(qtbot, LossPlot)
    lp.add([ep(k, 10.0 ** (11 * k)) for k in range(1, 7)])
    lp.graphics.scene().prepareForPaint()  # autorange to the huge losses, as a paint would
    assert lp.loss_plot.viewRange()[1][1] > 1e60
    lp.clear()
    assert all(abs(v) <= 10 for v in lp.loss_plot.viewRange()[1])
    lp.set_log(True)
    assert not lp.grab().isNull()
    assert all(abs(v) <= 10 for v in lp.loss_plot.viewRange()[1])
    lp.add([ep(1, 1e-3), ep(2, 1e5)])  # five decades up
    lp.graphics.scene().prepareForPaint()
    lo, hi = lp.loss_plot.viewRange()[1]
    assert -4 <= lo <= -2.5 and 4.5 <= hi <= 6  # in decades
    lp.set_log(False)
    lp.graphics.scene().prepareForPaint()
    assert lp.loss_plot.viewRange()[1][1] >= 1e5


def test_evals_statistics_stay_bounded_and_exact_over_long_runs(qtbot, monkeypatch):
    """Runs of 20,000 epochs: every run holds a bounded, thinned record; the median is the exact
    median of the runs at the grid's epochs; and a frame recomputes only the columns its epochs
    touched, not every epoch (what stalled the window for seconds on a 200,000-epoch session)."""
    ev = make(qtbot, EvalsView)
    rng = np.random.default_rng(0)
    lengths = (20_000, 14_000, 20_000)
    curves = [np.exp(-np.arange(n) / 5000) + 0.01 * rng.random(n) for n in lengths]
    widths = []
    percentile = np.nanpercentile
    monkeypatch.setattr(np, "nanpercentile", lambda M, *a, **k: widths.append(M.shape[1]) or percentile(M, *a, **k))
    for run, losses in enumerate(curves):
        for start in range(0, len(losses), 500):  # a frame every 500 epochs
            chunk = losses[start:start + 500]
            stop = "epochs exhausted" if start + 500 >= len(losses) else None
            ev.add(run, [ep(start + i + 1, v, run=run, stop=stop if i == len(chunk) - 1 else None)
                         for i, v in enumerate(chunk)])
    assert all(d.n <= 4096 for d in ev._data.values())
    stride = ev._stride
    grid = np.arange(0, 20_000, stride)
    expected = np.median([[c[i] if i < len(c) else c[-1] for i in grid] for c in curves], axis=0)
    np.testing.assert_allclose(ev.median_curve(), expected)
    # Frames of run 2 touched a few columns each; a frame that recomputed every epoch so far would be
    # 20,000 wide (4,096 after thinning).
    assert max(widths[-10:]) <= 500 // stride + 2


@pytest.mark.parametrize("low,high,size", [(0.02, 0.09, 90), (0.4, 1.0, 90), (0.9, 3.0, 90), (0.11, 0.2, 90),
                                           (1e-3, 1.0, 90), (1e-12, 1e10, 200), (1e-200, 1e200, 200),
                                           (0.1, 0.101, 200), (0.6, 0.99, 400)])
def test_log_axis_labels_never_pile_up(qtbot, low, high, size):
    """Labels at least MIN_GAP pixels apart (pyqtgraph put 0.06, 0.07, 0.08, 0.09 on top of one
    another in a short axis), at least two of them, and as many digits as tell them apart."""
    from microgradgui.views.style import LossAxis
    axis = LossAxis("left")
    lo, hi = math.log10(low), math.log10(high)
    [(_, values)] = axis.logTickValues(lo, hi, size, [])
    assert len(values) >= 2 and all(lo <= v <= hi for v in values)
    gaps = np.diff(sorted(values)) * size / (hi - lo)
    assert gaps.min() >= LossAxis.MIN_GAP
    labels = axis.logTickStrings(values, 1.0, None)
    assert len(set(labels)) == len(labels)  # distinct: no "0.1" for both 0.1 and 0.15
    assert axis.logTickStrings([math.log10(0.15), -12, math.log10(2.5e7)], 1.0, None) == ["0.15", "10⁻¹²", "2.5·10⁷"]


def test_contour_leaves_out_specks_a_crease_makes():
    """A ridge that just touches the level leaves single grid points below it: each drew a tiny
    square, together a dotted line (an untrained 6 x 64 relu network showed one)."""
    xs = ys = np.linspace(-1, 1, 41)
    gx, gy = np.meshgrid(xs, ys)
    Z = np.abs(gx - gy) + 0.5 * (gx + 1) + 0.1  # positive, lowest along the diagonal crease
    Z[10, 10] = Z[30, 20] = -0.01  # two specks on the crease
    sx, sy = contour_segments(Z, xs, ys, 0.0)
    assert not len(sx)
    Z[10:14, 10:14] = -0.01  # a real island, 4 x 4 points: drawn
    sx, _ = contour_segments(Z, xs, ys, 0.0)
    assert len(sx) > 0


def test_network_links_fade_by_their_layer_and_dense_layers_show_their_strongest(qtbot):
    """Each layer on its own scale (a deep layer's small weights were all faint on the first's),
    and a dense layer draws only its strongest links (a 6 x 64 network was a solid wall)."""
    from microgradgui.views.network import HIDDEN, LINKS_SHOWN, STEPS
    nv = make(qtbot, NetworkView, 700, 500)
    nv.set_architecture(2, [64, 64, 1], ["relu", "relu", "linear"])
    rng = np.random.default_rng(0)
    W1, W2, W3 = rng.uniform(-1, 1, (64, 2)), rng.uniform(-0.01, 0.01, (64, 64)), rng.uniform(-5, 5, (1, 64))
    W2[3, 7] = 0.02  # the deep layer's strongest
    nv.show_weights([(W1, np.zeros(64)), (W2, np.zeros(64)), (W3, np.zeros(1))])
    assert nv.layer_scales() == [1.0, 0.02, 5.0]
    assert nv.link_step(1, 3, 7) == STEPS  # full colour on its layer's scale
    steps = np.array([[nv.link_step(1, j, i) for i in range(64)] for j in range(64)])
    shown = steps != HIDDEN
    assert 0 < shown.sum() <= LINKS_SHOWN
    assert np.abs(W2[shown]).min() >= np.abs(W2[~shown]).max() - 0.02 / STEPS  # the strongest are the ones shown
    assert all(nv.link_step(0, j, i) != HIDDEN for j in range(64) for i in range(2))  # 128 links: all drawn


def test_the_loss_axis_holds_still_while_the_loss_falls_within_it(qtbot):
    """Autoranged, the axis moved on every frame as the loss fell: its ticks, labels and grid
    were regenerated each time, and the labels shifted under the eye."""
    lp = make(qtbot, LossPlot)
    lp.add([ep(1, 0.9, 0.95)])
    lp.graphics.scene().prepareForPaint()  # as a paint would
    shown = lp.loss_plot.viewRange()[1]
    assert shown[0] <= 0 and 0.95 <= shown[1] <= 1.1
    for k in range(2, 40):
        lp.add([ep(k, 0.9 / k, 0.95 / k)])
        lp.graphics.scene().prepareForPaint()
        assert lp.loss_plot.viewRange()[1] == shown
    lp.add([ep(40, 1.7)])  # above the top: the axis grows to the next nice bound
    lp.graphics.scene().prepareForPaint()
    assert 1.7 <= lp.loss_plot.viewRange()[1][1] <= 2.1


@pytest.mark.parametrize("dataset,loss,most", [("moons", "hinge", 2), ("plane", "mse", 64)])
def test_many_points_share_their_brushes(qtbot, dataset, loss, most):
    """A brush object per point made pyqtgraph render a symbol per point: 1,000 points were a
    110 ms turn of the event loop. Points of one colour now share one brush."""
    dp = make(qtbot, DecisionPlot)
    s = Session(Config(loss=loss), DataSpec(dataset=dataset, samples=1000))
    dp.reset(s.setup())
    brushes = dp.train_points.data["brush"]
    assert len(brushes) == len(s.train) and len({id(b) for b in brushes}) <= most
    if dataset == "moons":  # each point keeps its class's colour
        c0, c1 = class_colors()
        assert [b.color().rgba() for b in brushes] == [(c1 if y > 0.5 else c0).rgba() for y in s.train.y]
