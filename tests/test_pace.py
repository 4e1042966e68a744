"""The window's pace on the largest network: views too slow for one turn of the event loop
draw in parts, one per turn, background engine threads wait while the GUI thread works, and
the window's process computes on one BLAS thread."""
import dataclasses
import threading
import types

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from micrograd import blas
from micrograd.config import MAX_LAYERS, MAX_WIDTH, Config, DataSpec
from micrograd.lens import Lens
from micrograd.session import Session
from microgradgui import frames
from microgradgui.frames import FramePump
from microgradgui.views import DecisionPlot
from microgradgui import worker
from microgradgui.views.base import LiveView
from microgradgui.worker import Frame, FrameGate, GuiFirst

from test_gui import make_window

TIMEOUT_S = 20.0  # generous, the machine is shared
LARGEST = dict(layers=[MAX_WIDTH] * MAX_LAYERS + [1], activations=["tanh"] * MAX_LAYERS + ["linear"])


def test_the_window_computes_on_one_blas_thread(qtbot, tmp_path):
    if blas._BLAS is None:
        pytest.skip("no OpenBLAS found in this process")
    get, put = blas._BLAS
    before = get()
    put(2)
    if get() != 2:
        pytest.skip("this OpenBLAS runs on one thread only")
    try:
        w = make_window(qtbot, tmp_path)
        assert get() == 1  # two threads would wait on the core the worker trains on
        w.close()
    finally:
        put(before)


class Parted(LiveView, QtWidgets.QWidget):
    """A view whose present takes three turns; it notes what the event loop did meanwhile."""

    def __init__(self, log):
        super().__init__()
        self.log = log

    def present(self, snapshot):
        for part in range(3):
            self.log.append(f"part {part}")
            QtCore.QTimer.singleShot(0, lambda part=part: self.log.append(f"turn after {part}"))
            yield


def shown_pump(qtbot, views):
    """A pump over `views` in a shown window: (pump, window); the caller keeps the window alive."""
    window = QtWidgets.QWidget()
    qtbot.addWidget(window)
    layout = QtWidgets.QVBoxLayout(window)
    for view in views:
        layout.addWidget(view)
    window.show()
    qtbot.waitExposed(window)
    return FramePump(views, window), window


def parted_pump(qtbot, log):
    """A pump over two `Parted` views: (pump, views, window)."""
    views = [Parted(log), Parted(log)]
    pump, window = shown_pump(qtbot, views)
    return pump, views, window


def test_the_pump_draws_a_view_in_parts_one_per_turn(qtbot):
    log = []
    pump, window = shown_pump(qtbot, [Parted(log)])
    s = Session(Config(layers=[3, 1], activations=["relu", "linear"]), DataSpec(samples=20))
    gate = FrameGate()
    gate.clear()
    with qtbot.waitSignal(pump.drawn):
        pump.push(Frame(pump.tag, s.snapshot(), gate))
    assert gate.is_done()
    parts = [entry for entry in log if entry.startswith("part")]
    assert parts == ["part 0", "part 1", "part 2"]
    # the event loop turned between the parts: each part's zero timer ran before the next part
    assert log.index("turn after 0") < log.index("part 1") and log.index("turn after 1") < log.index("part 2")


class Clock:
    """A perf_counter that moves only when told to."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Painted(Parted):
    """A part that leaves a paint pass to the event loop, as a pyqtgraph plot does; the pass
    moves `clock` on by 0.2 s."""

    def __init__(self, clock):
        super().__init__([])
        self.clock = clock

    def present(self, snapshot):
        QtCore.QTimer.singleShot(0, lambda: setattr(self.clock, "now", self.clock.now + 0.2))
        yield from super().present(snapshot)


def test_a_frames_cost_counts_the_turns_between_its_parts(qtbot, monkeypatch):
    """The worker spaces its frames by their cost. The paint passes run in the turns between
    a frame's steps, and were left out: at full pace a frame took 25 ms and reported 10."""
    clock = Clock()
    monkeypatch.setattr(frames.time, "perf_counter", clock)
    pump, window = shown_pump(qtbot, [Painted(clock)])
    gate = FrameGate()
    gate.clear()
    s = Session(Config(layers=[3, 1], activations=["relu", "linear"]), DataSpec(samples=20))
    with qtbot.waitSignal(pump.drawn):
        pump.push(Frame(pump.tag, s.snapshot(), gate))
    assert gate.is_done() and gate.cost == pytest.approx(0.2)


