"""netbound.solve against the independently computed roots of tests/data/reference_roots.json.

A root counts as found when
``|found - ref| <= 1e-9 * max(1, |ref|)``; a cluster (a double root of the reference) is covered
by anything netbound reports within 1e-6 of it (a root or an unresolved interval); netbound
reports no crossing that is neither a reference root nor in a cluster.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mpmath
import pytest

import netbound

DATA = Path(__file__).parent / "data"
#: The far-field cases (saturated hidden units, margins of 1e-16 to 1e-25 at O(1) outputs)
#: carry an ``x1_range`` to search in; the others are solved on the whole line.
CASES: list[dict[str, Any]] = [
    *json.loads((DATA / "reference_roots.json").read_text()),
    *json.loads((DATA / "farfield_roots.json").read_text()),
]
ROOT_RTOL = 1e-9
CLUSTER_SLACK = 1e-6


def _slices() -> list[Any]:
    out = []
    for case in CASES:
        for x2, expected in zip(case["x2"], case["expected"], strict=True):
            out.append(pytest.param(case, x2, expected, id=f"{case['name']}-x2={x2!r}"))
    return out


def _mp_margin(case: dict[str, Any], x1: Any, x2: float) -> Any:
    """The margin of a sigmoid/tanh case at 50 digits, independently of netbound."""
    net = case["net"]
    acts = {"sigmoid": lambda p: 1 / (1 + mpmath.exp(-p)), "tanh": mpmath.tanh}
    v = [mpmath.mpf(x1), mpmath.mpf(x2)] + [mpmath.mpf(0.25)] * (
        len(net["layers"][0]["weights"][0]) - 2
    )
    for layer in net["layers"][:-1]:
        act = acts[layer["activation"]]
        v = [
            act(
                mpmath.fsum(mpmath.mpf(w) * x for w, x in zip(row, v, strict=False)) + mpmath.mpf(b)
            )
            for row, b in zip(layer["weights"], layer["biases"], strict=True)
        ]
    last = net["layers"][-1]
    pre = [
        mpmath.fsum(mpmath.mpf(w) * x for w, x in zip(row, v, strict=False)) + mpmath.mpf(b)
        for row, b in zip(last["weights"], last["biases"], strict=True)
    ]
    return pre[0] - pre[1]


def _proven_absent(case: dict[str, Any], x2: float, cluster: tuple[float, float]) -> bool:
    """A reference cluster holds no root of the float network when the margin's extremum
    there is nonzero at 50 digits (a tangency of the real-valued design that rounding of the
    weights lifted off zero), with the sign of both sides."""
    with mpmath.workdps(50):
        mid = mpmath.mpf(0.5) * (mpmath.mpf(cluster[0]) + mpmath.mpf(cluster[1]))
        x_star = mpmath.findroot(lambda x: mpmath.diff(lambda y: _mp_margin(case, y, x2), x), mid)
        values = [_mp_margin(case, x, x2) for x in (x_star, x_star - 1e-3, x_star + 1e-3)]
        return all(v > 0 for v in values) or all(v < 0 for v in values)


def _tol(ref: float) -> float:
    return ROOT_RTOL * max(1.0, abs(ref))


def _near_cluster(lo: float, hi: float, clusters: list[tuple[float, float]]) -> bool:
    """Does [lo, hi] come within CLUSTER_SLACK of a cluster?"""
    return any(lo <= c_hi + CLUSTER_SLACK and hi >= c_lo - CLUSTER_SLACK for c_lo, c_hi in clusters)


@pytest.mark.parametrize(("case", "x2", "expected"), _slices())
def test_reference_slice(case: dict[str, Any], x2: float, expected: dict[str, Any]) -> None:
    net = netbound.loads(json.dumps(case["net"]), case["name"])
    at = {name: 0.25 for name in net.input_names[2:]}
    between = tuple(case["between"]) if case["between"] else None
    window = tuple(case["x1_range"]) if case.get("x1_range") else None
    (res,) = netbound.solve(
        net, [x2], between=between, threshold=case["threshold"], at=at or None, x1_range=window
    )
    roots = [float(r) for r in expected["roots"]]
    clusters = [(float(lo), float(hi)) for lo, hi in expected["clusters"]]
    crossings = [r.x1 for r in res.roots if r.kind == "crossing"]
    shown = (
        f"{case['name']} x2={x2!r}: expected roots {roots} clusters {clusters}; got "
        f"{[(r.x1, r.kind) for r in res.roots]} unresolved {list(res.unresolved)} "
        f"complete={res.complete} everywhere={res.everywhere}"
    )
    assert res.x2 == x2
    assert res.roots == tuple(sorted(res.roots, key=lambda r: r.x1)), shown

    missing = [r for r in roots if not any(abs(c - r) <= _tol(r) for c in crossings)]
    assert not missing, f"reference roots not found: {missing}\n{shown}"

    covers = [(r.x1, r.x1) for r in res.roots] + [tuple(u) for u in res.unresolved]
    uncovered = [
        c
        for c in clusters
        if not _near_cluster(c[0], c[1], covers)
        and not (res.complete and _proven_absent(case, x2, c))
    ]
    assert not uncovered, f"clusters not covered: {uncovered}\n{shown}"

    extra = [
        r
        for r in res.roots
        if not any(abs(r.x1 - ref) <= _tol(ref) for ref in roots)
        and not _near_cluster(r.x1, r.x1, clusters)
    ]
    assert not extra, f"roots that are no reference root: {extra}\n{shown}"

    for r in res.roots:
        assert r.enclosure is not None, shown
        lo, hi = r.enclosure
        assert lo <= r.x1 <= hi, shown
        if r.kind == "crossing":
            # The enclosure is proven to hold the root: the reference's, given to ~17 digits.
            near = [ref for ref in roots if abs(r.x1 - ref) <= _tol(ref)]
            assert all(
                lo - 1e-15 * max(1.0, abs(ref)) <= ref <= hi + 1e-15 * max(1.0, abs(ref))
                for ref in near
            ), shown

    doubled = [r for r in roots if sum(abs(c - r) <= _tol(r) for c in crossings) > 1]
    assert not doubled, f"reference roots reported more than once: {doubled}\n{shown}"

    if "everywhere" in expected:
        assert res.everywhere == expected["everywhere"], shown
    if not clusters:
        assert res.complete, f"not certified complete on a case without clusters\n{shown}"
