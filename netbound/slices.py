"""Solving a boundary on a family of parallel lines: the public ``solve`` and ``solve_iter``.

Each value of the swept input gives one line along the solved-for input (the other inputs
fixed); the lines are solved together by the certified solver (:mod:`netbound.solver`).  For
argmax / argmin every pair of outputs is solved and a pairwise root is kept where that pair
is on top (or at the bottom) of all outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import combinations, islice
from pathlib import Path
from typing import Any, Literal

import numpy as np

from netbound import enclosure
from netbound.boundary import Boundary, decision_of
from netbound.errors import OptionError
from netbound.margin import Margin
from netbound.network import FloatArray, Network
from netbound.parallel import ProcessPool, check_workers, submit_flat
from netbound.solver import CHUNK, Kind, Root, SliceResult, _Flat, chunk_size
from netbound.sweeps import check_limit, input_limit

__all__ = ["class_roots", "solve", "solve_boundary", "solve_iter"]


def _values(x2: Any) -> Iterable[float]:
    """Refuse up front what cannot be a sequence of swept values (scipy's convention)."""
    if isinstance(x2, str | bytes):
        raise OptionError(f"x2={x2!r}: expected a sequence of numbers, got a string")
    if isinstance(x2, int | float | np.number):
        raise OptionError(f"x2={x2!r}: expected a sequence of numbers, e.g. [{x2!r}]")
    if isinstance(x2, np.ndarray) and x2.ndim != 1:
        raise OptionError(f"x2: expected one dimension, got an array of shape {x2.shape}")
    return x2  # type: ignore[no-any-return]


_PLAIN = frozenset({float, int, np.float64, np.float32, np.int64, np.int32})


def _floats(block: list[Any]) -> FloatArray:
    """The block as floats; a string, a bool or a non-finite value is refused by value."""
    plain = all(type(v) in _PLAIN for v in block)  # the common case, checked cheaply
    out = np.array(block, dtype=np.float64) if plain else np.empty(len(block))
    if not plain:
        for i, v in enumerate(block):
            if isinstance(v, str | bytes | bool):
                raise OptionError(f"x2 value {v!r} is not a number")
            try:
                out[i] = float(v)
            except (TypeError, ValueError):
                raise OptionError(f"x2 value {v!r} is not a number") from None
    bad = ~np.isfinite(out)
    if np.any(bad):
        raise OptionError(f"x2 value {block[int(np.argmax(bad))]!r} is not finite")
    return out


def solve_boundary(
    boundary: Boundary,
    x2: Iterable[float],
    *,
    chunk: int = CHUNK,
    workers: int | None = None,
    processes: bool = False,
) -> Iterator[SliceResult]:
    """Every root of ``boundary`` on the line at each swept value, lazily, in order.

    Memory stays bounded however long ``x2`` is: values are solved ``chunk`` at a time (at
    most, by a memory budget), with ``processes`` on up to ``workers`` forked
    processes where the network is large enough (Linux), else on up to ``workers`` threads
    (None: every CPU) where that gains (see :mod:`netbound.parallel`).
    """
    if boundary.sweep is None:
        n = boundary.network.n_inputs
        raise OptionError(
            f"the network has {n} input; netbound solves for x1 along lines of constant x2, "
            "which needs at least two inputs (along solves on any line)"
        )
    if not isinstance(chunk, int) or chunk < 1:
        raise OptionError(f"chunk={chunk!r}: must be an integer >= 1")
    threads = check_workers(workers)
    # Inputs whose pre-activations could overflow are refused, as by the CLI: beyond that
    # the rounding bounds no longer hold (on a 128x128 leaky-ReLU net, x2 = 1e160 gave 253
    # "roots", none of them a sign change).
    limit = input_limit(boundary.network)
    for name, v in boundary.at.items():
        check_limit(v, limit, f"at {name}:")
    values = iter(_values(x2))
    # Lines per block by a memory budget too, so that a wide network's peak memory does not
    # grow with the number of slices.
    chunk = min(chunk, *(chunk_size(m) for m in boundary.margins))
    blocks = _blocks(boundary, values, chunk, limit)
    # Worker processes, where used, serve every block (forked at the first that needs them).
    with ProcessPool(boundary.margins, threads) as pool:
        procs: bool | ProcessPool = pool if processes else False
        if boundary.by_class:
            for block, base in blocks:
                yield from _class_results(boundary, base, block, threads, procs)
            return
        margin, axis, window = boundary.margins[0], boundary.solve_for, boundary.window

        def start(item: tuple[FloatArray, FloatArray]) -> tuple[FloatArray, Callable[[], _Flat]]:
            return item[0], submit_flat(margin, item[1], axis, window, threads, procs)

        ahead: tuple[FloatArray, Callable[[], _Flat]] | None = None
        deferred: Exception | None = None
        while True:
            if ahead is None:
                first = next(blocks, None)
                if first is None:
                    return
                ahead = start(first)
            (block, wait), ahead = ahead, None
            if pool.forked:
                # The workers get the next block before this one is waited for; an error in
                # reading or starting it is raised after this block's results, as it would
                # be without the look-ahead.
                try:
                    nxt = next(blocks, None)
                    if nxt is not None:
                        ahead = start(nxt)
                except Exception as exc:
                    deferred = exc
            flat = wait()
            roots = _roots(flat)
            b = flat.bounds
            for i, value in enumerate(block.tolist()):
                yield SliceResult(
                    value,
                    tuple(roots[b[i] : b[i + 1]]),
                    tuple(sorted(flat.unresolved[i])) if flat.unresolved[i] else (),
                    flat.everywhere[i],
                    not flat.unresolved[i],
                    flat.counts[i],
                )
            if deferred is not None:
                raise deferred


def _blocks(
    boundary: Boundary, values: Iterator[float], chunk: int, limit: float
) -> Iterator[tuple[FloatArray, FloatArray]]:
    """The swept values ``chunk`` at a time, checked, with their lines' base points."""
    while True:
        block = _floats(list(islice(values, chunk)))
        if block.size == 0:
            return
        big = np.abs(block) > limit
        if np.any(big):
            at = float(block[int(np.argmax(big))])
            check_limit(at, limit, f"{boundary.sweep_name} value")
        yield block, boundary.bases(block)


def _roots(flat: Any) -> list[Root]:
    """Roots with their enclosures when the solver provides them."""
    lo = getattr(flat, "lo", None)
    hi = getattr(flat, "hi", None)
    new = tuple.__new__  # Root is a NamedTuple: skip its per-call argument handling
    if lo is None or hi is None:
        return [new(Root, (t, k, None, None, None)) for t, k in zip(flat.t, flat.kind, strict=True)]
    return [
        new(Root, (t, k, None, None, (a, b)))
        for t, k, a, b in zip(flat.t, flat.kind, lo, hi, strict=True)
    ]


def solve_iter(
    network: Network,
    x2: Iterable[float],
    *,
    between: tuple[str, str] | None = None,
    threshold: float | None = None,
    argmax: bool = False,
    decision: Literal["argmax", "argmin"] | None = None,
    solve_for: str | None = None,
    sweep: str | None = None,
    at: Mapping[str, float] | None = None,
    x1_range: tuple[float, float] | None = None,
    chunk: int = CHUNK,
    workers: int | None = None,
) -> Iterator[SliceResult]:
    """Like :func:`solve`, but lazily: slices are solved ``chunk`` at a time.

    Memory stays bounded however long ``x2`` is; results come out in input order.  The
    options are checked when this is called, before the first slice is solved.
    """
    boundary = Boundary.resolve(
        network,
        between=between,
        threshold=threshold,
        decision=decision_of(argmax, decision),
        solve_for=solve_for,
        sweep=sweep,
        at=at,
        x1_range=x1_range,
    )
    values = _values(x2)
    # solve_boundary checks its options when first advanced: with no values, that is all.
    next(solve_boundary(boundary, [], chunk=chunk, workers=workers), None)
    return solve_boundary(boundary, values, chunk=chunk, workers=workers)


def solve(
    network: Network,
    x2: Iterable[float],
    *,
    between: tuple[str, str] | None = None,
    threshold: float | None = None,
    argmax: bool = False,
    decision: Literal["argmax", "argmin"] | None = None,
    solve_for: str | None = None,
    sweep: str | None = None,
    at: Mapping[str, float] | None = None,
    x1_range: tuple[float, float] | None = None,
    workers: int | None = None,
) -> list[SliceResult]:
    """Every point of the decision boundary on each line, certified.

    Parameters
    ----------
    network
        The network (see :func:`netbound.load`).
    x2
        Values of the swept input; one result per value, in order.
    between
        The two outputs whose boundary ``z_a = z_b`` is sought; default the first two.
    threshold
        For single-output networks: the boundary is ``z = threshold`` (default 0.5 for a
        sigmoid output, 0 otherwise).
    argmax
        Find where the predicted class (the largest output) changes instead; the same as
        ``decision="argmax"``.
    decision
        ``"argmax"`` or ``"argmin"`` (cost networks: the lowest output is the decision).
        Each root then carries the classes on its two sides.
    solve_for, sweep
        Names of the input solved for (default the first) and of the swept input (default
        the second).
    at
        Values of every other input, by name.
    x1_range
        Search only ``lo <= x <= hi`` of the solved-for input; default the whole real line
        (for an NNet file, the input's ``[min, max]``).
    workers
        Threads to solve on: at most this many (default None: every CPU); networks with
        fewer than 128 x 128 weights between hidden layers use one, as threads do not pay
        there.  While threads run, BLAS is held to one thread of its own.

    Returns
    -------
    list of SliceResult
        One per swept value.

    Raises
    ------
    OptionError
        An inconsistent choice (a ``ValueError``); the message names the parameter.
    TypeError
        ``network`` is not a :class:`Network` (a path, say).

    Examples
    --------
    >>> import netbound
    >>> net = netbound.Network.from_layers([([[1.0, 1.0]], [0.0], "sigmoid")])
    >>> [r.x1 for r in netbound.solve(net, [0.5])[0].roots]
    [-0.5]
    """
    if isinstance(network, str | Path):
        raise TypeError(
            f"solve takes a Network, got the path {str(network)!r}; load it first: "
            f"netbound.solve(netbound.load({str(network)!r}), ...)"
        )
    return list(
        solve_iter(
            network,
            x2,
            between=between,
            threshold=threshold,
            argmax=argmax,
            decision=decision,
            solve_for=solve_for,
            sweep=sweep,
            at=at,
            x1_range=x1_range,
            workers=workers,
        )
    )


# -- argmax and argmin ----------------------------------------------------------------------


def _class_results(
    boundary: Boundary,
    base: FloatArray,
    x2: FloatArray,
    workers: int,
    processes: bool | ProcessPool,
) -> Iterator[SliceResult]:
    axis, window = boundary.solve_for, boundary.window
    per_line = class_roots(boundary, base, axis, window, workers, processes)
    for s, (found, unresolved, complete, evaluations) in enumerate(per_line):
        yield SliceResult(
            float(x2[s]),
            tuple(found),
            tuple(unresolved),
            False,
            complete and not unresolved,
            evaluations,
        )


def class_roots(
    boundary: Boundary,
    base: FloatArray,
    axis: int,
    window: tuple[float, float] | None,
    workers: int = 1,
    processes: bool | ProcessPool = False,
) -> list[tuple[list[Root], list[tuple[float, float]], bool, int]]:
    """Where the decided class (argmax or argmin) changes along the lines ``base + t e_axis``.

    Returns, per line: the roots (with ``from_output``/``to_output``), the unresolved
    intervals not provably dominated by a third output, whether every pair was solved
    completely, and the number of margin evaluations.
    """
    net = boundary.network
    sign = 1.0 if boundary.decision == "argmax" else -1.0
    # All pairs' parts are handed to the workers (if any) before the first is waited for.
    waits = [submit_flat(m, base, axis, window, workers, processes) for m in boundary.margins]
    flats = [wait() for wait in waits]
    roots = [_roots(flat) for flat in flats]
    pairs = list(combinations(range(net.n_outputs), 2))
    out = []
    for s in range(base.shape[0]):
        found: list[Root] = []
        unresolved: list[tuple[float, float]] = []
        complete = True
        evaluations = 0
        for (a, b), flat, pair_roots in zip(pairs, flats, roots, strict=True):
            evaluations += flat.counts[s]
            complete &= not flat.unresolved[s]
            if flat.everywhere[s]:
                continue
            for root in pair_roots[flat.bounds[s] : flat.bounds[s + 1]]:
                change = _class_change(net, sign, base[s], axis, root, a, b)
                if change is not None:
                    found.append(change)
            for u_lo, u_hi in flat.unresolved[s]:
                if not _dominated(boundary, sign, base[s], axis, u_lo, u_hi, a, b):
                    unresolved.append((u_lo, u_hi))
        found.sort(key=lambda r: r.x1)
        out.append((found, sorted(unresolved), complete, evaluations))
    return out


def _class_change(
    net: Network, sign: float, base: FloatArray, axis: int, root: Root, a: int, b: int
) -> Root | None:
    """The class change at a root of ``pre_a - pre_b``, or None if another class decides."""
    t, kind = root.x1, root.kind
    x = base.copy()
    x[axis] = t
    pre = sign * net.preactivations(x[None, :])[0]
    scale = float(np.max(np.abs(pre))) + 1.0
    tol = 1e-9 * scale
    top = max(pre[a], pre[b])
    others = np.delete(pre, [a, b])
    if others.size and np.max(others) > top + tol:
        return None
    names = net.output_names
    step = 1e-7 * max(1.0, abs(t))
    xs = np.stack([x, x])
    xs[0, axis], xs[1, axis] = t - step, t + step
    side = np.argmax(sign * net.preactivations(xs), axis=1)
    left, right = names[int(side[0])], names[int(side[1])]
    if kind == "crossing" and left == right:
        left, right = (names[b], names[a]) if side[1] == a else (names[a], names[b])
    k: Kind = kind
    return Root(t, k, left, right, root.enclosure)


def _dominated(
    boundary: Boundary,
    sign: float,
    base: FloatArray,
    axis: int,
    lo: float,
    hi: float,
    a: int,
    b: int,
) -> bool:
    """True when some third output provably decides (is above both a and b for argmax,
    below both for argmin) on ``[lo, hi]``."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return False
    n = boundary.network.n_outputs
    pairs = list(combinations(range(n), 2))
    for c in range(n):
        if c in (a, b):
            continue
        wins = True
        for other in (a, b):
            key = (min(c, other), max(c, other))
            margin: Margin = boundary.margins[pairs.index(key)]
            w, cc, cabs = margin.line_affine(base[None, :], axis)
            flo, fhi, _, _ = enclosure.cells(margin, w, cc, cabs, np.array([lo]), np.array([hi]))
            # The margin is pre_key0 - pre_key1; c wins over other when sign * (pre_c -
            # pre_other) > 0 on the whole interval.
            c_first = key[0] == c
            if sign > 0:
                proven = flo[0] > 0.0 if c_first else fhi[0] < 0.0
            else:
                proven = fhi[0] < 0.0 if c_first else flo[0] > 0.0
            wins &= bool(proven)
        if wins:
            return True
    return False