def test_a_restart_draws_its_views_one_part_per_turn_and_frames_wait_for_it(qtbot):
    """A new session's first draw (`draw_soon`): before, every view drew at once (0.2-0.6 s on
    8 x 64); a worker's frame that comes meanwhile is drawn after it, not in between."""
    log = []
    pump, views, window = parted_pump(qtbot, log)
    s = Session(Config(layers=[3, 1], activations=["relu", "linear"]), DataSpec(samples=20))
    pump.new_session()
    pump.draw_soon(s.snapshot())
    assert log == ["part 0"] and not pump.idle  # the rest comes in later turns
    gate = FrameGate()
    gate.clear()
    latest = s.snapshot()
    pump.push(Frame(pump.tag, latest, gate))
    qtbot.waitUntil(lambda: pump.idle and gate.is_done())
    parts = [entry for entry in log if entry.startswith("part")]
    assert parts == ["part 0", "part 1", "part 2"] * 4  # two views, the restart's draw, then the frame's
    assert log.index("turn after 0") < log.index("part 1")
    assert all(v._latest is latest for v in views)


def test_a_draw_now_first_finishes_a_restarts_draw(qtbot):
    log = []
    pump, views, window = parted_pump(qtbot, log)
    s = Session(Config(layers=[3, 1], activations=["relu", "linear"]), DataSpec(samples=20))
    old, new = s.snapshot(), s.snapshot(measure=True)
    pump.draw_soon(old)
    pump.draw_now(new)  # an edit, say: its weights must not be overdrawn by the restart's
    assert log.count("part 2") == 4 and all(v._latest is new for v in views)
    qtbot.waitUntil(lambda: pump.idle)
    assert all(v._latest is new for v in views) and log.count("part 0") == 4


class Seen(Parted):
    """A `Parted` view that notes the snapshots it presents."""

    def __init__(self, log):
        super().__init__(log)
        self.seen = []

    def present(self, snapshot):
        self.seen.append(snapshot)
        yield from super().present(snapshot)


def seen(view):
    """Which snapshots `view` presented (by identity: they hold arrays)."""
    return [id(s) for s in view.seen]


def seen_pump(qtbot):
    """A pump over two `Seen` views: (pump, views, their log, window)."""
    log = []
    views = [Seen(log), Seen(log)]
    pump, window = shown_pump(qtbot, views)
    return pump, views, log, window


def snapshots(n):
    """`n` snapshots of one session, each an object of its own."""
    s = Session(Config(layers=[3, 1], activations=["relu", "linear"]), DataSpec(samples=20))
    return [s.snapshot() for _ in range(n)]


def test_a_drag_draws_its_latest_position_in_parts_and_skips_those_it_passed_over(qtbot):
    """`draw_latest`, as a timeline drag asks for each move: every view drew at once in the
    move's turn (0.3 s at 8 x 64), for each position passed over too."""
    pump, views, log, window = seen_pump(qtbot)
    first, passed, last = snapshots(3)
    pump.draw_latest(first)
    pump.draw_latest(passed)  # moves in the same turn: nothing more is drawn in it
    pump.draw_latest(last)
    assert log == ["part 0"] and not pump.idle
    with qtbot.waitSignal(pump.drawn, timeout=int(TIMEOUT_S * 1000)):
        pass
    assert pump.idle and all(seen(v) == [id(first), id(last)] for v in views)
    parts = [entry for entry in log if entry.startswith("part")]
    assert parts == ["part 0", "part 1", "part 2"] * 4
    assert log.index("turn after 0") < log.index("part 1")


