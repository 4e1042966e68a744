"""Freed memory handed back to the system.

glibc keeps the pages of freed blocks in its heaps for later use. The window frees much in
pieces of every size (a restart of an 8 x 64 run: its Value graph, tape and buffers; each
frame's arrays, in two threads' arenas), and the 10-minute soak's RSS rose in steps to
400-680 MiB while the live Python and numpy data stayed near 100 MiB: `malloc_trim` then
gave 280 MiB back. Elsewhere than glibc this does nothing.
"""
import ctypes


def _malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def give_back() -> bool:
    """Return the free pages of every heap to the system; False where that is not known how."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
