"""The network model: a layered feed-forward network and its vectorized forward pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from netbound import activations

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Layer:
    """One dense layer: ``act(weights @ v + biases)``, weights stored out x in."""

    weights: FloatArray
    biases: FloatArray
    activation: str
    alpha: float = 0.01

    @property
    def n_in(self) -> int:
        return int(self.weights.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.weights.shape[0])

    def activate(self, pre: FloatArray) -> FloatArray:
        return activations.apply(self.activation, pre, self.alpha)


@dataclass(frozen=True, eq=False)
class Network:
    """A feed-forward network with named inputs and outputs.

    Parameters
    ----------
    layers
        The layers in order; ``layers[k].n_in`` equals ``layers[k-1].n_out``.
    input_names, output_names
        Unique names; default ``x1..xn`` and ``z1..zm``.
    source
        Where the network was loaded from (for messages), or ``None``.
    input_ranges
        ``(min, max)`` of each input where the file states the domain (NNet); the default
        search window of an input.  None when the file states none.
    """

    layers: tuple[Layer, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    source: str | None = field(default=None, compare=False)
    input_ranges: tuple[tuple[float, float], ...] | None = field(default=None, compare=False)

    @property
    def n_inputs(self) -> int:
        return self.layers[0].n_in

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].n_out

    @property
    def output_activation(self) -> str:
        return self.layers[-1].activation

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
        """The network as a layered-JSON document (CONTRACT section 2)."""
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
        layers: list[tuple[ArrayLike, ArrayLike, str]],
        input_names: list[str] | None = None,
        output_names: list[str] | None = None,
    ) -> Network:
        """Build a network from ``(weights, biases, activation)`` triples, weights out x in.

        The shapes are checked; use :func:`netbound.load` for user files, whose errors name
        the file and the field.
        """
        from netbound.loading import network_from_json

        doc: dict[str, Any] = {
            "layers": [
                {
                    "weights": np.asarray(w, dtype=np.float64).tolist(),
                    "biases": np.asarray(b, dtype=np.float64).tolist(),
                    "activation": act,
                }
                for w, b, act in layers
            ]
        }
        if input_names is not None:
            doc["inputs"] = list(input_names)
        if output_names is not None:
            doc["outputs"] = list(output_names)
        return network_from_json(doc, "<network>")
