"""What the user sets by hand: points on the decision plot (the data becomes a custom set) and
weights or biases in the diagram, each an undoable command. A part of `MainWindow` (a mixin: it
uses the window's session, views and pause/resume), in a file of its own."""
from __future__ import annotations

import weakref

from PySide6 import QtGui

from micrograd.data import MAX_POINTS, add_point, remove_points
from micrograd.session import RESTART


class HandEdits:
    """Points and weights set by hand, for `MainWindow`."""

    def _on_point_added(self, inputs, target):
        spec = self.session.custom_data()
        self._edit_points("place a point", add_point(spec.points, inputs, target, spec.test_ratio))

    def _on_point_picked(self, x, y):
        """A point clicked on the decision plot: the Lens shows the graph of its loss."""
        self.lens_view.pick(x, y)
        self.tabs.setCurrentWidget(self.lens_view)

    def _on_area_cleared(self, low, high):
        points = self.session.custom_data().points
        kept = remove_points(points, low, high)
        if len(kept) < len(points):
            self._edit_points(f"remove {len(points) - len(kept)} points", kept)

    def _edit_points(self, text, points):
        """The data becomes a custom set of `points` (None: the points there are), undoably."""
        if points is not None and len(points) > MAX_POINTS:
            self.status.showMessage(f"A custom data set holds at most {MAX_POINTS:,} points.", 5000)
            return
        if self.session.dataset.X.shape[1] not in (1, 2):
            self.dialogs.error("Cannot place points", "Points placed by hand need data with 1 or 2 inputs; "
                               f"this data has {self.session.dataset.X.shape[1]}.")
            self.data_panel.sync(self.session.data, self.session.dataset)
            return
        self.undo_stack.push(DataEdit(self, text, self.session.data, self.session.custom_data(points)))

    def _use_data(self, spec):
        """Train on `spec` (points placed by hand): a running worker pauses, the run takes the
        points and goes on (or restarts, for another task), training resumes. True if done."""
        was_training = self._pause_and_wait()
        if self._busy():
            return False
        self._back_to_now()
        try:
            outcome = self.session.use_data(spec)
        except (ValueError, OSError) as e:
            self.status.showMessage(str(e), 5000)
            self._resume(was_training)
            return False
        if outcome == RESTART:
            self._adopt(self.session)
        else:
            self.data_panel.sync(self.session.data, self.session.dataset)
            self._sync_panels()
            setup = self.session.setup()
            for view in self.views:
                view.new_data(setup)
            self._show_edited()
            self._update_buttons()
        self._resume(was_training)
        return True

    def _on_parameter_edited(self, layer, neuron, input, value):
        """A weight or bias set by hand in the diagram, while paused: the run goes on from it."""
        if self.running:
            return
        try:
            old = self.session.set_parameter(layer, neuron, input, value)
        except (ValueError, IndexError) as e:
            self.status.showMessage(str(e), 5000)
            return
        self.undo_stack.push(ParameterEdit(self, (layer, neuron, input), old, value))
        self._show_edited()

    def _show_edited(self):
        """Every view at the weights now, with the loss they give (an edit is not an epoch)."""
        self.pump.draw_soon(self.session.snapshot(measure=True))


class ParameterEdit(QtGui.QUndoCommand):
    """A weight or bias set by hand: undo puts back the value it had. Only while the run is
    where it was edited: once training has gone on, the edit is part of the run's past."""

    def __init__(self, window, where, old, new):
        layer, neuron, input = where
        name = f"bias of neuron {layer},{neuron}" if input is None else f"w[{layer}][{neuron}][{input}]"
        super().__init__(f"set {name}")
        self.window, self.where, self.old, self.new = window, where, old, new
        # Weak: a command kept in the stack must not keep a run that has gone (its tape of
        # weights holds up to 32 MiB).
        self.run = (weakref.ref(window.session), weakref.ref(window.session.trainer), window.session.trainer.epoch)

    def _apply(self, value):
        session = self.window.session
        here = (session, session.trainer, session.trainer.epoch)
        if here != (self.run[0](), self.run[1](), self.run[2]) or self.window.running:
            self.setObsolete(True)  # dropped from the stack: there is nothing left to undo
            self.window.status.showMessage("That weight was set before training went on: not undone.", 4000)
            return
        session.set_parameter(*self.where, value)
        self.window._show_edited()

    def undo(self):
        self._apply(self.old)

    def redo(self):
        if self.window.session.trainer.theta[self.window.session.trainer.parameter_index(*self.where)] != self.new:
            self._apply(self.new)  # (the first redo is the push: the value is already set)

    def id(self):
        return 1

    def mergeWith(self, other):
        """Turning the mouse wheel over one weight is one edit, not one per notch."""
        if other.where != self.where or other.run != self.run:
            return False
        self.new = other.new
        return True


class DataEdit(QtGui.QUndoCommand):
    """Points placed or removed by hand: undo brings back the data there was (a built-in set
    the first edit made custom, too), and the run goes on with it. Only while the data is still
    what the edit left: another data set chosen since is not undone."""

    def __init__(self, window, text, old, new):
        super().__init__(text)
        self.window, self.old, self.new = window, old, new

    def _apply(self, now, then):
        if self.window.session.data != now:
            self.setObsolete(True)
            self.window.status.showMessage("The data has changed since: not undone.", 4000)
        elif not self.window._use_data(then):
            self.setObsolete(True)

    def undo(self):
        self._apply(self.new, self.old)

    def redo(self):
        self._apply(self.old, self.new)
