"""OpenBLAS on one thread.

NOTE: on a 2-core machine shared with other work, a multi-threaded OpenBLAS stalls 10x
on our small matrices (a 64x65 @ 65x2000 product: 15 ms instead of 0.6), and in the
window, where the worker trains on one core, a view's product woken onto two threads
waits for the busy one: an 8x64 network's decision surface took 0.3-1.4 s a frame. The
compiled engine computes on one thread (like the torch1 baseline), and the window's
process keeps BLAS on one thread for good (`single_blas_thread`): each Python thread
then has a core of its own.
"""


def _find_blas():
    """(get, set) of OpenBLAS's thread count, found in the loaded libraries, or None."""
    import ctypes
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return None
    for path in sorted(libs):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "64_"), ("openblas", ""), ("scipy_openblas", "")):
            try:
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}")
                put = getattr(lib, f"{prefix}_set_num_threads{suffix}")
            except AttributeError:
                continue
            get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
            return get, put
    return None


_BLAS = _find_blas()


class one_blas_thread:
    """Run the block with OpenBLAS on one thread (no-op where it cannot be found).

    A class, not a generator-based context manager: the compiled engine enters it twice an
    epoch, thousands of epochs a second, and a generator's machinery cost twice as much."""

    __slots__ = ("_before",)

    def __enter__(self):
        self._before = _BLAS[0]() if _BLAS is not None else 1
        if self._before != 1:
            _BLAS[1](1)

    def __exit__(self, *exc):
        if self._before != 1:
            _BLAS[1](self._before)


def single_blas_thread():
    """OpenBLAS on one thread from now on, for the whole process (no-op where it cannot be found)."""
    if _BLAS is not None:
        _BLAS[1](1)
