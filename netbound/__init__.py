"""netbound: every point of the decision boundary of small feed-forward networks, certified."""

from __future__ import annotations

from netbound.errors import (
    DataError,
    MissingExtraError,
    NetboundError,
    NetworkFileError,
    OptionError,
    ProbeMismatchError,
)
from netbound.loading import load, loads
from netbound.network import Layer, Network

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "Layer",
    "MissingExtraError",
    "NetboundError",
    "Network",
    "NetworkFileError",
    "OptionError",
    "ProbeMismatchError",
    "__version__",
    "load",
    "loads",
]
