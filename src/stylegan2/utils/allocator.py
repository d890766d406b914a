"""Keep freed activation memory in the process instead of handing it back to the OS (glibc malloc)."""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD = -1  # mallopt: free heap top above this size is returned to the OS
_M_MMAP_THRESHOLD = -3  # mallopt: blocks at least this large get their own mmap (and munmap when freed)
_MMAP_THRESHOLD_MAX = 32 << 20  # glibc's upper limit on 64-bit systems


def keep_freed_memory(trim_threshold: int = 1 << 30) -> bool:
    """Ask glibc's malloc to keep freed activation memory (up to `trim_threshold` bytes) for reuse.

    A CPU training step frees and reallocates hundreds of MB of activations; trimmed pages must be
    faulted in and zeroed again on the next step (see docs/experiments/speed.md). Returns False
    where this malloc has no `mallopt` (not Linux/glibc).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # Setting either option freezes glibc's adaptive mmap threshold, so set both: blocks up to 32 MB
    # come from the heap, and the heap is not trimmed below `trim_threshold` of free space.
    return mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX) == 1 and mallopt(_M_TRIM_THRESHOLD, trim_threshold) == 1
