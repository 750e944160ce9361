"""netbound: every point of the decision boundary of small feed-forward networks, certified.

The public API is imported lazily (PEP 562), so that the command line answers ``--version``
and ``--help`` without loading numpy and scipy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from netbound.errors import (
    DataError,
    MissingExtraError,
    NetboundError,
    NetworkError,
    NetworkFileError,
    OptionError,
    ProbeMismatchError,
)

if TYPE_CHECKING:
    from netbound.expsum import ExpSum, expsum, network_expsum
    from netbound.frameworks import from_sklearn, from_torch
    from netbound.loading import load, loads
    from netbound.margin import Margin, margin_between, margin_threshold
    from netbound.network import Layer, Network
    from netbound.plot import PlotInfo, plot_network
    from netbound.solver import (
        LineSolution,
        Root,
        SliceResult,
        solve,
        solve_grid,
        solve_iter,
        solve_lines,
    )
    from netbound.trace import Curve, TraceResult, default_box, trace_network

__version__ = "0.1.0"

_LAZY = {
    "ExpSum": "expsum",
    "expsum": "expsum",
    "network_expsum": "expsum",
    "from_sklearn": "frameworks",
    "from_torch": "frameworks",
    "load": "loading",
    "loads": "loading",
    "Margin": "margin",
    "margin_between": "margin",
    "margin_threshold": "margin",
    "Layer": "network",
    "Network": "network",
    "LineSolution": "solver",
    "Root": "solver",
    "SliceResult": "solver",
    "solve": "solver",
    "solve_grid": "solver",
    "solve_iter": "solver",
    "solve_lines": "solver",
    "Curve": "trace",
    "TraceResult": "trace",
    "default_box": "trace",
    "trace_network": "trace",
    "PlotInfo": "plot",
    "plot_network": "plot",
}

__all__ = [
    "Curve",
    "DataError",
    "ExpSum",
    "Layer",
    "LineSolution",
    "Margin",
    "MissingExtraError",
    "NetboundError",
    "Network",
    "NetworkError",
    "NetworkFileError",
    "OptionError",
    "PlotInfo",
    "ProbeMismatchError",
    "Root",
    "SliceResult",
    "TraceResult",
    "__version__",
    "default_box",
    "expsum",
    "from_sklearn",
    "from_torch",
    "load",
    "loads",
    "margin_between",
    "margin_threshold",
    "network_expsum",
    "plot_network",
    "solve",
    "solve_grid",
    "solve_iter",
    "solve_lines",
    "trace_network",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'netbound' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"netbound.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
