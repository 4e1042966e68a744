"""The command line: `micrograd train | predict | info | export | gradcheck` (also `python -m micrograd`).

    micrograd train --dataset moons --epochs 100 --out model.json
    micrograd train --csv points.csv --label kind --layers 8,8 --activation tanh --out m.json
    micrograd predict model.json --x 0.5,-0.2
    micrograd predict model.json --csv points.csv
    micrograd info model.json
    micrograd export model.json --format onnx --out model.onnx
    micrograd gradcheck model.json

Exit status: 0 on success, 2 on bad usage or bad input (one line on stderr, no
traceback), 1 if the model (or its export) could not be written, 3 if `predict` got an output
that is not a finite number (nan or inf, e.g. from a model that diverged): every
row is still printed, that output as nan/inf with an empty class, and one line
on stderr names the inputs (CSV lines or --x numbers); 130 if training was
interrupted with Ctrl-C (the model and summary are still written). `gradcheck` exits with 0
when the gradient passes and 1 when it fails.

arguments.py parses the flags into settings, progress.py reports on stderr,
commands.py runs each command.
"""
from __future__ import annotations

import os
import sys

from .. import modelfile
from ..data import DataError
from .arguments import PROG, UsageError, build_parser, join_negative_values
from .commands import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, export, gradcheck, info, predict, train
from .progress import Progress

__all__ = ["main", "build_parser", "Progress", "UsageError"]


def main(argv=None, stdout=None, stderr=None):
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = build_parser()
    argv = join_negative_values(sys.argv[1:] if argv is None else list(argv))
    try:
        a = parser.parse_args(argv)
        commands = {"train": train, "predict": predict, "info": info, "export": export, "gradcheck": gradcheck}
        return commands[a.command](a, out, err)
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else EXIT_OK
    except (UsageError, DataError, modelfile.ModelFileError, ValueError) as e:
        msg = " ".join(str(e).split())  # always one line
        err.write(f"{PROG}: error: {msg}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.write(f"\n{PROG}: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `micrograd predict ... | head`: stop quietly
        try:  # as the Python docs advise: keep the interpreter's final flush from failing again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_FAIL
