"""Keeping freed memory for reuse: glibc's allocator, tuned for netbound's temporaries.

numpy allocates a fresh buffer for every temporary.  netbound evaluates cells, points and
pieces in blocks whose temporaries (128 KiB to a few MiB each, tens of MiB per block on a
256-wide net) are all freed when the block ends.  Whenever glibc gives such memory back to the
kernel, the next block faults the same pages in again, one 4 KiB page at a time.  Two settings
(mallopt(3)) keep it:

* ``M_TOP_PAD``: the memory glibc keeps at the top of the heap when it trims, and adds when
  the heap grows.  Measured on a 2-64-64-2 tanh network: one Taylor-model cell took 16.4 us
  with the pages returned and 10.9 us with them kept; whole slices 350 and 222 us.
* ``M_MMAP_THRESHOLD``: requests at least this large get pages of their own from the kernel
  (mmap), returned when freed.  glibc starts at 128 KiB and raises it as such blocks are
  freed, but setting any of these parameters turns that adjustment off (mallopt(3)), so with
  the pad alone every temporary above 128 KiB was mapped and faulted in afresh: 200 to 500
  page faults per slice on 2-256-256-256-2 ReLU, a quarter of its time spent in the kernel.
  It is set to 32 MiB, the most glibc's own adjustment would reach: larger arrays still go
  back to the kernel when freed.

Resident memory grows only by pages that were touched, and at most by the pad.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Any

#: mallopt's parameter numbers for the top pad and the mmap threshold (glibc's malloc.h).
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
#: Memory kept at the top of the heap: more than one evaluation block's temporaries on any
#: network netbound solves in bounded memory (16 MiB was too little for two threads on a
#: 256-wide net).
TOP_PAD = 64 << 20
#: Requests below this come from the heap (and so from the pad): glibc's largest default.
MMAP_THRESHOLD = 32 << 20

__all__ = ["keep_freed_memory", "release_freed_memory"]


def _libc(name: str) -> Any:
    """The C library's function ``name`` on Linux, or None (elsewhere, or where the C library
    lacks it: musl has no ``malloc_trim``)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


def keep_freed_memory(pad: int = TOP_PAD, mmap_threshold: int = MMAP_THRESHOLD) -> bool:
    """Ask glibc to keep ``pad`` bytes of freed memory at the top of the heap for reuse, and
    to serve requests below ``mmap_threshold`` bytes from the heap.

    Process-wide, so the command-line tool calls it for its own process; a library user may
    set ``MALLOC_TOP_PAD_`` and ``MALLOC_MMAP_THRESHOLD_`` in the environment instead.
    Returns whether the pad was set: not off Linux, not where the C library has no
    ``mallopt`` or refuses it (musl), and not where ``MALLOC_TOP_PAD_`` already holds the
    user's own choice (``MALLOC_MMAP_THRESHOLD_`` likewise keeps theirs).
    """
    if "MALLOC_TOP_PAD_" in os.environ:
        return False
    mallopt = _libc("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if not mallopt(M_TOP_PAD, int(pad)):
        return False
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        mallopt(M_MMAP_THRESHOLD, int(mmap_threshold))
    return True


def release_freed_memory() -> bool:
    """Give the heap's freed memory back to the kernel now (glibc's ``malloc_trim``).

    Before forking worker processes: what the parent keeps for reuse would otherwise be
    resident in each worker too, once touched.  On the 256x3 ReLU network the CLI and its two
    workers peaked at 327 MiB together with it (PSS 257 MiB), 371 MiB without (PSS 300 MiB).
    Returns whether it ran (glibc on Linux only).
    """
    trim = _libc("malloc_trim")
    if trim is None:
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    trim(0)
    return True
