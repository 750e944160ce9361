"""Keeping freed memory for reuse: glibc's allocator, tuned for netbound's temporaries.

numpy allocates a fresh buffer for every temporary.  netbound evaluates cells and points in
blocks whose temporaries (128 KiB to 2 MiB each, a few MiB per block) are all freed when the
block ends.  Whenever more than glibc's trim threshold is free at the top of the heap, glibc
returns it to the kernel, and the next block faults the same pages in again, one 4 KiB page
at a time.  How often that happens depends on the process's history (glibc raises its
thresholds after large frees), so the same solve can run at very different speeds.  Measured
on a 2-64-64-2 tanh network: one Taylor-model cell took 16.4 us with the pages returned and
10.9 us with them kept; whole slices 350 and 222 us.

``M_TOP_PAD`` (mallopt(3)) is the memory glibc keeps at the top of the heap when it trims and
adds when the heap grows.  Unlike an explicit trim threshold it leaves glibc's dynamic mmap
threshold on, so large arrays are still returned to the kernel when freed.  Resident memory
grows only by pages that were touched, and at most by the pad.
"""

from __future__ import annotations

import ctypes
import os
import sys

#: mallopt's parameter number for the top pad (glibc's malloc.h).
M_TOP_PAD = -2
#: Memory kept at the top of the heap: more than one evaluation block's temporaries on any
#: network netbound solves in bounded memory (16 MiB was too little for two threads on a
#: 256-wide net).
TOP_PAD = 64 << 20

__all__ = ["keep_freed_memory"]


def keep_freed_memory(pad: int = TOP_PAD) -> bool:
    """Ask glibc to keep ``pad`` bytes of freed memory at the top of the heap for reuse.

    Process-wide, so the command-line tool calls it for its own process; a library user may
    set ``MALLOC_TOP_PAD_`` in the environment instead.  Returns whether the pad was set:
    not off Linux, not where the C library has no ``mallopt`` or refuses it (musl), and not
    where ``MALLOC_TOP_PAD_`` already holds the user's own choice.
    """
    if not sys.platform.startswith("linux") or "MALLOC_TOP_PAD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_TOP_PAD, int(pad)))
