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
memory, and each returns its part's roots (:class:`ProcessPool`).  Processes share no GIL,
so they beat threads on the wide networks too (the same code on two cores: 2-256-256-256-2
ReLU 1.4-1.8 ms per slice on two processes against 1.6-2.1 on two threads, 2-128-128-2
sigmoid 0.70-0.83 against 0.85-1.09).  Each process keeps to the memory budget of a block,
not of each part: twice the lines per block made the 256-wide net 10-15% faster, but its
processes 34 MiB larger together (PSS), past 300 MiB.  BLAS is held to one thread in each
thread or process (threadpoolctl): its own threads would compete with these.

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
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import pairwise
from typing import Any

import numpy as np

from netbound import heap
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

__all__ = ["ProcessPool", "available_workers", "check_workers", "solve_flat"]


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


def _forks(margin: Margin, workers: int) -> bool:
    """Whether blocks are split between forked processes where the caller allows them (long
    enough blocks)."""
    return workers > 1 and _between(margin) >= MIN_PROCESS_WEIGHTS and _can_fork()


def solve_flat(
    margin: Margin,
    base: FloatArray,
    axis: int,
    window: tuple[float, float] | None,
    workers: int = 1,
    processes: bool | ProcessPool = False,
) -> _Flat:
    """:func:`netbound.solver._solve_flat` on up to ``workers`` forked processes (with
    ``processes``, on networks large enough), else on threads where that pays.

    ``processes`` may be a :class:`ProcessPool`, whose workers then serve every block of a
    run; ``True`` forks workers for this block alone.
    """
    n = base.shape[0]
    if workers <= 1 or n < MIN_LINES:
        return _solve_flat(margin, base, axis, window)
    if _pooled(margin, n, workers, processes):
        if isinstance(processes, ProcessPool):
            return processes.solve(margin, base, axis, window)
        with ProcessPool([margin], workers) as one_off:
            return one_off.solve(margin, base, axis, window)
    if not _pays(margin):
        return _solve_flat(margin, base, axis, window)
    parts = max(workers, -(-n // PART_LINES))
    edges = np.linspace(0, n, parts + 1).astype(int).tolist()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        executor = ThreadPoolExecutor(workers, thread_name_prefix="netbound")
        try:
            futures: list[Future[_Flat]] = [
                executor.submit(_solve_flat, margin, base[a:b], axis, window)
                for a, b in pairwise(edges)
            ]
            flats = [f.result() for f in futures]
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        executor.shutdown()
    return _join(flats)


def submit_flat(
    margin: Margin,
    base: FloatArray,
    axis: int,
    window: tuple[float, float] | None,
    workers: int = 1,
    processes: bool | ProcessPool = False,
) -> Callable[[], _Flat]:
    """:func:`solve_flat`, started: the returned function waits for the lines.  On a
    :class:`ProcessPool`'s workers the parts are queued and solved meanwhile; otherwise
    (no pool, a network too small for one, too few lines) the lines are solved at once."""
    if isinstance(processes, ProcessPool) and _pooled(margin, base.shape[0], workers, processes):
        return processes.submit(margin, base, axis, window)
    flat = solve_flat(margin, base, axis, window, workers, processes)
    return lambda: flat


def _pooled(margin: Margin, n: int, workers: int, processes: bool | ProcessPool) -> bool:
    """Whether ``n`` lines of ``margin`` go to worker processes."""
    return processes is not False and n >= MIN_PROCESS_LINES and _forks(margin, workers)


#: The margins whose lines forked workers solve: set by the parent just before the fork, so
#: that each worker finds them in its copy of the parent's memory.
_MARGINS: tuple[Margin, ...] = ()
_LIMITS: Any = None


def _worker_start() -> None:
    """In each worker: the parent handles interrupts, and BLAS keeps to one thread."""
    global _LIMITS
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from threadpoolctl import threadpool_limits

    _LIMITS = threadpool_limits(1, user_api="blas")


def _solve_part(
    index: int, base: FloatArray, axis: int, window: tuple[float, float] | None
) -> _Flat:
    return _solve_flat(_MARGINS[index], base, axis, window)


class ProcessPool:
    """``workers`` forked worker processes kept for a run of blocks of the same margins.

    The workers are forked at the first block they solve, after the parent has solved its
    first :data:`WARM_LINES` lines: the modules and caches the solver loads on first use are
    then in memory for the workers, instead of loaded by each (half a second of scipy's root
    finder alone).  Each block is then cut into one part per worker, sent with its lines (a
    few kilobytes), the margin being in the workers' memory since the fork: forking once
    for the run instead of once per block saves the fork, the workers' first writes to the
    memory they share with the parent (copied page by page) and their start.  A caller
    may hand out the next block (:meth:`submit`) before waiting for this one, so that a
    worker done with its part goes on instead of waiting for the block's slowest (the parts
    of a block on the 256x3 ReLU net took 3-14% apart).  Leaving the context (also on an
    error, an interrupt or a consumer that stops early) ends the workers.
    """

    def __init__(self, margins: Sequence[Margin], workers: int) -> None:
        self.margins = tuple(margins)
        self.workers = workers
        self._pool: Any = None

    def __enter__(self) -> ProcessPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the workers (if any were forked)."""
        global _MARGINS
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None
            _MARGINS = ()

    @property
    def forked(self) -> bool:
        """Whether the workers are running."""
        return self._pool is not None

    def solve(
        self,
        margin: Margin,
        base: FloatArray,
        axis: int,
        window: tuple[float, float] | None,
    ) -> _Flat:
        """The lines ``base`` of ``margin`` (one of this pool's), one part per worker."""
        return self.submit(margin, base, axis, window)()

    def submit(
        self,
        margin: Margin,
        base: FloatArray,
        axis: int,
        window: tuple[float, float] | None,
    ) -> Callable[[], _Flat]:
        """:meth:`solve`, started: the parts are queued for the workers, and the returned
        function waits for them.  A worker that finishes its part takes the next one
        queued, of a later block too: handing out the next block before waiting for this
        one saves the workers from waiting for the slowest part of each block."""
        global _MARGINS
        index = next(i for i, m in enumerate(self.margins) if m is margin)
        head: list[_Flat] = []
        if self._pool is None:
            head.append(_solve_flat(margin, base[:WARM_LINES], axis, window))
            base = base[WARM_LINES:]
            _MARGINS = self.margins
            heap.release_freed_memory()
            self._pool = _forked_pool(self.workers)
        # One part per worker: on the smaller of these networks a line costs little, and a
        # block of thousands of lines is solved several times faster per line than parts of
        # PART_LINES.  An interrupt ends the workers at once, so it need not wait for a part.
        edges = np.linspace(0, base.shape[0], self.workers + 1).astype(int).tolist()
        parts = [(index, base[a:b], axis, window) for a, b in pairwise(edges)]
        pending = self._pool.starmap_async(_solve_part, parts, chunksize=1)
        return lambda: _join([*head, *pending.get()])


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
