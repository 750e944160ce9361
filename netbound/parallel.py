"""Solving a block of lines on several threads.

The lines of a block are independent, and numpy's loops and BLAS products release the GIL,
so parts of a block can be solved on threads at once.  That pays only where the products
dominate: on networks with at least :data:`MIN_WEIGHTS` weights between hidden layers, two
threads take 0.5-0.7 of the time of one (measured on two cores); on smaller networks the
Python between numpy calls, which holds the GIL, dominates and threads gain nothing, so
they are not used.  BLAS is held to one thread meanwhile (threadpoolctl): its own threads
would compete with these, and with them the gain was under 10%.

A part of at most :data:`PART_LINES` lines takes well under a second even on a 256-wide
net, so an interrupt waits at most that long for the parts already started.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import pairwise

import numpy as np

from netbound.errors import OptionError
from netbound.margin import Margin
from netbound.network import FloatArray
from netbound.solver import _Flat, _solve_flat

#: Weights between hidden layers from which threads pay (a 128 x 128 layer).
MIN_WEIGHTS = 128 * 128
#: Most lines per part of a block.
PART_LINES = 256
#: Fewer lines than this are solved on one thread.
MIN_LINES = 128

__all__ = ["available_workers", "check_workers", "solve_flat"]


def available_workers() -> int:
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def check_workers(workers: int | None) -> int:
    """``workers`` as a count: None means every available CPU."""
    if workers is None:
        return available_workers()
    if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or workers < 1:
        raise OptionError(f"workers={workers!r}: must be an integer >= 1 (or None: every CPU)")
    return int(workers)


def _pays(margin: Margin) -> bool:
    return sum(layer.weights.size for layer in margin.hidden[1:]) >= MIN_WEIGHTS


def solve_flat(
    margin: Margin,
    base: FloatArray,
    axis: int,
    window: tuple[float, float] | None,
    workers: int = 1,
) -> _Flat:
    """:func:`netbound.solver._solve_flat` on up to ``workers`` threads, where that pays."""
    n = base.shape[0]
    if workers <= 1 or n < MIN_LINES or not _pays(margin):
        return _solve_flat(margin, base, axis, window)
    parts = max(workers, -(-n // PART_LINES))
    edges = np.linspace(0, n, parts + 1).astype(int).tolist()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        pool = ThreadPoolExecutor(workers, thread_name_prefix="netbound")
        try:
            futures: list[Future[_Flat]] = [
                pool.submit(_solve_flat, margin, base[a:b], axis, window)
                for a, b in pairwise(edges)
            ]
            flats = [f.result() for f in futures]
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    return _join(flats)


def _join(flats: list[_Flat]) -> _Flat:
    """The flat results of consecutive parts as one."""
    out = _Flat([], [], [0], [], [], [], [], [])
    for f in flats:
        offset = out.bounds[-1]
        out.t += f.t
        out.kind += f.kind
        out.bounds += [offset + b for b in f.bounds[1:]]
        out.unresolved += f.unresolved
        out.everywhere += f.everywhere
        out.counts += f.counts
        out.lo += f.lo
        out.hi += f.hi
    return out
