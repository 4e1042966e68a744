"""Picture of the lens mid-pass: docs/lens.png.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/lens_shot.py [--layers 16,16] [--open 0,5]
        [--back 6] [--out docs/lens.png]

Trains the default session (moons, 2-16-16-1) for `--epochs`, shows the lens view at the size its
tab has in the window at 1400 x 900, on the first training sample whose loss is not 0, opens the
neurons of `--open` (layer,index; repeat it), and steps the backward pass `--back` nodes in,
then grabs the view (and with `--whole`, the whole graph through the view's own PNG export).
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from PySide6 import QtWidgets  # noqa: E402

from micrograd.config import Config, DataSpec  # noqa: E402
from micrograd.session import Session  # noqa: E402
from microgradgui.views.lens import LensView  # noqa: E402

TAB = (1010, 304)  # the bottom tab's page in the window at its default size


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", default="16,16", help="hidden layer sizes")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--open", action="append", default=[], help="a neuron to open: layer,index")
    ap.add_argument("--back", type=int, default=6, help="backward steps to take (0: the whole graph)")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "lens.png"))
    ap.add_argument("--whole", help="also save the whole graph as this PNG")
    args = ap.parse_args(argv)
    _app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    hidden = [int(v) for v in args.layers.split(",")]
    session = Session(Config(layers=[*hidden, 1], activations=["relu"] * len(hidden) + ["linear"]),
                      DataSpec("moons"))
    for _ in range(args.epochs):
        session.step()
    view = LensView()
    view.resize(*TAB)
    view.show()
    view.reset(session.setup())
    view.draw(session.snapshot())
    for i in range(len(session.train)):
        view.pick(session.train.X[i], session.train.y[i])
        if view.graph.loss > 0:
            break
    for neuron in args.open:
        view.toggle(("n", *(int(v) for v in neuron.split(","))))
    if args.back:
        view.restart()
        while view.forward():
            pass
        for _ in range(args.back):
            view.backward()
    QtWidgets.QApplication.processEvents()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    ok = view.grab().save(args.out, "PNG")
    print(f"{args.out}: {'saved' if ok else 'FAILED'} ({session.config.inputs}-{args.layers}-1, "
          f"epoch {session.trainer.epoch}, {len(view.nodes)} nodes drawn)")
    if args.whole:
        view.save(args.whole)
        print(f"{args.whole}: saved")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
