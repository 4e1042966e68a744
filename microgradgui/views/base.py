"""The one interface every live view speaks.

The window calls these methods on each view in its list, and nothing else:

* `reset(setup)` when the network or the data change (a `micrograd.session.Setup`: the
  settings and the train/test data), before any snapshot of the new session;
* `draw(snapshot)` for every frame (a `micrograd.session.Snapshot`: plain, immutable data),
  or `draw_parts(snapshot)`, the same as a generator (the frame pump runs one part per turn);
* `new_data(setup)` when points placed by hand change under a run that goes on (a view that
  shows the data redraws it; the others keep their curves).

`LiveView` implements `reset` and `draw` on top of three hooks a view overrides: `prepare(setup)` builds
what the view shows for this network and data; `take(snapshot)` keeps what must not be
missed (the epochs of a curve: cheap, runs for every snapshot); `present(snapshot)` draws;
`when_shown(build)` puts off building what only a visible view needs.
A view that cannot be seen (another tab) skips `present` and draws its latest snapshot when
it is shown (a part per turn of the event loop), so hidden views cost next to nothing. A
`present` or a build too long for one turn (the decision surface or the lens of an 8x64
network) is written as a generator: it yields between parts, and the frame pump runs one
part per turn (`draw_parts`).
"""
from __future__ import annotations

import functools

from PySide6 import QtCore

_DONE = object()


class LiveView:
    """Mixin for a QWidget subclass: `class LossView(LiveView, QtWidgets.QWidget)`."""

    title = "view"  # the tab and the "Save Plot as PNG" menu use it

    _latest = None
    _stale = False
    _put_off = None      # what `when_shown` put off
    _building = None     # the parts left of a build begun (a build may be a generator)
    _catching_up = None  # the parts of what a view just shown draws, a part per turn

    def reset(self, setup) -> None:
        self._latest, self._stale, self._catching_up = None, False, None
        self._put_off = self._building = None
        self.prepare(setup)

    def draw(self, snapshot) -> None:
        for _ in self.draw_parts(snapshot):
            pass

    def draw_parts(self, snapshot):
        """`draw`, one part per iteration."""
        self.take(snapshot)
        self._latest = snapshot
        if self._hidden():
            self._stale = True
        else:
            self._stale, self._catching_up = False, None  # this draw is newer than the catch-up's
            yield from self._build_parts()  # parts of their own: at 8 x 64 a build takes up to a turn
            yield from self.present(snapshot) or ()

    def when_shown(self, build) -> None:
        """Call `build()` before the view next draws, or when it is next shown if it is hidden:
        a view in a tab behind another builds its plots for a new network only if it is looked
        at (at 8 x 64 the weights' took 220 ms, the distributions' 170, the lens's layout 90, on
        every edit in the designer), and a visible one builds in a part of its draw, not in
        the turn of the restart with every other view's. The latest build replaces one put
        off or under way before it."""
        self._put_off, self._building = build, None

    @property
    def unbuilt(self) -> bool:
        """A build is put off or under way: what the view holds is for another network."""
        return self._put_off is not None or self._building is not None

    def build_now(self) -> None:
        """Run what `when_shown` put off, if anything, or the rest of it (a call that needs it
        before the view's next draw, or while it is hidden)."""
        for _ in self._build_parts():
            pass

    def _build_parts(self):
        """What `when_shown` put off, a part at a time: a build may be a generator, yielding
        between its parts."""
        if self._put_off is not None:
            build, self._put_off = self._put_off, None
            self._building = iter(build() or ())
        while self._building is not None:
            if next(self._building, _DONE) is _DONE:
                self._building = None
            else:
                yield

    def _hidden(self) -> bool:
        # Offscreen (no window shown: a benchmark, a script) nothing is hidden: everything draws.
        return not self.isVisible() and self.window().isVisible()

    def showEvent(self, event):
        """Build and draw what was put off while hidden, a part per turn of the event loop: in
        one turn, showing the lens of 8 x 64 took 120-300 ms. A draw that comes meanwhile
        supersedes it (it builds what is left, then draws a newer snapshot)."""
        super().showEvent(event)
        if self.unbuilt or (self._stale and self._latest is not None):
            self._catching_up = parts = self._shown_parts()
            self._catch_up(parts)

    @property
    def caught_up(self) -> bool:
        """Nothing put off while hidden is left to draw."""
        return self._catching_up is None

    def _shown_parts(self):
        yield from self._build_parts()
        if self._stale and self._latest is not None:
            self._stale = False
            yield from self.present(self._latest) or ()

    def _catch_up(self, parts):
        if self._catching_up is not parts:
            return  # superseded
        if next(parts, _DONE) is _DONE:
            self._catching_up = None
        else:
            QtCore.QTimer.singleShot(0, self, functools.partial(self._catch_up, parts))

    # hooks -----------------------------------------------------------------------------------
    def prepare(self, setup) -> None:
        """Build for the network and data of `setup` (the curves start empty)."""

    def new_data(self, setup) -> None:
        """The points of `setup` replace the data the run trains on; it goes on."""

    def take(self, snapshot) -> None:
        """Keep what this snapshot adds (called for every snapshot, shown or not)."""

    def present(self, snapshot) -> None:
        """Draw `snapshot` (or yield between its parts)."""
