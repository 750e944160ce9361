"""netbound: every point of the decision boundary of small feed-forward networks, certified.

The public API is imported lazily (PEP 562), so that the command line answers ``--version``
and ``--help`` without loading numpy and scipy.
"""

from __future__ import annotations

import importlib
import sys
import types
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
    from netbound.along import AlongResult, Change, along
    from netbound.boundary import Boundary
    from netbound.export import export_nnet, export_onnx
    from netbound.expsum import ExpSum, expsum, network_expsum
    from netbound.frameworks import from_sklearn, from_torch
    from netbound.loading import load, loads
    from netbound.margin import Margin, margin_between, margin_threshold
    from netbound.network import Layer, Network
    from netbound.nnet import load_nnet
    from netbound.plot import PlotInfo, plot_network
    from netbound.slices import solve, solve_iter
    from netbound.solver import LineSolution, Root, SliceResult, solve_lines
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
    "solve": "slices",
    "solve_iter": "slices",
    "AlongResult": "along",
    "Change": "along",
    "along": "along",
    "Boundary": "boundary",
    "export_nnet": "export",
    "export_onnx": "export",
    "load_nnet": "nnet",
    "solve_lines": "solver",
    "Curve": "trace",
    "TraceResult": "trace",
    "default_box": "trace",
    "trace_network": "trace",
    "PlotInfo": "plot",
    "plot_network": "plot",
}

__all__ = [
    "AlongResult",
    "Boundary",
    "Change",
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
    "along",
    "default_box",
    "export_nnet",
    "export_onnx",
    "expsum",
    "from_sklearn",
    "from_torch",
    "load",
    "load_nnet",
    "loads",
    "margin_between",
    "margin_threshold",
    "network_expsum",
    "plot_network",
    "solve",
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


class _Package(types.ModuleType):
    """The package, keeping a function that shares its name with its module.

    Importing ``netbound.along`` binds the package attribute ``along`` to the module once it
    has run, which would hide the function ``netbound.along`` for the rest of the process
    (whenever anything imported the module first).  Binding the function instead keeps
    ``netbound.along(...)`` working; ``sys.modules`` still holds the module.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
