"""GUI soak: seeded random user actions on the real window for N minutes, watched.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/soak.py --minutes 10 [--seed S] [--log FILE]

Builds the real `MainWindow` (a QSettings file in a temp folder), shows it, and every 100-300 ms
(a QTimer: the event loop runs between actions, as it does for a user) performs one random
action on its real widgets: Train/Pause, Step, Reset, New seed, the data set, noise, learning
rate (odd ones too: 1000), optimizer, loss, activations, engine, layers and neurons (now and
then 8 x 64, mostly small enough for the value engine to train), input features, view options
(log scale...), evals, epochs (200000 too), every tab, the timeline, Pin/Clear, clicks on the
decision plot, Ctrl+Z, the gradient check, Export and Import of a model file.

Modal dialogs would stop the soak: QFileDialog's static functions answer with paths in a temp
folder (Import opens the last file exported), QMessageBox's answer OK at once; every message
box is counted and its text kept (an error for a valid action is a finding).

Watched meanwhile:
  * uncaught exceptions: sys.excepthook (a slot's exception reaches it through PySide),
    threading.excepthook and sys.unraisablehook; tracebacks kept;
  * event-loop gaps: a 10 ms PreciseTimer's tick intervals; the longest, the action before it,
    and how many exceed 250 ms; the slowest `reset` and `draw` of each view (to tell which one);
    and where the GUI thread was: a thread samples its stack every 20 ms while the heartbeat
    is over 100 ms late, and the report ranks the innermost lines of our code it was in, and
    what the other threads (the worker, a gradient check...) were running meanwhile;
  * memory: RSS (VmRSS of /proc/self/status) every 10 s, and each minute's lowest sample.
Targets: no exception, no gap over 250 ms, flat memory: the least-squares line through the
second half's RSS samples rises less than 10 MiB over that half. Exit status 1 if one is missed.

Each action is logged (--log) with its time; the same --seed draws the same actions, though
what an action does depends on the window's state then (a disabled control is skipped).
STUDIO_REPO (default the repository this file is in) is the checkout soaked, put first on
sys.path; the interpreter needs its requirements (the project's .venv, made by ./check).
"""
from __future__ import annotations

import argparse
import faulthandler
import os
import random
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict

import measured  # first: the checkout measured goes first on sys.path

import numpy as np  # noqa: E402
from PySide6 import QtCore, QtTest, QtWidgets  # noqa: E402

from micrograd.config import MAX_LAYERS, MAX_WIDTH  # noqa: E402
from microgradgui.window import MainWindow  # noqa: E402

measured.check()

TICK_MS = 10
GAP_MS = 250.0         # target: no event-loop gap longer than this
RSS_EVERY_MS = 10_000
FLAT_MIB = 10.0        # target: the second half's RSS trend rises less than this
ACTION_MS = (100, 300)  # the pause between two actions
SHOWN_TRACEBACKS = 3
STALL_MS = 100         # the GUI thread's stack is sampled while the heartbeat is this late
SAMPLE_MS = 20
OURS = (os.sep + "micrograd" + os.sep, os.sep + "microgradgui" + os.sep)

Button, Mod, Key = QtCore.Qt.MouseButton, QtCore.Qt.KeyboardModifier, QtCore.Qt.Key


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _stacks(dump):
    """{thread ident: [(file, line, function), innermost first]} of every thread but the caller,
    written by faulthandler into the open file `dump`."""
    dump.seek(0)
    dump.truncate()
    faulthandler.dump_traceback(dump, all_threads=True)
    dump.seek(0)
    stacks, current = {}, None
    for line in dump.read().splitlines():
        if line.startswith("Thread 0x"):
            current = stacks.setdefault(int(line.split()[1], 16), [])
        elif line.startswith("Current thread"):
            current = None  # the sampler itself
        elif current is not None and line.strip().startswith("File "):
            path, rest = line.strip()[len('File "'):].split('", line ', 1)
            number, _, function = rest.partition(" in ")
            current.append((path, number, function))
    return stacks


