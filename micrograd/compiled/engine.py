"""`CompiledEngine`: the compiled program behind `train.ValueEngine`'s interface, on one BLAS thread."""
import collections
import threading

import numpy as np

from ..blas import one_blas_thread
from ..nn import MLP
from .emit import Program

CHUNK_BYTES = 64 << 20  # per-chunk budget for the row buffers; bigger batches run in chunks


_PROGRAMS = collections.OrderedDict()  # (shape of an MLP, loss) -> Program, the latest last
_PROGRAMS_LOCK = threading.Lock()
MAX_PROGRAMS = 8


def _program(model, loss, check=None):
    """A Program for `model` and `loss`: for an MLP, the one compiled for its shape if there is one.
    A compile calls `check` as `Program` does, outside the lock: a check may wait for the
    window's turn, and the window's own thread may want a program meanwhile (`Trainer.measure`).
    Two threads compiling one shape at once both compile; the first one kept serves from then on."""
    if type(model) is not MLP:  # any other Module, a subclass too: its structure is not known before tracing
        return Program(model, loss, check)
    key = (model.nin, tuple(model.sizes), tuple(model.activations), loss)
    with _PROGRAMS_LOCK:
        if key in _PROGRAMS:
            _PROGRAMS.move_to_end(key)  # the latest last
            return _PROGRAMS[key]
    program = Program(model, loss, check)
    with _PROGRAMS_LOCK:
        program = _PROGRAMS.setdefault(key, program)
        _PROGRAMS.move_to_end(key)
        while len(_PROGRAMS) > MAX_PROGRAMS:
            _PROGRAMS.popitem(last=False)
        return program


class CompiledEngine:
    """Same interface as `train.ValueEngine`: loss(theta, X, Y), loss_and_grad(theta, X, Y).

    Takes the program of an earlier engine for an MLP of the same shape and loss (a Reset, a
    new seed or the next run of an evals session costs no compile), else compiles one. Any
    other model (a subclass of MLP too) is compiled in the constructor, which raises
    `Unsupported` for what it cannot handle; an MLP (which always compiles) is compiled on
    first use, so a new network costs the thread that trains it, not the window's (8 x 64:
    0.1-0.4 s), and a pause stops it (the `check` of the call that compiles). Like every
    engine it gives the data loss; the Trainer adds the penalties on theta.
    """

    name = "compiled"
    fallback_reason = None

    def __init__(self, model, cfg):
        self.model, self.cfg = model, cfg
        self.chunk = None  # samples per chunk; None: as many as CHUNK_BYTES of row buffers hold
        # Any other model is compiled now: make_engine falls back on Unsupported.
        self._program = None if type(model) is MLP else _program(model, cfg.loss)

    @property
    def program(self):
        return self._compiled()

    def _compiled(self, check=None):
        if self._program is None:
            self._program = _program(self.model, self.cfg.loss, check)
        return self._program

    def _run(self, theta, X, Y, want_grad, check):
        n = len(X)
        if n == 0:
            raise ValueError("an empty batch has no loss")
        program = self._compiled(check)
        size = self.chunk or max(64, CHUNK_BYTES // (8 * 3 * max(program.nrows, 1)))
        X = np.asarray(X, dtype=float).reshape(n, program.nin)
        Y = np.asarray(Y, dtype=float).reshape(n, program.nout)
        seed = 1.0 / n if program.reduce == "mean" else 1.0
        with program.lock:  # one program, maybe several engines (and threads): one call at a time
            np.copyto(program.theta, theta)
            if n <= size:  # the common case, without slicing and joining
                total, out, grad = self._chunk(program, X, Y, seed, want_grad)
            else:
                parts = []
                for i in range(0, n, size):
                    parts.append(self._chunk(program, X[i:i + size], Y[i:i + size], seed, want_grad))
                    if check is not None:
                        check(min(i + size, n) / n)
                total = sum(part[0] for part in parts)
                out = np.concatenate([part[1] for part in parts])
                grad = sum(part[2] for part in parts) if want_grad else None
        loss = total * (1.0 / n) if program.reduce == "mean" else total
        return (loss, grad, out) if want_grad else (loss, out)

    @staticmethod
    def _chunk(program, X, Y, seed, want_grad):
        """(summed loss, outputs, gradient or None) of one chunk of the batch."""
        bound = program.bind(len(X))
        total = bound.forward(X, Y)
        out = bound.values[bound.output_rows].T.copy()
        if not want_grad:
            return total, out, None
        bound.backward(seed)
        return total, out, program.theta_grad.copy()

    # NOTE: where the Value engine raises (exp/pow overflow, log of a non-positive
    # number) we return inf/nan, silently; the Trainer stops such a run as diverged.
    # `check(fraction)`, if given, is called between the chunks of a batch too big for one
    # (see train.ValueEngine), and with 0.0 while the first call compiles the program; a
    # batch of one chunk is too quick to need it.
    def loss(self, theta, X, Y, check=None):
        """(data loss, outputs (n, outputs)) at theta, no gradient."""
        with one_blas_thread(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._run(theta, X, Y, False, check)

    def loss_and_grad(self, theta, X, Y, check=None):
        """(data loss, d loss / d theta, outputs) at theta."""
        with one_blas_thread(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._run(theta, X, Y, True, check)
