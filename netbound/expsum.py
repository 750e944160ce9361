"""The exponential sum of a one-hidden-layer sigmoid network and its Descartes bound.

With hidden units ``y_i = sigmoid(-B_i)``, ``B_i = -(w_{x1,i} x1 + w_{x2,i} x2 + ... + b_i)``,
the margin is ``f = sum_i d_i / (1 + e^{B_i}) - Δb`` and, multiplied by
``prod_i (1 + e^{B_i}) > 0``,

    E(x1) = sum over subsets S of C_S exp(sum_{i in S} B_i),  C_S = sum_{j not in S} d_j - Δb.

Each term is ``C_S exp(offset_S + rate_S x1)`` with ``rate_S = -sum_{i in S} w_{x1,i}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations, pairwise

import numpy as np

from netbound.errors import OptionError
from netbound.margin import Margin
from netbound.network import FloatArray, Network

#: The derivation's names for H = 3: C0..C7 by subset (1-based unit numbers).
SEED_LABELS = {
    (): "C0",
    (1,): "C1",
    (2,): "C2",
    (3,): "C3",
    (2, 3): "C4",
    (1, 3): "C5",
    (1, 2): "C6",
    (1, 2, 3): "C7",
}
MAX_UNITS = 16


@dataclass(frozen=True)
class Term:
    """One term ``coefficient * exp(offset + rate * x1)`` of the exponential sum."""

    subset: tuple[int, ...]
    label: str
    coefficient: float
    rate: float
    offset: float


@dataclass(frozen=True)
class MergedTerm:
    """Terms of equal rate merged: ``sign * exp(log_abs + rate * x1)``."""

    rate: float
    sign: int
    log_abs: float


@dataclass(frozen=True)
class ExpSum:
    """The exponential sum of a margin along one line, with its Descartes bound."""

    terms: tuple[Term, ...]
    merged: tuple[MergedTerm, ...]
    descartes_bound: int

    def value(self, x1: FloatArray) -> FloatArray:
        """``E(x1)``; overflows to inf for large arguments (display and tests only)."""
        x = np.asarray(x1, dtype=np.float64)
        out = np.zeros_like(x)
        with np.errstate(over="ignore", invalid="ignore"):
            for t in self.terms:
                out = out + t.coefficient * np.exp(t.offset + t.rate * x)
        return out


def network_expsum(
    network: Network,
    x2: float,
    *,
    between: tuple[str, str] | None = None,
    threshold: float | None = None,
    at: dict[str, float] | None = None,
) -> ExpSum:
    """The exponential sum of a network's margin along the line at ``x2`` (as ``solve``).

    Raises
    ------
    OptionError
        As :func:`expsum`, or for options that ``solve`` refuses too.
    """
    from netbound.boundary import boundary_margins, resolve_at, sweep_bases

    margin = boundary_margins(network, between, threshold, False)[0]
    base = sweep_bases(network, np.array([float(x2)]), resolve_at(network, at))[0]
    return expsum(margin, base)


def expsum(margin: Margin, base: FloatArray) -> ExpSum:
    """The exponential sum of ``margin`` along the line through ``base`` in x1.

    Raises
    ------
    OptionError
        The network is not one hidden layer of sigmoid units, or has too many of them.
    """
    if len(margin.hidden) != 1 or margin.hidden[0].activation != "sigmoid":
        shape = " -> ".join(layer.activation for layer in margin.network.layers)
        raise OptionError(
            "constants needs a network with one hidden layer of sigmoid units; "
            f"this one has layers {shape}"
        )
    layer = margin.hidden[0]
    h = layer.n_out
    if h > MAX_UNITS:
        raise OptionError(
            f"constants lists 2^H terms; H = {h} hidden units is too many (at most {MAX_UNITS})"
        )
    d = margin.readout
    delta_b = -margin.offset
    rest = layer.weights.copy()
    rest[:, 0] = 0.0
    b_offset = -(rest @ base + layer.biases)  # B_i at x1 = 0
    rates1 = -layer.weights[:, 0]
    terms = []
    for size in range(h + 1):
        for subset in combinations(range(h), size):
            outside = [j for j in range(h) if j not in subset]
            coefficient = float(sum(d[j] for j in outside) - delta_b)
            one_based = tuple(i + 1 for i in subset)
            generic = "C{" + ",".join(map(str, one_based)) + "}"
            label = SEED_LABELS[one_based] if h == 3 else generic
            terms.append(
                Term(
                    one_based,
                    label,
                    coefficient,
                    float(sum(rates1[i] for i in subset)),
                    float(sum(b_offset[i] for i in subset)),
                )
            )
    merged = _merge(terms)
    signs = [m.sign for m in merged if m.sign != 0]
    changes = sum(1 for a, b in pairwise(signs) if a != b)
    return ExpSum(tuple(terms), tuple(merged), changes)


def _merge(terms: list[Term]) -> list[MergedTerm]:
    """Merge terms of equal rate, ordered by rate; coefficients kept as sign and log."""
    groups: dict[float, list[Term]] = {}
    for t in terms:
        groups.setdefault(t.rate, []).append(t)
    out = []
    for rate in sorted(groups):
        group = groups[rate]
        top = max(t.offset for t in group)
        total = math.fsum(t.coefficient * math.exp(t.offset - top) for t in group)
        sign = 0 if total == 0.0 else (1 if total > 0.0 else -1)
        log_abs = math.log(abs(total)) + top if total != 0.0 else -math.inf
        out.append(MergedTerm(rate, sign, log_abs))
    return out