def _where(line):
    path, number, function = line
    return f"{os.path.basename(path)}:{number} {function}"


def _thread_name(ident):
    return next((t.name for t in threading.enumerate() if t.ident == ident), hex(ident))


class Watch:
    """Exceptions, message boxes, event-loop gaps, view draw times and RSS over the soak."""

    def __init__(self):
        self.exceptions = []  # formatted tracebacks
        self.boxes = []       # (kind, title, text)
        self.gaps = []        # (ms, seconds into the soak, the action before it) over GAP_MS
        self.longest = (0.0, 0.0, "")
        self.draws = defaultdict(lambda: [0, 0.0, 0.0])  # "View.method": [calls, total s, max s]
        self.rss = []         # (seconds into the soak, MiB)
        self.last_action = "(none yet)"
        self.t0 = time.perf_counter()
        self._last_tick = None
        self.stalls = Counter()  # (the innermost lines of our code, the innermost line) -> samples
        self.others = Counter()  # (thread name, its innermost line) -> samples taken in a stall

    def sample_stalls(self, main, stop):
        """Run in a thread: while the heartbeat is late, where the GUI thread (`main`) is, and
        what the other threads are running. Read by faulthandler, not from frame objects: the
        frames of threads running elsewhere are not safe to touch (reading the workers' ones
        crashed CPython 3.11 in 2 soaks of 3)."""
        with tempfile.TemporaryFile("w+") as dump:
            while not stop.wait(SAMPLE_MS / 1000.0):
                last = self._last_tick
                if last is None or time.perf_counter() - last < STALL_MS / 1000.0:
                    continue
                for ident, lines in _stacks(dump).items():
                    if ident == main:
                        ours = [line for line in lines if any(part in line[0] for part in OURS)][:3]
                        self.stalls[(" < ".join(_where(line) for line in ours) or "(not in our code)",
                                     _where(lines[0]) if lines else "?")] += 1
                    elif lines:
                        self.others[(_thread_name(ident), _where(lines[0]))] += 1

    def elapsed(self):
        return time.perf_counter() - self.t0

    # exceptions
    def install_hooks(self):
        def hook(kind):
            def record(exc_type, exc, tb):
                text = "".join(traceback.format_exception(exc_type, exc, tb))
                self.exceptions.append(f"[{kind}, {self.elapsed():.1f} s, after {self.last_action}]\n{text}")
                sys.__stderr__.write(f"soak: uncaught exception ({kind}) after {self.last_action}\n{text}")
            return record
        sys.excepthook = hook("sys.excepthook")
        threading.excepthook = lambda a: hook(f"thread {a.thread.name if a.thread else '?'}")(
            a.exc_type, a.exc_value, a.exc_traceback)
        sys.unraisablehook = lambda u: hook(f"unraisable: {u.err_msg or ''} {u.object!r}")(
            u.exc_type, u.exc_value, u.exc_traceback)

    # modal dialogs
    def patch_dialogs(self, folder):
        """QMessageBox answers OK and is counted; QFileDialog answers with a path in `folder`
        (a save: the name suggested; an open: the last file saved with the same filter)."""
        box = QtWidgets.QMessageBox
        ok = box.StandardButton.Ok

        def recorder(kind):
            def show(parent, title, text, *args, **kwargs):
                self.boxes.append((kind, title, text))
                return ok
            return staticmethod(show)
        for kind in ("critical", "warning", "information", "question", "about"):
            setattr(box, kind, recorder(kind))
        saved = {}

        def save(parent=None, caption="", directory="", filter="", *args, **kwargs):
            path = os.path.join(folder, os.path.basename(directory) or "untitled")
            saved[filter] = path
            return path, filter

        def open_(parent=None, caption="", directory="", filter="", *args, **kwargs):
            return saved.get(filter, ""), filter
        QtWidgets.QFileDialog.getSaveFileName = staticmethod(save)
        QtWidgets.QFileDialog.getOpenFileName = staticmethod(open_)

    # the event loop
    def tick(self):
        now = time.perf_counter()
        if self._last_tick is not None:
            gap = (now - self._last_tick) * 1000.0
            if gap > self.longest[0]:
                self.longest = (gap, now - self.t0, self.last_action)
            if gap > GAP_MS:
                self.gaps.append((gap, now - self.t0, self.last_action))
        self._last_tick = now

    def time_views(self, views):
        """Wrap each view's `reset` and `draw` to time them: a long gap names the view then."""
        for view in views:
            for method in ("reset", "draw"):
                name = f"{type(view).__name__}.{method}"

                def timed(arg, call=getattr(view, method), stats=self.draws[name]):
                    t = time.perf_counter()
                    try:
                        call(arg)
                    finally:
                        dt = time.perf_counter() - t
                        stats[0] += 1
                        stats[1] += dt
                        stats[2] = max(stats[2], dt)
                setattr(view, method, timed)

    def sample_rss(self):
        self.rss.append((self.elapsed(), rss_mib()))

    def second_half(self):
        """(rise of the least-squares line over the second half in MiB, its slope in MiB/min)."""
        if len(self.rss) < 4:
            return 0.0, 0.0
        t, m = np.array(self.rss).T
        half = t >= t[-1] / 2
        t, m = t[half], m[half]
        if len(t) < 2 or t[-1] == t[0]:
            return 0.0, 0.0
        slope = float(np.polyfit(t, m, 1)[0])  # MiB per second
        return slope * (t[-1] - t[0]), slope * 60.0

    def minute_floors(self):
        """The lowest RSS sample of each minute (MiB): a leak lifts them all, a run live at the
        end of the soak only the last."""
        floors = {}
        for t, m in self.rss:
            floors[int(t // 60)] = min(m, floors.get(int(t // 60), m))
        return [floors[k] for k in sorted(floors)]


class Soak:
    """The random user: picks an action by weight, performs it on the real widgets, logs it."""

    def __init__(self, window, rng, watch, log):
        self.w, self.rng, self.watch, self.log = window, rng, watch, log
        self.done = Counter()     # kind: actions performed
        self.skipped = Counter()  # kind: drawn while its control was disabled (as for a user: nothing)
        self.slowest = defaultdict(float)  # kind: longest time inside the action itself, s
        self.plan = []  # (kind, step): the rest of an action of several clicks, one per turn
        self.actions = [  # (kind, weight, method)
            ("train/pause", 10, self.train), ("step", 3, self.step), ("reset", 3, self.reset),
            ("new seed", 2, self.new_seed), ("data set", 3, self.dataset), ("noise", 2, self.noise),
            ("regenerate", 1, self.regenerate), ("learning rate", 4, self.learning_rate),
            ("optimizer", 2, self.optimizer), ("loss", 2, self.loss), ("activation", 3, self.activation),
            ("engine", 3, self.engine), ("add layer", 2, self.add_layer), ("remove layer", 2, self.remove_layer),
            ("neurons", 3, self.neurons), ("big network", 1, self.big_network), ("shrink", 2, self.shrink),
            ("input feature", 3, self.feature), ("view option", 3, self.view_option), ("evals", 2, self.evals),
            ("epochs", 3, self.epochs), ("pace", 2, self.pace), ("tab", 6, self.tab),
            ("timeline", 3, self.timeline), ("continue from here", 1, self.branch), ("pin", 2, self.pin),
            ("clear pins", 1, self.clear_pins), ("plot click", 4, self.plot_click), ("undo", 3, self.undo),
            ("gradient check", 2, self.gradcheck), ("lens", 2, self.lens), ("export", 2, self.export),
            ("import", 1, self.import_), ("restore defaults", 1, self.restore_defaults),
        ]
        self.kinds = [k for k, _, _ in self.actions]
        self.weights = [wt for _, wt, _ in self.actions]
        self.methods = {k: m for k, _, m in self.actions}

    def find(self, kind, name):
        return self.w.findChild(kind, name)

    def act(self):
        """One action: the next step of a plan under way (a user's several clicks, one per
        turn), or a new one drawn by weight."""
        if self.plan:
            kind, step = self.plan.pop(0)
        else:
            kind = self.rng.choices(self.kinds, self.weights)[0]
            if kind == "shrink" and not self.big():
                kind = "tab"  # nothing to shrink: look at something instead
            step = self.methods[kind]
        self.watch.last_action = f"{kind} (starting)"
        t = time.perf_counter()
        what = step()
        dt = time.perf_counter() - t
        if what is None:
            self.skipped[kind] += 1
            what = "skipped (disabled)"
        else:
            self.done[kind] += 1
            self.slowest[kind] = max(self.slowest[kind], dt)
        self.watch.last_action = f"{kind}: {what}"
        self.log.write(f"{self.watch.elapsed():9.3f} {sum(self.done.values()):6d} {kind}: {what} "
                       f"[{dt * 1000:.0f} ms]\n")
        self.log.flush()

    # helpers: real clicks and edits, only on what a user could reach
    def click(self, widget):
        if widget is None or not widget.isEnabled():
            return None
        widget.click()
        return widget.text() or widget.objectName()

    def choose(self, combo, text=None):
        if not combo.isEnabled():
            return None
        combo.setCurrentIndex(self.rng.randrange(combo.count()) if text is None else combo.findText(text))
        return combo.currentText()

    def type_into(self, spin, text):
        """Select the field's text, type `text`, press Return (what a keyboard user does)."""
        if not spin.isEnabled():
            return None
        spin.lineEdit().selectAll()
        QtTest.QTest.keyClicks(spin.lineEdit(), text)
        QtTest.QTest.keyClick(spin.lineEdit(), Key.Key_Return)
        return text

    def set_spin(self, spin, value):
        if not spin.isEnabled():
            return None
        spin.setValue(value)
        return str(value)

    def big(self):
        """A network the value engine trains slowly (more than ~2 x 32 hidden neurons)."""
        return sum(self.w.network_panel.hidden) > 64

    # the actions
    def train(self):
        return self.click(self.w.train_button)

    def step(self):
        return self.click(self.w.step_button)

    def reset(self):
        return self.click(self.w.reset_button)

    def new_seed(self):
        return self.click(self.find(QtWidgets.QToolButton, "newSeedButton"))

    def dataset(self):
        return self.choose(self.w.data_panel.dataset)

    def noise(self):
        return self.set_spin(self.w.data_panel.noise, self.rng.choice([0.0, 0.05, 0.1, 0.3, 1.0, 5.0]))

    def regenerate(self):
        return self.click(self.w.data_panel.regenerate)

    def learning_rate(self):
        return self.type_into(self.w.training_panel.lr, self.rng.choice(["0.001", "0.01", "0.03", "0.1", "1",
                                                                          "10", "1000", "1e-9"]))

    def optimizer(self):
        return self.choose(self.w.training_panel.optimizer)

    def loss(self):
        return self.choose(self.w.training_panel.loss)

    def activation(self):
        panel = self.w.network_panel
        names = [f"activationCombo{i}" for i in range(len(panel.hidden))] + ["outputActivationCombo"]
        name = self.rng.choice(names)
        text = self.choose(self.find(QtWidgets.QComboBox, name))
        return text and f"{name} {text}"

    def engine(self):
        return self.choose(self.w.training_panel.engine)

    def add_layer(self):
        return self.click(self.find(QtWidgets.QPushButton, "addLayerButton"))

    def remove_layer(self):
        n = len(self.w.network_panel.hidden)
        return self.click(self.find(QtWidgets.QToolButton, f"removeLayerButton{self.rng.randrange(n)}")) if n else None

    def neurons(self):
        panel = self.w.network_panel
        if not panel.hidden:
            return None
        i = self.rng.randrange(len(panel.hidden))
        n = MAX_WIDTH if self.rng.random() < 0.1 else self.rng.randint(1, 16)
        what = self.set_spin(panel.spin(i), n)
        return what and f"layer {i}: {n}"

    def big_network(self):
        """Towards the largest network the designer allows, 8 x 64: a layer added or widened
        per click, each click a turn of its own (the rest are planned)."""
        panel = self.w.network_panel
        if not panel.isEnabled():
            return None
        add = self.find(QtWidgets.QPushButton, "addLayerButton")
        if len(panel.hidden) < MAX_LAYERS:
            add.click()
        else:
            narrow = [i for i, n in enumerate(panel.hidden) if n < MAX_WIDTH]
            if not narrow:
                return f"{MAX_LAYERS} x {MAX_WIDTH}"
            panel.spin(narrow[0]).setValue(MAX_WIDTH)
        if len(panel.hidden) < MAX_LAYERS or any(n < MAX_WIDTH for n in panel.hidden):
            self.plan.insert(0, ("big network", self.big_network))
        return "-".join(map(str, panel.hidden))

    def shrink(self):
        """Back to a network the value engine trains at a useful pace, 1-2 layers of 4-16:
        a layer removed or narrowed per click, one per turn."""
        panel = self.w.network_panel
        if not panel.isEnabled():
            return None
        if len(panel.hidden) > 2:
            self.find(QtWidgets.QToolButton, f"removeLayerButton{len(panel.hidden) - 1}").click()
        else:
            wide = [i for i, n in enumerate(panel.hidden) if n > 16]
            if wide:
                panel.spin(wide[0]).setValue(self.rng.choice([4, 8, 16]))
        if len(panel.hidden) > 2 or any(n > 16 for n in panel.hidden):
            self.plan.insert(0, ("shrink", self.shrink))
        return "-".join(map(str, panel.hidden))

    def feature(self):
        name, box = self.rng.choice(list(self.w.data_panel.feature_toggles.items()))
        return self.click(box) and f"{name} {'on' if box.isChecked() else 'off'}"

    def view_option(self):
        boxes = [b for b in self.w._options() if b.isEnabled()]
        box = self.rng.choice(boxes)
        box.click()
        return f"{box.objectName()} {'on' if box.isChecked() else 'off'}"

    def evals(self):
        return self.set_spin(self.w.training_panel.evals, self.rng.choice([1, 1, 2, 3, 5]))

    def epochs(self):
        return self.type_into(self.w.training_panel.epochs, self.rng.choice(["0", "20", "100", "500", "200000"]))

    def pace(self):
        return self.choose(self.find(QtWidgets.QComboBox, "paceControl"))

    def tab(self, title=None):
        """A click on a tab of the bottom row (a random one, or the one titled `title`)."""
        bar = self.w.tabs.tabBar()
        titles = [self.w.tabs.tabText(i) for i in range(self.w.tabs.count())]
        i = titles.index(title) if title else self.rng.randrange(len(titles))
        QtTest.QTest.mouseClick(bar, Button.LeftButton, Mod.NoModifier, bar.tabRect(i).center())
        return titles[i].replace("&&", "&")

    def timeline(self):
        """A drag of the timeline's slider: pressed, moved through a few epochs, released."""
        slider = self.find(QtWidgets.QSlider, "timelineSlider")
        if not slider.isEnabled() or slider.maximum() == 0:
            return None
        slider.setSliderDown(True)
        for _ in range(self.rng.randint(1, 5)):
            slider.setValue(self.rng.randint(0, slider.maximum()))
        slider.setSliderDown(False)
        return f"to {slider.value()} of {slider.maximum()}"

    def branch(self):
        return self.click(self.find(QtWidgets.QPushButton, "continueButton"))

    def pin(self):
        self.tab("Runs")
        return self.click(self.find(QtWidgets.QPushButton, "pinButton"))

    def clear_pins(self):
        self.tab("Runs")
        return self.click(self.find(QtWidgets.QPushButton, "clearPinsButton"))

    def plot_click(self):
        """A left, right or Shift click somewhere on the decision plot (places or picks a point)."""
        plot = self.w.decision_plot
        if plot._dims != 2:
            return None
        (x0, x1), (y0, y1) = plot.plot.vb.viewRange()
        x, y = self.rng.uniform(x0, x1), self.rng.uniform(y0, y1)
        button, mods = self.rng.choice([(Button.LeftButton, Mod.NoModifier), (Button.RightButton, Mod.NoModifier),
                                        (Button.LeftButton, Mod.ShiftModifier)])
        port = plot.graphics.viewport()
        at = plot.graphics.mapFromScene(plot.plot.vb.mapViewToScene(QtCore.QPointF(x, y)))
        QtTest.QTest.mouseMove(port, at)
        QtTest.QTest.mouseClick(port, button, mods, at)
        return f"({x:.2f}, {y:.2f}) {button.name} {mods.name}"

    def undo(self):
        if not self.w.undo_action.isEnabled():
            return None
        text = self.w.undo_action.text()
        QtTest.QTest.keyClick(self.w, Key.Key_Z, Mod.ControlModifier)
        return text

    def gradcheck(self):
        self.tab("Gradient check")
        return self.click(self.find(QtWidgets.QPushButton, "gradCheckButton"))

    def lens(self):
        self.tab("Lens")
        name = self.rng.choice(["lensForward", "lensBackward", "lensPlay", "lensShowAll", "lensRestart"])
        return self.click(self.find(QtWidgets.QToolButton, name))

    def export(self):
        if not self.w.export_action.isEnabled():
            return None
        QtTest.QTest.keyClick(self.w, Key.Key_E, Mod.ControlModifier)
        return self.w.status.currentMessage() or "(no message)"

    def import_(self):
        if not self.w.import_action.isEnabled():
            return None
        self.w.import_action.trigger()
        return self.w.status.currentMessage() or "(nothing exported yet)"

    def restore_defaults(self):
        self.w.defaults_action.trigger()
        return "confirmed"


def report(soak, watch, minutes, seed, log_path):
    """Print what happened; True if every target was met."""
    print(f"\nsoak: {watch.elapsed() / 60:.1f} min, seed {seed}, log {log_path}")
    load = os.getloadavg()
    print(f"load average (1/5/15 min) at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} cores")
    done, skipped = sum(soak.done.values()), sum(soak.skipped.values())
    print(f"\nactions: {done} done, {skipped} skipped (control disabled at the time)")
    for kind in soak.kinds:
        if soak.done[kind] or soak.skipped[kind]:
            print(f"  {kind:<20} {soak.done[kind]:5d} done {soak.skipped[kind]:5d} skipped"
                  f"   slowest {soak.slowest[kind] * 1000:7.1f} ms")
    print(f"\nuncaught exceptions: {len(watch.exceptions)}")
    for text in watch.exceptions[:SHOWN_TRACEBACKS]:
        print(text)
    print(f"message boxes: {len(watch.boxes)}")
    for (kind, title, text), n in Counter(watch.boxes).most_common():
        print(f"  {n:4d} x {kind}: {title}: {text[:300]!r}")
    gap, at, action = watch.longest
    print(f"\nlongest event-loop gap: {gap:.0f} ms at {at:.1f} s, after {action}")
    print(f"gaps > {GAP_MS:.0f} ms: {len(watch.gaps)}")
    for g, t, a in sorted(watch.gaps, reverse=True)[:10]:
        print(f"  {g:6.0f} ms at {t:6.1f} s after {a}")
    print("views, slowest reset or draw first (ms):")
    for name, (n, total, worst) in sorted(watch.draws.items(), key=lambda kv: -kv[1][2]):
        print(f"  {name:<24} max {worst * 1000:7.1f}  mean {total / max(n, 1) * 1000:6.2f}  calls {n}")
    print(f"where the GUI thread was while the heartbeat was over {STALL_MS} ms late "
          f"(samples every {SAMPLE_MS} ms; our code's innermost lines first):")
    for (ours, inner), n in watch.stalls.most_common(15):
        print(f"  {n:5d}  {ours}\n         in {inner}")
    print("the other threads meanwhile (their innermost line):")
    for (name, where), n in watch.others.most_common(10):
        print(f"  {n:5d}  {name}: {where}")
    rise, slope = watch.second_half()
    ms = [m for _, m in watch.rss]
    print(f"\nRSS MiB: first {ms[0]:.0f}, min {min(ms):.0f}, max {max(ms):.0f}, last {ms[-1]:.0f} "
          f"({len(ms)} samples, every {RSS_EVERY_MS // 1000} s)")
    print("  " + " ".join(f"{t / 60:.1f}m:{m:.0f}" for t, m in watch.rss))
    print(f"second half: trend {slope:+.2f} MiB/min, rise {rise:+.1f} MiB")
    print("each minute's lowest: " + " ".join(f"{m:.0f}" for m in watch.minute_floors()))
    targets = {"no uncaught exception": not watch.exceptions,
               f"no gap > {GAP_MS:.0f} ms": not watch.gaps,
               f"flat memory (second-half rise < {FLAT_MIB:.0f} MiB)": rise < FLAT_MIB}
    for name, ok in targets.items():
        print(f"target {name}: {'met' if ok else 'MISSED'}")
    return all(targets.values())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log", help="the action log (default: soak-SEED.log in the temp folder)")
    args = ap.parse_args(argv)
    log_path = args.log or os.path.join(tempfile.gettempdir(), f"soak-{args.seed}.log")
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    print(f"soaking the checkout at {measured.revision()} for {args.minutes:g} min, seed {args.seed}, "
          f"platform {app.platformName()}", flush=True)
    faulthandler.enable()  # a crash in Qt's C++ still shows where Python was
    watch = Watch()
    watch.install_hooks()
    with tempfile.TemporaryDirectory() as folder, open(log_path, "w") as log:
        watch.patch_dialogs(folder)
        settings = QtCore.QSettings(os.path.join(folder, "settings.ini"), QtCore.QSettings.Format.IniFormat)
        w = MainWindow(settings=settings)
        w.resize(1400, 900)
        w.show()
        w.activateWindow()  # shortcuts (Ctrl+Z, Ctrl+E) go to the active window
        watch.time_views(w.views)
        soak = Soak(w, random.Random(args.seed), watch, log)

        heartbeat = QtCore.QTimer(timerType=QtCore.Qt.TimerType.PreciseTimer, interval=TICK_MS)
        heartbeat.timeout.connect(watch.tick)
        rss = QtCore.QTimer(interval=RSS_EVERY_MS)
        rss.timeout.connect(watch.sample_rss)
        pacer = random.Random(args.seed + 1)  # the pauses apart from the actions: same actions, same seed
        actor = QtCore.QTimer(singleShot=True)

        def next_action():
            soak.act()
            actor.start(pacer.randint(*ACTION_MS))
        actor.timeout.connect(next_action)
        loop = QtCore.QEventLoop()
        QtCore.QTimer.singleShot(int(args.minutes * 60_000), loop.quit)
        watch.sample_rss()
        heartbeat.start()
        rss.start()
        actor.start(ACTION_MS[0])
        stop = threading.Event()
        sampler = threading.Thread(target=watch.sample_stalls, args=(threading.get_ident(), stop), daemon=True)
        sampler.start()
        loop.exec()
        stop.set()
        sampler.join()
        for timer in (actor, heartbeat, rss):
            timer.stop()
        if watch.elapsed() - watch.rss[-1][0] > 1.0:  # the timer's last sample may be at the end: not twice
            watch.sample_rss()
        w.close()  # stops the worker and waits for it, as quitting does
        app.processEvents()
    ok = report(soak, watch, args.minutes, args.seed, log_path)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
