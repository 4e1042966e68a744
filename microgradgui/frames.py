"""The frame pump: the worker's frames, drawn on every registered view.

Frames that arrive while one is being drawn are merged (every epoch they carry, the latest
weights). A frame is drawn in short steps, one view (or one part of a view, see
`LiveView.draw_parts`) per turn of the event loop, each view painted at once: a timer or a
click waits for one part at most, never a whole frame. The worker waits for the last step
(its `FrameGate`, see worker.py), so no paint pass runs against a busy worker.
"""
from __future__ import annotations

import dataclasses
import functools
import time

from PySide6 import QtCore


def merge(snapshots):
    """One snapshot for several in a row: the last one, carrying every epoch of them all."""
    if len(snapshots) == 1:
        return snapshots[0]
    return dataclasses.replace(snapshots[-1], new=tuple(e for s in snapshots for e in s.new))


class FramePump(QtCore.QObject):
    drawn = QtCore.Signal()  # every view shows the latest snapshot received

    def __init__(self, views, parent):
        super().__init__(parent)
        self.views = views
        self.tag = 0  # the current session's; frames of another are stale
        self._pending = []
        self._scheduled = False
        self._drawing = 0  # frames whose steps are still queued
        self._soon = None  # the steps left of a `draw_soon`
        self._next = None  # a `draw_latest`'s snapshot, waiting for the `draw_soon` under way

    @property
    def idle(self):
        """Nothing received is left to draw."""
        return not self._pending and not self._drawing

    def new_session(self):
        """Drop what is pending: the session was reset or replaced. Returns the tag that
        workers of the new session put in their frames."""
        self.tag += 1
        self._soon = self._next = None
        for frame in self._pending:
            if frame.gate is not None:
                frame.gate.done()
        self._pending.clear()
        return self.tag

    def draw_now(self, snapshot):
        """Draw `snapshot` on every view at once (no worker is waiting)."""
        self._next = None  # older than `snapshot`
        self.catch_up()
        for view in self.views:
            view.draw(snapshot)
        self.drawn.emit()

    def draw_soon(self, snapshot):
        """Draw `snapshot` on every view in steps, the first now: a restart of an 8 x 64 run
        drew its views in one turn (0.2-0.6 s under load, the decision surface most of it).
        A `draw_now` first runs what is left of it, a worker's frames wait for its end: no view
        shows an older snapshot after a newer one, and each view takes the epochs in order."""
        self._next = None  # older than `snapshot`
        self.catch_up()
        self._soon = self._parts(snapshot)
        self._drawing += 1
        self._step(self.tag, self._soon, [], time.perf_counter())

    def draw_latest(self, snapshot):
        """`draw_soon`, or after the one under way, in place of any snapshot waiting for it: a
        drag of the timeline asks for a draw on each move, and drew every view in the move's
        turn (0.3 s at 8 x 64, the decision surface most of it); the positions it passes over
        are not drawn. Only for snapshots that bring no new epochs: a view may miss one."""
        assert not snapshot.new, "a view would miss these epochs"
        if self._soon:
            self._next = snapshot
        else:
            self.draw_soon(snapshot)

    def catch_up(self):
        """Run what is left of a `draw_soon` (and a `draw_latest` waiting for it) now."""
        steps, self._soon = self._soon, None
        while steps:  # emptied here, its queued `_step` only ends the frame
            if not steps[0]():
                steps.pop(0)
            self._go_on(steps)
        if self._pending:
            self._schedule()

    @QtCore.Slot(object)
    def push(self, frame):
        if frame.tag != self.tag:
            if frame.gate is not None:
                frame.gate.done()  # a stopped worker may still wait on it
            return
        self._pending.append(frame)
        self._schedule()

    def _schedule(self):
        if not self._scheduled:
            self._scheduled = True
            QtCore.QTimer.singleShot(0, self.flush)

    def flush(self):
        """Start drawing what is pending (called from the event loop, or to catch up at once)."""
        self._scheduled = False
        if self._soon:
            return  # after the `draw_soon` under way: its last step flushes
        pending, self._pending = self._pending, []
        if not pending:
            return
        snapshot = merge([f.snapshot for f in pending])
        gates = [f.gate for f in pending if f.gate is not None]
        if not gates or not self.parent().isVisible():
            self.draw_now(snapshot)
            for g in gates:
                g.done(0.0)
            return
        steps = []
        for view, step in zip(self.views, self._parts(snapshot)):
            steps.append(step)
            if view.isVisible():
                steps.append(_paint_now)
        self._drawing += 1
        self._step(self.tag, steps, gates, time.perf_counter())

    def _step(self, tag, steps, gates, started):
        """Run the next step of a frame and queue the rest. A session reset between two steps
        changes the tag: the remaining steps would draw the old session over the new one, so
        they are dropped. The frame's cost, which the worker spaces its frames by, is the time
        from its first step to its last: the paint passes between the steps are most of it
        (3 times the steps' own time at full pace on the demo network)."""
        current = tag == self.tag
        if current and steps:
            if not steps[0]():  # a step returns True while it has parts left
                steps.pop(0)
            if steps is self._soon:
                self._go_on(steps)
            if steps:
                QtCore.QTimer.singleShot(0, self, functools.partial(self._step, tag, steps, gates, started))
                return
        cost = time.perf_counter() - started
        self._drawing -= 1
        if steps is self._soon:
            self._soon = None
            if self._pending:
                self._schedule()
        for g in gates:
            g.done(cost)  # a worker still waiting on a dropped frame is being stopped: release it
        if current:
            self.drawn.emit()

    def _go_on(self, steps):
        """A `draw_soon`'s `steps` run out: those of the `draw_latest` waiting come next."""
        if not steps and self._next is not None:
            steps.extend(self._parts(self._next))
            self._next = None

    def _parts(self, snapshot):
        return [functools.partial(_next_part, view.draw_parts(snapshot)) for view in self.views]


_DONE = object()


def _next_part(parts) -> bool:
    """Draw a view's next part; False once it has none left."""
    return next(parts, _DONE) is not _DONE


def _paint_now():
    """Deliver the views' queued updates and the paint passes they request now, while the
    worker waits for this frame, not later from the event loop against a busy worker."""
    QtCore.QCoreApplication.sendPostedEvents()
