"""`python -m microgradgui` / the `microgradgui` gui-script: open micrograd studio."""
import sys


def main(argv=None):
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(list(sys.argv if argv is None else argv))
    app.setOrganizationName("micrograd")
    app.setApplicationName("studio")
    app.setApplicationDisplayName("micrograd studio")
    from .window import MainWindow

    window = MainWindow()
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