def test_a_draw_after_a_drag_replaces_the_position_waiting(qtbot):
    pump, views, log, window = seen_pump(qtbot)
    first, waiting, now = snapshots(3)
    pump.draw_latest(first)
    pump.draw_latest(waiting)
    pump.draw_now(now)  # back to the run as it is (Train, an edit): `waiting` is older
    assert all(seen(v) == [id(first), id(now)] for v in views)
    qtbot.waitUntil(lambda: pump.idle, timeout=int(TIMEOUT_S * 1000))
    assert all(seen(v) == [id(first), id(now)] for v in views)


def test_the_largest_networks_decision_surface_comes_in_parts(qtbot, monkeypatch):
    s = Session(Config(**LARGEST, seed=3), DataSpec(samples=40))
    whole, parted = DecisionPlot(), DecisionPlot()
    for plot in (whole, parted):
        qtbot.addWidget(plot)
        plot.reset(s.setup())
    snap = s.snapshot()
    whole.show_model(snap.weights, s.config.activations, s.setup().threshold)
    monkeypatch.setattr(DecisionPlot, "PART_SECONDS", 0.0)  # as if every chunk were slow
    parts = parted.present(snap)
    count = sum(1 for _ in parts)
    assert count == len(parted._X) // DecisionPlot.CHUNK - 1  # a pause between every two chunks
    np.testing.assert_array_equal(parted.grid_values(), whole.grid_values())


def test_the_lens_graph_in_parts_is_the_whole_graph():
    s = Session(Config(**LARGEST, seed=4), DataSpec(samples=40))
    lens = Lens(s.config, s.setup().task)
    weights, x, y = s.trainer.weights(), s.train.X[0], s.train.y[0]
    parts = lens.graph_parts(weights, x, y)
    count = 0
    while True:
        try:
            next(parts)
            count += 1
        except StopIteration as done:
            parted = done.value
            break
    assert count == MAX_LAYERS + 3  # the weights, each layer, the backward pass
    whole = lens.graph(weights, x, y)
    assert parted.loss == whole.loss
    np.testing.assert_array_equal(parted.theta_grad, whole.theta_grad)


def test_a_deferred_lens_build_runs_one_part_per_turn(qtbot, monkeypatch):
    from microgradgui.views import lens as lens_view
    now = [1000.0]
    monkeypatch.setattr(lens_view.time, "monotonic", lambda: now[0])
    view = lens_view.LensView()
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    s = Session(Config(layers=[4, 4, 1], activations=["tanh", "tanh", "linear"]), DataSpec("moons", samples=30))
    view.reset(s.setup())
    view.draw(s.snapshot([s.step()]))
    log = []
    graph_parts = view.lens.graph_parts
    monkeypatch.setattr(view.lens, "graph_parts", lambda *a: _logged(graph_parts, log, *a))
    view.draw(s.snapshot([s.step()]))  # too soon after the last build: for the throttle's timer
    assert view.later.isActive() and log == []
    qtbot.waitUntil(lambda: view.epoch == s.trainer.epoch)
    assert log.count("part") == 5  # the weights, 3 layers, the backward pass
    assert all(a != b for a, b in zip(log, log[1:]) if a == "part")  # a turn of the loop after each part


def _logged(graph_parts, log, *a):
    """graph_parts(*a), noting each part and posting a zero timer after it."""
    parts = graph_parts(*a)
    while True:
        try:
            next(parts)
        except StopIteration as done:
            return done.value
        log.append("part")
        QtCore.QTimer.singleShot(0, lambda: log.append("turn"))
        yield


