"""Solving a block of lines on several threads or processes.

The lines of a block are independent, and numpy's loops and BLAS products release the GIL,
so parts of a block can be solved on threads at once.  That pays only where the products
dominate: on networks with at least :data:`MIN_WEIGHTS` weights between hidden layers, two
threads take 0.5-0.7 of the time of one (measured on two cores); on smaller networks the
Python between numpy calls, which holds the GIL, dominates and threads gain nothing (two
threads took 1.2-1.3 times as long as one on the 64-wide benchmark nets).  Where the caller
allows it (``processes``, as the CLI does), a long block is split between worker processes
instead, on every network with at least :data:`MIN_PROCESS_WEIGHTS` weights between hidden
layers: forked (Linux only), so that they start in milliseconds with the network already in
memory, and each returns its part's roots.  Processes share no GIL, so they beat threads on
the wide networks too: 2-256-256-256-2 ReLU took 1.68-1.79 ms per slice on two processes and
1.77-2.12 on two threads, 2-128-128-2 sigmoid 0.70-0.76 and 0.95-1.09.  Each process keeps to
the memory budget of a block (not each part): twice the lines per block made the 256-wide
net 10-15% faster but its processes 34 MiB larger together (PSS), past 300 MiB.  BLAS is held to one
thread in each thread or process (threadpoolctl): its own threads would compete with these.

A part of at most :data:`PART_LINES` lines takes well under a second even on a 256-wide
net, so an interrupt waits at most that long for the parts already started; worker
processes ignore the interrupt and are ended by the parent.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import pairwise
from typing import Any

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
#: Fewer lines than this are not split between processes: forking and gathering the
#: results cost a few milliseconds, a hundred lines' work on the smallest networks that use
#: processes.  (A block on the widest benchmark network holds 1020 lines per process.)
MIN_PROCESS_LINES = 512
#: Weights between hidden layers from which processes pay (a 32 x 32 layer): on smaller
#: networks a line costs so little that a worker's start (its first writes to the memory it
#: shares with the parent are copied page by page) costs more than it saves; 10^4 slices of
#: the seed 2-3-2 network took 0.52-0.59 s on two processes and 0.25-0.53 s on one.
MIN_PROCESS_WEIGHTS = 32 * 32
#: Lines solved before the workers are forked (see :func:`solve_flat`).
WARM_LINES = 32

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


def _between(margin: Margin) -> int:
    """The weights between hidden layers."""
    return sum(layer.weights.size for layer in margin.hidden[1:])


def _pays(margin: Margin) -> bool:
    return _between(margin) >= MIN_WEIGHTS


def _can_fork() -> bool:
    # fork is the start method that shares the network without pickling it; elsewhere
    # than Linux it is unsafe with some BLAS libraries (macOS's Accelerate).
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def _forks(margin: Margin, workers: int, processes: bool) -> bool:
    """Whether blocks are split between forked processes (long enough ones)."""
    big = _between(margin) >= MIN_PROCESS_WEIGHTS
    return workers > 1 and processes and big and _can_fork()


def solve_flat(
    margin: Margin,
    base: FloatArray,
    axis: int,
    window: tuple[float, float] | None,
    workers: int = 1,
    processes: bool = False,
) -> _Flat:
    """:func:`netbound.solver._solve_flat` on up to ``workers`` forked processes (with
    ``processes``, on networks large enough), else on threads where that pays."""
    n = base.shape[0]
    if workers <= 1 or n < MIN_LINES:
        return _solve_flat(margin, base, axis, window)
    if _forks(margin, workers, processes) and n >= MIN_PROCESS_LINES:
        # The first lines of the first such block here: the modules and caches the solver
        # loads on first use are then in memory for the workers, instead of loaded by each
        # (half a second of scipy's root finder alone); later blocks fork from a parent
        # that has them.  Then one part per worker: on the smaller of these networks a
        # line costs little, and a block of thousands of lines is solved several times
        # faster per line than parts of PART_LINES.  An interrupt ends the workers at once,
        # so it need not wait for a part.
        global _WARMED
        head = [] if _WARMED else [_solve_flat(margin, base[:WARM_LINES], axis, window)]
        _WARMED = True
        start = WARM_LINES if head else 0
        edges = np.linspace(start, n, workers + 1).astype(int).tolist()
        return _join([*head, _on_processes(margin, base, axis, window, workers, edges)])
    if not _pays(margin):
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


#: The block that forked workers solve parts of: set by the parent just before the fork,
#: so that each worker finds it in its copy of the parent's memory.
_JOB: tuple[Margin, FloatArray, int, tuple[float, float] | None] | None = None
_LIMITS: Any = None
#: Whether this process has solved the lines that warm it up for forking (see
#: :func:`solve_flat`).
_WARMED = False


def _worker_start() -> None:
    """In each worker: the parent handles interrupts, and BLAS keeps to one thread."""
    global _LIMITS
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from threadpoolctl import threadpool_limits

    _LIMITS = threadpool_limits(1, user_api="blas")


def _solve_part(a: int, b: int) -> _Flat:
    assert _JOB is not None  # set before the fork
    margin, base, axis, window = _JOB
    return _solve_flat(margin, base[a:b], axis, window)


def _on_processes(
    margin: Margin,
    base: FloatArray,
    axis: int,
    window: tuple[float, float] | None,
    workers: int,
    edges: list[int],
) -> _Flat:
    """The parts of a block between ``edges`` solved on ``workers`` forked processes, in
    order.  Leaving the pool (also on an error or an interrupt) ends the workers."""
    global _JOB
    _JOB = (margin, base, axis, window)
    try:
        with _forked_pool(workers) as pool:
            flats = pool.starmap(_solve_part, pairwise(edges), chunksize=1)
    finally:
        _JOB = None
    return _join(flats)


def _forked_pool(workers: int) -> Any:
    """A pool of ``workers`` forked processes that ignore interrupts from their start: an
    interrupt (Ctrl-C reaches the whole process group) between the fork and the workers'
    own setting would print a traceback from the worker.  The parent ignores it only while
    forking (where it can: the main thread sets signal handlers)."""
    context = multiprocessing.get_context("fork")
    if threading.current_thread() is not threading.main_thread():
        return context.Pool(workers, _worker_start)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return context.Pool(workers, _worker_start)
    finally:
        signal.signal(signal.SIGINT, previous)


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
