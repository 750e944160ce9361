"""The margin along a line, at points and over intervals, with rigorous error bounds.

The margin of a network between outputs a and b is ``f = pre_a - pre_b``, the difference of
the output layer's pre-activations; for a threshold on a single output it is
``pre - act^-1(threshold)``.  Either way it is a linear readout ``r . v + r0`` of the last
hidden layer ``v``, which is how it is evaluated here: folding the readout into one row keeps
the correlation between ``pre_a`` and ``pre_b`` that an interval evaluation of each would lose.

Along a line (every input fixed but one, ``t``), the first layer is affine in ``t``:
``u = w t + c``.  Three evaluations live here, each vectorized over many lines and points:

* :meth:`Margin.points` -- ``f``, ``df/dt`` and a bound on the floating-point error of ``f``
  (here);
* :func:`netbound.enclosure.cells` and :func:`netbound.affine.cells` -- enclosures of ``f``
  and ``df/dt`` over intervals ``[lo, hi]``;
* :func:`netbound.tails.rays` -- the sign of ``f`` on the rays ``t >= R`` and ``t <= -R``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from netbound import activations
from netbound.errors import OptionError
from netbound.network import FloatArray, Layer, Network
from netbound.rounding import EPS as EPS
from netbound.rounding import SAFETY, TINY, gamma, idot_unbounded, mm, mv, propagate
from netbound.rounding import IntArray as IntArray


def forward_tangent(
    hidden: Sequence[Layer], u: FloatArray, du: FloatArray, absolute: bool = False
) -> tuple[FloatArray, FloatArray]:
    """Forward-mode derivatives through the hidden layers: the last hidden layer's values
    ``(..., units)`` and their derivatives ``(..., units, k)`` from the first layer's
    pre-activations ``u`` and their derivatives ``du`` in k directions.

    With ``absolute`` every weight and slope enters by its magnitude: the sum of the
    magnitudes of the derivative's terms, against which a cancelling derivative is small.
    """
    first = hidden[0]
    slope = activations.derivative(first.activation, u, first.alpha)
    v = first.activate(u)
    dv = (np.abs(slope) if absolute else slope)[..., None] * du
    for layer in hidden[1:]:
        pre = mm(v, layer.weights) + layer.biases
        weights = np.abs(layer.weights) if absolute else layer.weights
        dpre = weights @ dv
        v = layer.activate(pre)
        slope = activations.derivative(layer.activation, pre, layer.alpha)
        dv = (np.abs(slope) if absolute else slope)[..., None] * dpre
    return v, dv


def _unit_values(
    layer: Layer, p: FloatArray, err: FloatArray, derivative: bool, bound: bool
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A layer's outputs at pre-activations ``p``, a bound on their error (with ``bound``:
    from the error ``err`` of ``p`` and their own rounding) and their slopes (with
    ``derivative``); an array not asked for is ``p`` itself.

    sigmoid and tanh take one exponential for all three
    (:func:`netbound.activations.value_and_slope`).  The slope on ``[p - err, p + err]`` is
    then at most ``act'(p) (1 + 3 err)`` for ``err <= 1/4``: ``|d/du log act'|`` is
    ``|1 - 2 sigmoid| <= 1`` and ``2 |tanh| <= 2``, and ``e^(2 err) <= 1 + 3 err`` there;
    and never more than act'(0), as :meth:`Margin.line_rounding` assumes.
    """
    act = layer.activation
    if act not in activations.BOUNDED:
        v = layer.activate(p)
        slope = activations.derivative(act, p, layer.alpha) if derivative else p
        if bound:
            err = propagate(layer, p, err) + SAFETY * EPS * np.abs(v) + TINY
        return v, err, slope
    v, slope = activations.value_and_slope(act, p)
    if bound:
        top = activations.MAX_SLOPE[act]
        near = np.where(err <= 0.25, np.minimum(slope * (1.0 + 3.0 * err + 8.0 * EPS), top), top)
        own = SAFETY * EPS * np.abs(v) + TINY
        if act == "tanh":
            own = own + activations.SLOPE_ERR * slope  # the cancellation near 0
        err = near * err + own
    return v, err, slope


