"""The network model: a layered feed-forward network and its vectorized forward pass.

A :class:`Layer` and a :class:`Network` check themselves when they are built, so every
network in memory -- read from a file, converted from a framework or written by hand -- has
finite weights, shapes that chain and unique names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from netbound import activations
from netbound.errors import NetworkError

FloatArray = NDArray[np.float64]


def _float_array(value: Any, ndim: int, what: str) -> FloatArray:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise NetworkError(
            f"{what} is not an array of numbers; expected a {ndim}-D array of floats"
        ) from None
    if array.ndim != ndim:
        raise NetworkError(f"{what} has {array.ndim} dimension(s); expected {ndim}")
    if array.size == 0:
        raise NetworkError(f"{what} is empty; every layer needs at least one unit and one input")
    bad = ~np.isfinite(array)
    if np.any(bad):
        place = "".join(f"[{int(i)}]" for i in np.argwhere(bad)[0])
        raise NetworkError(f"{what}{place} is {array[bad][0]}; expected a finite number")
    return array


@dataclass(frozen=True, eq=False, repr=False)
class Layer:
    """One dense layer: ``act(weights @ v + biases)``, weights stored out x in.

    The arrays are copied to float64 and checked: finite, ``biases`` one per row of
    ``weights``, a known activation and, for ``leaky_relu``, a finite slope ``alpha >= 0``.

    Examples
    --------
    >>> Layer([[1.0, 2.0]], [0.5], "tanh")
    Layer(1x2, tanh)
    """

    weights: FloatArray
    biases: FloatArray
    activation: str
    alpha: float = 0.01

    def __post_init__(self) -> None:
        weights = _float_array(self.weights, 2, "weights")
        biases = _float_array(self.biases, 1, "biases")
        if biases.shape[0] != weights.shape[0]:
            raise NetworkError(
                f"biases has {biases.shape[0]} entries but weights has {weights.shape[0]} rows "
                "(one per unit, out x in); give one bias per unit"
            )
        if not isinstance(self.activation, str) or self.activation not in activations.ACTIVATIONS:
            raise NetworkError(
                f"activation is {self.activation!r}; expected one of "
                f"{', '.join(activations.ACTIVATIONS)}"
            )
        alpha = self.alpha
        if isinstance(alpha, bool) or not isinstance(alpha, int | float | np.floating):
            raise NetworkError(f"alpha is {alpha!r}; expected a number >= 0")
        if not (np.isfinite(alpha) and alpha >= 0.0):
            raise NetworkError(f"alpha is {float(alpha)!r}; a leaky_relu slope must be >= 0")
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "biases", biases)
        object.__setattr__(self, "alpha", float(alpha))

    @property
    def n_in(self) -> int:
        return int(self.weights.shape[1])

    @cached_property
    def abs_weights(self) -> FloatArray:
        """``|weights|``, computed once (rounding-error bounds use it at every evaluation)."""
        return np.abs(self.weights)

    @cached_property
    def abs_biases(self) -> FloatArray:
        """``|biases|``, computed once."""
        return np.abs(self.biases)

    @property
    def n_out(self) -> int:
        return int(self.weights.shape[0])

    def activate(self, pre: FloatArray) -> FloatArray:
        return activations.apply(self.activation, pre, self.alpha)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Layer):
            return NotImplemented
        return (
            self.activation == other.activation
            and (self.alpha == other.alpha or self.activation != "leaky_relu")
            and np.array_equal(self.weights, other.weights)
            and np.array_equal(self.biases, other.biases)
        )

    def __hash__(self) -> int:
        return hash((self.weights.shape, self.activation))

    def __repr__(self) -> str:
        slope = f", alpha={self.alpha!r}" if self.activation == "leaky_relu" else ""
        return f"Layer({self.n_out}x{self.n_in}, {self.activation}{slope})"


@dataclass(frozen=True, eq=False, repr=False)
class Network:
    """A feed-forward network with named inputs and outputs.

    Parameters
    ----------
    layers
        The layers in order; ``layers[k].n_in`` equals ``layers[k-1].n_out``.  Softmax is
        allowed on the last layer only.
    input_names, output_names
        Unique, non-empty names, one per input and output.
    source
        Where the network was loaded from (for messages), or ``None``.  Not compared:
        two loads of the same file, or of a file and its copy, are equal.

    Raises
    ------
    NetworkError
        The layers do not chain, or the names do not fit.
    input_ranges
        ``(min, max)`` of each input where the file states the domain (NNet); the default
        search window of an input.  None when the file states none.
    """

    layers: tuple[Layer, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    source: str | None = field(default=None, compare=False)
    input_ranges: tuple[tuple[float, float], ...] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        layers = tuple(self.layers)
        if not layers:
            raise NetworkError("a network needs at least one layer")
        for k, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise NetworkError(f"layers[{k}] is {type(layer).__name__}; expected a Layer")
            if k and layer.n_in != layers[k - 1].n_out:
                raise NetworkError(
                    f"layers[{k}].weights has {layer.n_in} columns but layers[{k - 1}] has "
                    f"{layers[k - 1].n_out} units; each row holds one weight per unit of the "
                    "previous layer (out x in)"
                )
            if layer.activation == "softmax" and k != len(layers) - 1:
                raise NetworkError(
                    f'layers[{k}].activation is "softmax", allowed on the last layer only'
                )
        object.__setattr__(self, "layers", layers)
        object.__setattr__(
            self, "input_names", _check_names(self.input_names, "input", layers[0].n_in)
        )
        object.__setattr__(
            self, "output_names", _check_names(self.output_names, "output", layers[-1].n_out)
        )

    @property
    def n_inputs(self) -> int:
        return self.layers[0].n_in

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].n_out

    @property
    def output_activation(self) -> str:
        return self.layers[-1].activation

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Network):
            return NotImplemented
        return (
            self.input_names == other.input_names
            and self.output_names == other.output_names
            and self.input_ranges == other.input_ranges
            and self.layers == other.layers
        )

    def __hash__(self) -> int:
        return hash((self.input_names, self.output_names, self.layers))

    def __repr__(self) -> str:
        """Sizes, activations and names; never the weights.

        >>> hidden = ([[1.0, 2.0]] * 3, [0.0] * 3, "tanh")
        >>> Network.from_layers([hidden, ([[1.0] * 3], [0.0], "sigmoid")])
        Network(2-3-1 tanh/sigmoid, inputs x1,x2, outputs z1)
        """
        sizes = "-".join([str(self.n_inputs), *(str(layer.n_out) for layer in self.layers)])
        acts = "/".join(layer.activation for layer in self.layers)
        names = f"inputs {','.join(self.input_names)}, outputs {','.join(self.output_names)}"
        where = f", from {self.source!r}" if self.source and not self.source.startswith("<") else ""
        return f"Network({sizes} {acts}, {names}{where})"

    def preactivations(self, x: ArrayLike) -> FloatArray:
        """Pre-activations of the output layer for inputs ``x`` of shape ``(..., n_inputs)``."""
        v = np.asarray(x, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            for layer in self.layers[:-1]:
                v = layer.activate(v @ layer.weights.T + layer.biases)
            last = self.layers[-1]
            out: FloatArray = v @ last.weights.T + last.biases
        return out

    def forward(self, x: ArrayLike) -> FloatArray:
        """Outputs of the network for inputs ``x`` of shape ``(..., n_inputs)``.

        Examples
        --------
        >>> net = Network.from_layers([([[1.0, 0.0]], [0.0], "identity")])
        >>> net.forward([[2.0, 5.0]]).tolist()
        [[2.0]]
        """
        pre = self.preactivations(x)
        with np.errstate(over="ignore", invalid="ignore"):  # softmax of overflowed (inf) values
            return self.layers[-1].activate(pre)

    def to_json(self) -> dict[str, Any]:
        """The network as a layered-JSON document (the README's "Network files")."""
        layers: list[dict[str, Any]] = []
        for layer in self.layers:
            entry: dict[str, Any] = {
                "weights": layer.weights.tolist(),
                "biases": layer.biases.tolist(),
                "activation": layer.activation,
            }
            if layer.activation == "leaky_relu":
                entry["alpha"] = layer.alpha
            layers.append(entry)
        doc: dict[str, Any] = {
            "netbound": 1,
            "inputs": list(self.input_names),
            "outputs": list(self.output_names),
        }
        if self.input_ranges is not None:
            doc["input_ranges"] = [
                [v if np.isfinite(v) else None for v in pair] for pair in self.input_ranges
            ]
        doc["layers"] = layers
        return doc

    @classmethod
    def from_layers(
        cls,
        layers: Sequence[Layer | tuple[Any, ...]],
        input_names: Sequence[str] | None = None,
        output_names: Sequence[str] | None = None,
    ) -> Network:
        """Build a network from layers, each a :class:`Layer` or a tuple
        ``(weights, biases, activation)`` or ``(weights, biases, activation, alpha)``,
        weights out x in.  Names default to ``x1..xn`` and ``z1..zm``.

        Raises
        ------
        NetworkError
            A layer is malformed or the layers do not chain; the message names the layer.

        Examples
        --------
        >>> Network.from_layers([([[1.0, -1.0]], [0.0], "leaky_relu", 0.1)])
        Network(2-1 leaky_relu, inputs x1,x2, outputs z1)
        """
        built: list[Layer] = []
        for k, spec in enumerate(layers):
            if isinstance(spec, Layer):
                built.append(spec)
                continue
            if not isinstance(spec, tuple | list) or len(spec) not in (3, 4):
                raise NetworkError(
                    f"layers[{k}] is {type(spec).__name__}; expected a Layer or a tuple "
                    "(weights, biases, activation[, alpha])"
                )
            try:
                built.append(Layer(*spec))
            except NetworkError as exc:
                raise NetworkError(f"layers[{k}].{exc}") from None
        if not built:
            raise NetworkError("a network needs at least one layer")
        n_in, n_out = built[0].n_in, built[-1].n_out
        return cls(
            tuple(built),
            tuple(input_names) if input_names is not None else _default(n_in, "x"),
            tuple(output_names) if output_names is not None else _default(n_out, "z"),
            source="<network>",
        )


def _default(count: int, prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{i + 1}" for i in range(count))


def _check_names(names: Sequence[str], what: str, count: int) -> tuple[str, ...]:
    names = tuple(names)
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise NetworkError(f"{what} name {i + 1} is {name!r}; expected a non-empty string")
    if len(names) != count:
        raise NetworkError(
            f"{len(names)} {what} name(s) for {count} {what}(s); give one name per {what}"
        )
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise NetworkError(f"{what} name {name!r} appears twice; names must be unique")
        seen.add(name)
    return names
