"""Input fields shared by the panels and the views."""
from __future__ import annotations

from PySide6 import QtGui, QtWidgets


class NumberBox(QtWidgets.QDoubleSpinBox):
    """A number field that keeps any float of its range exactly and shows it short: 0.01,
    2.5e-07, 3000000000. (A QDoubleSpinBox rounds its value to its decimals: a rate of 1e-9
    from a model file would become 0, a seed past 2**31 would not fit a QSpinBox at all.)"""

    def __init__(self, integer=False):
        super().__init__()
        self.integer = integer
        self.setDecimals(0 if integer else 323)  # 323: no rounding of any double

    def textFromValue(self, value):
        return f"{value:.0f}" if self.integer else f"{value:.15g}"

    def valueFromText(self, text):
        return float(text)

    def validate(self, text, pos):
        state = QtGui.QValidator.State
        try:
            value = float(text)
        except ValueError:  # "1e", "-", "": on the way to a number
            return state.Intermediate, text, pos
        ok = self.minimum() <= value <= self.maximum() and not (self.integer and value != int(value))
        return (state.Acceptable if ok else state.Intermediate), text, pos
