"""What the network diagram opens on a neuron or a link: the neuron shown large (its output
over the input plane, its bias and weights) and a small editor for one weight or bias."""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ..fields import NumberBox

CARD_PX = 150  # the neuron's picture, pixels a side
SHOWN_WEIGHTS = 8  # listed on the card; the rest are in the heatmaps


class NeuronCard(QtWidgets.QFrame):
    """A neuron, large: what it computes over the input plane, its bias (editable while the
    run is paused) and its first weights. Lives in a corner of the diagram."""

    biasEdited = QtCore.Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("neuronCard")
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.title = QtWidgets.QLabel()
        self.title.setObjectName("neuronCardTitle")
        self.picture = QtWidgets.QLabel()
        self.picture.setFixedSize(CARD_PX, CARD_PX)
        self.picture.setToolTip("Its output over the input plane: red positive, blue negative, white 0")
        self.bias = NumberBox()
        self.bias.setObjectName("biasEditor")
        self.bias.setRange(-1e300, 1e300)
        self.bias.setKeyboardTracking(False)
        self.bias.setToolTip("Its bias; type a value or turn the mouse wheel (while paused)")
        self.bias.valueChanged.connect(self.biasEdited)
        self.weights = QtWidgets.QLabel()
        self.weights.setObjectName("neuronCardWeights")
        self.weights.setWordWrap(True)
        form = QtWidgets.QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("bias", self.bias)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.title)
        lay.addWidget(self.picture)
        lay.addLayout(form)
        lay.addWidget(self.weights)
        self.setFixedWidth(CARD_PX + 14)
        self.hide()

    def show_neuron(self, title, image, bias=None, weights=None, editable=False):
        """Show a neuron: `image` a QImage of its output (or None), `bias` None for an input."""
        self.title.setText(title)
        if image is None:
            self.picture.clear()
        else:
            self.picture.setPixmap(QtGui.QPixmap.fromImage(image).scaled(
                CARD_PX, CARD_PX, QtCore.Qt.AspectRatioMode.IgnoreAspectRatio,
                QtCore.Qt.TransformationMode.FastTransformation))
        self.bias.setVisible(bias is not None)
        self.layout().itemAt(2).layout().labelForField(self.bias).setVisible(bias is not None)
        if bias is not None:
            self.bias.blockSignals(True)
            self.bias.setValue(bias)
            self.bias.setSingleStep(max(abs(bias), 1e-3) / 10)
            self.bias.blockSignals(False)
        self.bias.setEnabled(editable)
        if weights is not None:
            shown = ", ".join(f"{w:.3g}" for w in weights[:SHOWN_WEIGHTS])
            more = f", … ({len(weights)} in all)" if len(weights) > SHOWN_WEIGHTS else ""
            self.weights.setText(f"weights: {shown}{more}")
        else:
            self.weights.clear()
        self.adjustSize()
        self.show()
        self.raise_()


class ValueEditor(QtWidgets.QFrame):
    """A small editor for one weight at the place it was clicked: type a value (Enter) or turn
    the mouse wheel over it; Escape or a click elsewhere closes it."""

    edited = QtCore.Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("weightEditor")
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.label = QtWidgets.QLabel()
        self.box = NumberBox()
        self.box.setObjectName("weightEditorBox")
        self.box.setRange(-1e300, 1e300)
        self.box.setKeyboardTracking(False)
        self.box.valueChanged.connect(self.edited)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.addWidget(self.label)
        lay.addWidget(self.box)
        self.hide()

    def open(self, label, value, scale, at: QtCore.QPoint):
        """Edit `value` (the mouse wheel steps by a twentieth of `scale`, its layer's)."""
        self.label.setText(label)
        self.box.blockSignals(True)
        self.box.setValue(value)
        self.box.setSingleStep(scale / 20)
        self.box.blockSignals(False)
        self.adjustSize()
        parent = self.parentWidget().rect()
        self.move(min(at.x(), parent.width() - self.width()), min(at.y(), parent.height() - self.height()))
        self.show()
        self.raise_()
        self.box.setFocus()
        self.box.selectAll()

    def keyPressEvent(self, event):
        if event.key() == QtCore.Qt.Key.Key_Escape:
            self.hide()
        else:
            super().keyPressEvent(event)


def output_image(values, grid, lut):
    """A QImage of one neuron's outputs over a grid x grid plane (values in -1..1 at full colour)."""
    index = np.clip(np.nan_to_num((np.asarray(values) + 1) * 127.5, nan=127.5), 0, 255).astype(np.uint8)
    rgb = np.ascontiguousarray(lut[index.reshape(grid, grid)[::-1]])
    image = QtGui.QImage(rgb.data, grid, grid, 3 * grid, QtGui.QImage.Format.Format_RGB888)
    return image.copy()