def test_a_restart_of_the_same_network_keeps_the_lens_layout(qtbot, monkeypatch):
    """Laying out 8 x 64 takes ~90 ms: every setting that restarts a run paid it again."""
    from microgradgui.views import lens as lens_view
    laid_out = []
    real = lens_view.lenses.layout
    monkeypatch.setattr(lens_view.lenses, "layout", lambda *a: laid_out.append(1) or real(*a))
    view = lens_view.LensView()
    qtbot.addWidget(view)
    s = Session(Config(layers=[4, 4, 1], activations=["tanh", "tanh", "linear"]), DataSpec("moons", samples=30))
    for setup in (s.setup(),
                  Session(dataclasses.replace(s.config, lr=0.1, seed=5), DataSpec("circles", samples=30)).setup()):
        view.reset(setup)
        view.build_now()  # what its next draw does first
    assert len(laid_out) == 1
    view.reset(Session(dataclasses.replace(s.config, layers=[3, 1], activations=["tanh", "linear"]),
                       DataSpec("moons", samples=30)).setup())
    view.build_now()
    assert len(laid_out) == 2


def behind_a_tab(qtbot, view):
    """`view` in the second tab of a shown tab widget, the first on show, reset for a new
    session of three layers: (view, tabs, session)."""
    tabs = QtWidgets.QTabWidget()
    qtbot.addWidget(tabs)
    tabs.addTab(QtWidgets.QWidget(), "other")
    tabs.addTab(view, "view")
    tabs.show()
    qtbot.waitExposed(tabs)
    s = Session(Config(layers=[4, 4, 1], activations=["tanh", "tanh", "linear"]), DataSpec("moons", samples=30))
    view.reset(s.setup())
    return view, tabs, s


def test_a_hidden_distributions_view_builds_its_plots_when_shown_a_plot_per_turn(qtbot):
    from microgradgui.views.distributions import DistributionsView
    view, tabs, s = behind_a_tab(qtbot, DistributionsView())
    for _ in range(3):
        view.draw(s.snapshot([s.step()]))
    assert view._plots == [] and view.columns() == 3  # the quantiles are taken, no plot is built
    view.grad_check.setChecked(True)  # a remembered option, set while hidden: nothing to draw on yet
    tabs.setCurrentWidget(view)
    assert len(view._plots) == 1 and not view.caught_up  # a plot a turn: eight in one were 130-250 ms
    qtbot.waitUntil(lambda: view.caught_up)
    assert len(view._plots) == 3 and view.quantiles(2, gradients=True).shape == (9, 3)
    assert view._plots[0].titleLabel.text == "layer 1 gradients"


def test_a_hidden_weights_view_builds_its_plots_when_shown_a_plot_per_turn(qtbot):
    """Nine plots of 8 x 64 in the tab click's turn: 100-240 ms (a soak's longest gap)."""
    from microgradgui.views.weights import WeightsView
    view, tabs, s = behind_a_tab(qtbot, WeightsView())
    view.draw(s.snapshot([s.step()]))
    assert view._plots == []  # hidden: nothing built
    tabs.setCurrentWidget(view)
    assert len(view._plots) == 1 and not view.caught_up
    assert view.graphics.ci.layout.count() == 0  # placed together at the end, not half a grid meanwhile
    qtbot.waitUntil(lambda: view.caught_up)
    assert len(view._plots) == 3 and view.graphics.ci.layout.count() == 4  # and the colour bar
    W = np.asarray(s.snapshot().weights[1][0])
    np.testing.assert_allclose(view._w_items[1].image, W)


def test_a_weights_build_superseded_midway_leaves_no_plot_behind(qtbot):
    """A build for another network stopped after a plot (the network edited back meanwhile):
    the plot it made, never placed, must not stay among the view's."""
    from microgradgui.views.weights import WeightsView
    view = WeightsView()
    qtbot.addWidget(view)
    view.set_architecture(2, [4, 1])
    parts = view._build(2, [4, 4, 4, 1])
    next(parts)  # one new plot made, then superseded
    view.set_architecture(2, [4, 1])
    assert view.image_shapes() == [(4, 2), (1, 4)]
    view.set_architecture(2, [3, 3, 1])
    assert view.image_shapes() == [(3, 2), (3, 3), (1, 3)] and view.graphics.ci.layout.count() == 4


