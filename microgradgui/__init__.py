"""micrograd studio's window (PySide6 + pyqtgraph); the engine is `micrograd`, which never imports Qt."""


def __getattr__(name):
    # Lazy: `import microgradgui` stays cheap; the window (and Qt) load on first use.
    if name == "MainWindow":
        from .window import MainWindow
        return MainWindow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["MainWindow"]
