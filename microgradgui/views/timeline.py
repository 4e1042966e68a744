"""The run's timeline: a slider to show every view as it was at an earlier epoch, and to branch."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from .base import LiveView


class Timeline(LiveView, QtWidgets.QWidget):
    """Epoch 0 to where the run is. Dragging it (while paused) asks the window to show that
    epoch (`scrubbed`: the session keeps the weights of evenly spaced epochs, so the nearest
    kept one at or before it); the right end is the run as it is. *Continue from here* asks for
    a branch from the epoch shown (`branchRequested`). While training the slider follows the run."""

    title = "Timeline"

    scrubbed = QtCore.Signal(int)
    branchRequested = QtCore.Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("timeline")
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setObjectName("timelineSlider")
        self.slider.setToolTip("Drag (while paused) to see the run at an earlier epoch")
        self.label = QtWidgets.QLabel()
        self.label.setObjectName("timelineLabel")
        self.label.setMinimumWidth(150)
        self.continue_button = QtWidgets.QPushButton("Continue from here")
        self.continue_button.setObjectName("continueButton")
        self.continue_button.setToolTip("Go on from the epoch shown, with the settings now; the run it leaves "
                                        "stays in the loss plot (dotted) and in Runs")
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 2)
        layout.addWidget(QtWidgets.QLabel("Timeline"))
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.continue_button)
        self.slider.valueChanged.connect(self.scrubbed)
        self.continue_button.clicked.connect(lambda: self.branchRequested.emit(self.shown))
        self.live = 0    # the run's epoch
        self.shown = 0   # the epoch on show
        self._show(0, 0)

    def prepare(self, setup) -> None:
        self._show(0, 0)

    def present(self, snapshot) -> None:
        if snapshot.rewound:
            self._show(snapshot.epoch, self.live)
        else:
            self._show(snapshot.epoch, snapshot.epoch)

    def set_running(self, running: bool) -> None:
        self.slider.setEnabled(not running)
        self.continue_button.setEnabled(not running and self.shown < self.live)

    def _show(self, shown, live) -> None:
        self.shown, self.live = shown, live
        blocked = self.slider.blockSignals(True)
        self.slider.setRange(0, live)
        if self.slider.value() != shown and not self.slider.isSliderDown():
            self.slider.setValue(shown)
        self.slider.blockSignals(blocked)
        self.label.setText(f"epoch {shown:,} of {live:,}" if shown < live else f"epoch {live:,} (now)")
        self.continue_button.setEnabled(self.slider.isEnabled() and shown < live)