def test_a_new_networks_compile_sends_no_progress_frames(qtbot, monkeypatch):
    """The compile of a new network's first epoch calls the worker's check with nothing done
    yet (0.0): as a long epoch's progress, that was a frame of unchanged weights, every view
    redrawn while the compile waited on it."""
    monkeypatch.setattr(worker, "LONG_EPOCH", 0.0)
    w = worker.TrainWorker(Session(Config(layers=[3, 1], activations=["relu", "linear"]), DataSpec(samples=20)))
    w.gui_first = types.SimpleNamespace(wait=lambda done: None)  # no GUI to wait for here
    w._pending, w._last, w._epoch_started = [], 0.0, None
    frames = []

    def drawn(frame):
        frames.append(frame)
        frame.gate.done()
    w.progress.connect(drawn, QtCore.Qt.ConnectionType.DirectConnection)
    for _ in range(3):
        w._check(0.0)
    assert frames == []
    w._check(0.5)  # a long epoch half done: that is news
    w._check(0.6)
    assert [f.snapshot.progress for f in frames] == [0.6]


def test_a_background_thread_waits_while_the_gui_thread_handles_an_event(qtbot, monkeypatch):
    """Beside two busy Python threads the window's work took 4-8 times as long (the GIL goes
    round): a worker's check point waits while the GUI thread handles an event."""
    monkeypatch.setattr(worker, "MAX_GUI_WAIT", 60.0)  # only the GUI going idle lets it on here
    turn = GuiFirst.install()
    steps, parked, stop = [0], threading.Event(), threading.Event()
    looked = []  # the steps done, each time the thread looked whether it may go on

    def done():  # evaluated while the thread waits its turn
        looked.append(steps[0])
        parked.set()
        return stop.is_set()

    def background():
        while not stop.is_set():
            turn.wait(done)
            steps[0] += 1
    seen = {}

    def handler():  # a slot the event loop runs: the GUI thread at work
        for _ in range(2):  # it looks again, now, twice: a thread that went on stepped in between
            parked.clear()
            turn.let_go()
            seen["parked"] = parked.wait(TIMEOUT_S)
        seen["steps"] = looked[-1] - looked[-2]
    thread = threading.Thread(target=background)
    thread.start()
    try:
        qtbot.waitUntil(lambda: steps[0] > 0)  # the GUI idle: it runs
        QtCore.QTimer.singleShot(0, handler)
        qtbot.waitUntil(lambda: "steps" in seen)
        assert seen["parked"] and seen["steps"] == 0
        after = steps[0]
        qtbot.waitUntil(lambda: steps[0] > after)  # and runs on once the GUI is idle again
    finally:
        stop.set()
        turn.let_go()
        thread.join()


def test_a_thread_told_to_end_goes_on_while_the_gui_thread_works(qtbot, monkeypatch):
    """A stop waits for the worker to end, the GUI thread blocked: the worker must not wait
    for the GUI then."""
    monkeypatch.setattr(worker, "MAX_GUI_WAIT", 60.0)
    turn = GuiFirst.install()
    parked, stop, ended = threading.Event(), threading.Event(), threading.Event()

    def done():
        parked.set()
        return stop.is_set()

    def background():
        while not stop.is_set():
            turn.wait(done)
        ended.set()
    seen = {}

    def handler():
        parked.clear()
        turn.let_go()  # it looks again, now: it waits
        seen["parked"] = parked.wait(TIMEOUT_S)
        stop.set()
        turn.let_go()
        seen["ended"] = ended.wait(TIMEOUT_S)  # the GUI thread still in this handler
    thread = threading.Thread(target=background)
    thread.start()
    try:
        QtCore.QTimer.singleShot(0, handler)
        qtbot.waitUntil(lambda: "ended" in seen)
        assert seen["parked"] and seen["ended"]
    finally:
        stop.set()
        turn.let_go()
        thread.join()
