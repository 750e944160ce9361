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
from netbound.margin import Margin, margin_between, margin_threshold
from netbound.network import Layer, Network
from netbound.solver import LineSolution, Root, SliceResult, solve, solve_grid, solve_iter, solve_lines

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "Layer",
    "LineSolution",
    "Margin",
    "MissingExtraError",
    "NetboundError",
    "Network",
    "NetworkFileError",
    "OptionError",
    "ProbeMismatchError",
    "Root",
    "SliceResult",
    "__version__",
    "load",
    "loads",
    "margin_between",
    "margin_threshold",
    "solve",
    "solve_grid",
    "solve_iter",
    "solve_lines",
]
