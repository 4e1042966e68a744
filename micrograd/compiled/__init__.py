"""Trace the scalar graph once, replay it over the whole batch.

The `Value` engine builds, every step and for every sample, the same graph
of scalar nodes; only the numbers change. Here we build it once, for one
symbolic sample (placeholder leaves for the inputs and targets, the model's
own parameter Values), and compile it into a program over *rows*: a row is
one scalar node, holding its value for every sample of the batch.

The compiler's jobs, one module each:

* trace.py  - run the model and per-sample loss on the symbolic sample and read
  the graph into a plain IR, through `Value`'s public graph API.
* layout.py - fuse: nodes at the same depth doing the same thing become one numpy
  call on a block of rows. `dot` nodes (a neuron's weighted sum) at one depth that
  read the same inputs in the same order are a layer: one `W @ X` with the bias
  folded in as a column of W against a row of ones. Same-op elementwise nodes
  (`tanh`, `+`, `**2`, ...) at one depth: one call on a (k, batch) block. Then lay
  the rows out so a fused group's outputs are contiguous and in the order the next
  group reads them: blocks are views, not copies.
* emit.py   - generate straight-line Python (one numpy call per line, every buffer
  and view preallocated and bound by name), compiled once per batch size. Unary ops
  call the op table's numpy forms (`micrograd.ops.UNARY`), so a new op needs no
  compiler change. Where the layout cannot give views it gathers (`np.take`) and,
  only where one group writes one row twice, uses `np.add.at`. A training step of a
  3-4-4-1 network is ~40 numpy calls.
* engine.py - `CompiledEngine`, the program behind `train.ValueEngine`'s interface,
  with OpenBLAS held to one thread.

The program holds the model and the per-sample loss, summed (`total` of one term is
the term itself) and reduced over the batch as `LOSSES` says. The L1/L2 penalties
involve only the parameters: the Trainer adds them on theta, for every engine alike.

Anything the compiler does not know raises `Unsupported`; `make_engine` in
`train.py` then falls back to the `Value` engine and records why.

NOTE: the batch is summed in a different order than the `Value` engine does
(BLAS dot products, numpy's pairwise sums), so results agree to rounding
(~1e-15 relative), not bit for bit.
"""
from .emit import Program
from ..blas import one_blas_thread
from .engine import CompiledEngine
from .trace import Unsupported, trace

__all__ = ["CompiledEngine", "Program", "Unsupported", "one_blas_thread", "trace"]
