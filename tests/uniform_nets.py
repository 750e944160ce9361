"""Random networks for the tests, initialised as PyTorch does its linear layers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from netbound import Network

Layers = list[tuple[np.ndarray, np.ndarray, str]]


def uniform_layers(
    sizes: Sequence[int], activations: Sequence[str], seed: int, scale: float = 1.0
) -> Layers:
    """``(weights, biases, activation)`` per layer, both drawn from
    ``U(-scale/sqrt(fan_in), scale/sqrt(fan_in))`` with ``default_rng(seed)``, layer by layer,
    weights before biases."""
    rng = np.random.default_rng(seed)
    layers: Layers = []
    for n_in, n_out, act in zip(sizes[:-1], sizes[1:], activations, strict=True):
        bound = scale / np.sqrt(n_in)
        w = rng.uniform(-bound, bound, (n_out, n_in))
        b = rng.uniform(-bound, bound, n_out)
        layers.append((w, b, act))
    return layers


def uniform_net(
    sizes: Sequence[int], activations: Sequence[str], seed: int, scale: float = 1.0
) -> Network:
    """The network of :func:`uniform_layers`."""
    return Network.from_layers(uniform_layers(sizes, activations, seed, scale))
