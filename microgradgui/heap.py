"""Freed memory handed back to the system, and the cyclic collector's full passes kept to
idle moments.

glibc keeps the pages of freed blocks in its heaps for later use. The window frees much in
pieces of every size (a restart of an 8 x 64 run: its Value graph, tape and buffers; each
frame's arrays, in two threads' arenas), and the 10-minute soak's RSS rose in steps to
400-680 MiB while the live Python and numpy data stayed near 100 MiB: `malloc_trim` then
gave 280 MiB back. Elsewhere than glibc this does nothing.

CPython starts a full collection whenever a quarter more objects have survived than at the
last one: a restart of 8 x 64 makes 30,000 (its `Value` network), so one came in the middle
of a click now and then, 40-60 ms on the window's 140,000 tracked objects. The window runs
them itself instead (`defer_full_collections`): every few seconds if CPython would have run one
by then (`collect_due`), and before each trim (in a turn of the event loop of its own).
"""
import ctypes
import gc

FULL_AFTER = gc.get_threshold()[2]  # middle-generation passes between two full ones: CPython's


def _malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def defer_full_collections() -> None:
    """No full collection but those `give_back` and `collect_due` run (process-wide)."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 2**31 - 1)


def collect() -> None:
    """A full collection now."""
    gc.collect()


def collect_due() -> None:
    """A full collection, if CPython would have run one by now."""
    if gc.get_count()[2] >= FULL_AFTER:
        gc.collect()


def give_back() -> bool:
    """Return the free pages of every heap to the system; False where that is not known how."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