@dataclass(frozen=True, eq=False)
class Margin:
    """The margin of a network as a function of its inputs.

    Build one with :func:`margin_between` or :func:`margin_threshold`.
    """

    network: Network
    hidden: tuple[Layer, ...]
    readout: FloatArray
    readout_abs: FloatArray
    offset: float
    offset_abs: float
    label: str
    #: The readout as signed (row, bias) parts of the output layer and the threshold level,
    #: kept unrounded for the exact limit of the margin (:mod:`netbound.tails`).
    parts: tuple[tuple[int, FloatArray, float], ...] = ()
    level: float = 0.0

    @property
    def piecewise_affine(self) -> bool:
        """True when every hidden unit is ReLU-family or identity."""
        return all(layer.activation in activations.PIECEWISE_AFFINE for layer in self.hidden)

    def first_layer(self) -> tuple[FloatArray, FloatArray]:
        """Weights and biases of the first layer that acts on the inputs (or of the readout)."""
        if self.hidden:
            return self.hidden[0].weights, self.hidden[0].biases
        return self.readout[None, :], np.array([self.offset])

    def value(self, x: ArrayLike) -> FloatArray:
        """The margin at inputs ``x`` of shape ``(..., n_inputs)``."""
        v = np.asarray(x, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            for layer in self.hidden:
                v = layer.activate(mm(v, layer.weights) + layer.biases)
            out: FloatArray = mv(v, self.readout) + self.offset
        return out

    def gradient(self, x: ArrayLike) -> FloatArray:
        """Gradient of the margin with respect to every input, shape ``(..., n_inputs)``."""
        v = np.asarray(x, dtype=np.float64)
        n = v.shape[-1]
        if not self.hidden:
            return np.broadcast_to(self.readout, v.shape).copy()
        first = self.hidden[0]
        with np.errstate(over="ignore", invalid="ignore"):
            u = mm(v, first.weights) + first.biases
            du = np.broadcast_to(first.weights, (*v.shape[:-1], first.n_out, n))
            _, jac = forward_tangent(self.hidden, u, du)
            grad: FloatArray = np.einsum("...kn,k->...n", jac, self.readout)
        return grad

    # -- along lines ------------------------------------------------------------------------

    def line_affine(self, base: FloatArray, axis: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        """First-layer affine form ``u = w t + c`` of the lines through ``base`` along ``axis``.

        Returns ``w`` (units,), ``c`` (lines, units) and ``cabs`` (lines, units), a bound on
        the magnitudes summed into ``c`` (for its rounding error).
        """
        weights, biases = self.first_layer()
        w = weights[:, axis].copy()
        rest = weights.copy()
        rest[:, axis] = 0.0
        c = mm(base, rest) + biases
        cabs = mm(np.abs(base), np.abs(rest)) + np.abs(biases)
        return w, c, cabs

    def constant_along(self, w: FloatArray, c: FloatArray) -> NDArray[np.bool_]:
        """Lines along which the margin provably does not depend on ``t`` at all.

        Whole-line interval propagation: a first-layer unit with ``w = 0`` has a single
        value, a ReLU whose input range is ``<= 0`` is constant 0, and the margin is constant
        exactly when its range over the whole line is a single point.
        """
        if not self.hidden:
            return np.full(c.shape[0], w[0] == 0.0)
        lo = np.where(w == 0.0, c, -np.inf)
        hi = np.where(w == 0.0, c, np.inf)
        with np.errstate(over="ignore", invalid="ignore"):
            for k, layer in enumerate(self.hidden):
                if k > 0:
                    lo, hi = idot_unbounded(layer.weights, lo, hi)
                    lo, hi = lo + layer.biases, hi + layer.biases
                lo, hi = activations.range_of(layer.activation, lo, hi, layer.alpha)
            flo, fhi = idot_unbounded(self.readout[None, :], lo, hi)
        same: NDArray[np.bool_] = flo[:, 0] == fhi[:, 0]
        return same

    def points(
        self,
        w: FloatArray,
        c: FloatArray,
        cabs: FloatArray,
        t: FloatArray,
        derivative: bool = True,
        bound: bool = True,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Margin, a bound on its rounding error, and its derivative at points of lines.

        ``c`` and ``cabs`` are per point (rows already gathered for each point's line).
        With ``derivative=False`` the third array is empty (the slopes are not computed),
        with ``bound=False`` the second (a root finder's iterates need no bound: about half
        the cost).
        """
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            if not self.hidden:
                f = w[0] * t + c[:, 0]
                err = gamma(1) * (np.abs(w[0] * t) + cabs[:, 0])
                return f, err, np.full_like(t, w[0])
            u = w * t[:, None] + c
            layer = self.hidden[0]
            err = gamma(1) * (np.abs(w) * np.abs(t)[:, None] + cabs + np.abs(c)) if bound else u
            v, err, dv = _unit_values(layer, u, err, derivative, bound)
            dv = dv * w if derivative else u
            for layer in self.hidden[1:]:
                p = mm(v, layer.weights) + layer.biases
                if bound:
                    # |W| err + g (|W| |v| + |b|) as one product of |W| with a nonnegative
                    # sum, rounded up by g_{n+4} (as in netbound.affine).
                    g = gamma(layer.n_in)
                    perr = mm(err + g * np.abs(v), layer.abs_weights)
                    perr = perr * (1.0 + gamma(layer.n_in + 4)) + g * layer.abs_biases
                v, err, slope = _unit_values(layer, p, perr if bound else p, derivative, bound)
                if derivative:
                    dv = slope * mm(dv, layer.weights)
            f = mv(v, self.readout) + self.offset
            ferr = (
                mv(err, self.readout_abs)
                + gamma(len(self.readout)) * (mv(np.abs(v), self.readout_abs) + self.offset_abs)
                if bound
                else np.empty(0)
            )
            df = mv(dv, self.readout) if derivative else np.empty(0)
        return f, ferr, df

    def line_rounding(
        self, w: FloatArray, c: FloatArray, cabs: FloatArray
    ) -> tuple[FloatArray, float] | None:
        """``alpha`` (per line) and ``beta`` with ``alpha + beta |t|`` at least the rounding
        bound of :meth:`points` at every point ``t`` of the lines, found without evaluating
        at any point; None unless every hidden activation is sigmoid or tanh.

        :meth:`points` propagates its bound through ``|W|`` and the activations' slopes near
        each value, and adds terms in ``|v|``; each step is monotone in the bound and in
        ``|v|``.  With every slope at its maximum (1/4, 1) and ``|v| <= 1`` the same steps
        give a bound affine in ``|t|``, the only way the point enters (the first layer's
        ``gamma_1 |w t|``).  The result is doubled, which covers the rounding of these few
        sums of nonnegative terms and of ``alpha + beta |t|`` itself.
        """
        if not self.hidden or any(h.activation not in activations.BOUNDED for h in self.hidden):
            return None
        with np.errstate(over="ignore", invalid="ignore"):
            a = gamma(1) * (cabs + np.abs(c))
            b = gamma(1) * np.abs(w)
            for k, layer in enumerate(self.hidden):
                if k > 0:
                    g, up = gamma(layer.n_in), 1.0 + gamma(layer.n_in + 4)
                    a = mm(a + g, layer.abs_weights) * up + g * layer.abs_biases
                    b = (layer.abs_weights @ b) * up
                slope = activations.MAX_SLOPE[layer.activation]
                # (each unit's own rounding: SAFETY eps |v| <= SAFETY eps, and for tanh
                # SLOPE_ERR tanh' <= SLOPE_ERR)
                own = SAFETY * EPS + (activations.SLOPE_ERR if layer.activation == "tanh" else 0.0)
                a = slope * a + (own + TINY)
                b = slope * b
            g = gamma(len(self.readout))
            alpha = mv(a, self.readout_abs) + g * (float(self.readout_abs.sum()) + self.offset_abs)
            beta = float(b @ self.readout_abs)
        return 2.0 * alpha, 2.0 * beta


def _readout_rows(net: Network) -> tuple[tuple[Layer, ...], FloatArray, FloatArray]:
    last = net.layers[-1]
    return net.layers[:-1], last.weights, last.biases


def margin_between(net: Network, a: str, b: str) -> Margin:
    """The margin ``pre_a - pre_b`` between outputs ``a`` and ``b`` (by name).

    Raises
    ------
    OptionError
        An output name is unknown, the two are the same, or the output activation is not
        strictly increasing (so ``z_a = z_b`` is not ``pre_a = pre_b``).
    """
    names = net.output_names
    for name in (a, b):
        if name not in names:
            raise OptionError(
                f"unknown output {name!r}; the network's outputs are {', '.join(names)}"
            )
    if a == b:
        raise OptionError(f"--between needs two different outputs, got {a} twice")
    if net.output_activation == "relu":
        raise OptionError(
            "the output activation is relu, which is not strictly increasing: z_a = z_b holds "
            "on whole regions where both are 0; netbound solves pre-activation boundaries only "
            "for sigmoid, tanh, softmax, softplus, leaky_relu and identity outputs"
        )
    hidden, weights, biases = _readout_rows(net)
    i, j = names.index(a), names.index(b)
    readout = weights[i] - weights[j]
    offset = float(biases[i] - biases[j])
    # A correctly rounded difference errs by at most eps of itself, so the rounding bounds
    # scale with |W_a - W_b| (exactly 0 where the two rows agree), not |W_a| + |W_b|.
    return Margin(
        network=net,
        hidden=hidden,
        readout=readout,
        readout_abs=np.abs(readout) * (1.0 + 2.0 * EPS),
        offset=offset,
        offset_abs=abs(offset) * (1.0 + 2.0 * EPS),
        label=f"{a} = {b}",
        parts=((1, weights[i], float(biases[i])), (-1, weights[j], float(biases[j]))),
    )


def default_threshold(net: Network) -> float:
    """The default threshold of a single-output network: 0.5 for sigmoid, else 0."""
    return 0.5 if net.output_activation == "sigmoid" else 0.0


def margin_threshold(net: Network, threshold: float | None = None, output: int = 0) -> Margin:
    """The margin ``pre - act^-1(threshold)`` of one output against a threshold.

    Raises
    ------
    OptionError
        The threshold is outside the output activation's range.
    """
    t = default_threshold(net) if threshold is None else float(threshold)
    last = net.layers[-1]
    if last.activation == "softmax":
        raise OptionError(
            "a softmax output of one unit is constant (1); use --between with two outputs"
        )
    level = activations.inverse(last.activation, t, last.alpha)
    if level is None or not np.isfinite(level):
        raise OptionError(
            f"threshold {t!r} is outside the range of the {last.activation} output; "
            + {
                "sigmoid": "give a value strictly between 0 and 1",
                "tanh": "give a value strictly between -1 and 1",
            }.get(last.activation, "give a value the output can take")
        )
    hidden, weights, biases = _readout_rows(net)
    name = net.output_names[output]
    return Margin(
        network=net,
        hidden=hidden,
        readout=weights[output].copy(),
        readout_abs=np.abs(weights[output]),
        offset=float(biases[output] - level),
        offset_abs=float(abs(biases[output]) + abs(level)),
        label=f"{name} = {t!r}",
        parts=((1, weights[output], float(biases[output])),),
        level=float(level),
    )
