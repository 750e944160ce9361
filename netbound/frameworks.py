"""Networks from fitted scikit-learn and PyTorch models, read from the objects in memory.

Neither library is a dependency of netbound: each is imported only when its converter is
called, and nothing is ever unpickled.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from netbound.errors import MissingExtraError, NetboundError
from netbound.network import FloatArray, Layer, Network

__all__ = ["from_sklearn", "from_torch"]

_SKLEARN_ACTIVATIONS = {
    "logistic": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "identity": "identity",
    "softmax": "softmax",
}
_TORCH_SUPPORTED = (
    "Linear, Sigmoid, Tanh, ReLU, LeakyReLU, Softplus (beta=1), Softmax (over the features), "
    "Identity, Dropout and Flatten"
)


def from_sklearn(model: Any) -> Network:
    """Convert a fitted scikit-learn ``MLPClassifier`` or ``MLPRegressor``.

    Parameters
    ----------
    model
        The fitted estimator. ``coefs_[i]`` is stored in x out and is transposed here.

    Returns
    -------
    Network
        Inputs ``x1..xn``, outputs ``z1..zm``. A binary classifier has one logistic output
        unit (the probability of ``classes_[1]``, boundary at threshold 0.5), a multi-class
        one a softmax output per class in ``classes_`` order, a regressor identity outputs.

    Raises
    ------
    NetboundError
        ``model`` is not an ``MLPClassifier`` or ``MLPRegressor``, is not fitted, or uses an
        activation netbound does not support.

    Examples
    --------
    >>> import warnings
    >>> from sklearn.exceptions import ConvergenceWarning
    >>> from sklearn.neural_network import MLPRegressor
    >>> reg = MLPRegressor(hidden_layer_sizes=(3,), max_iter=5, random_state=0)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", ConvergenceWarning)
    ...     _ = reg.fit([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]], [0.0, 1.0, 0.5])
    >>> net = from_sklearn(reg)
    >>> [layer.activation for layer in net.layers]
    ['relu', 'identity']
    """
    kind = type(model).__name__
    try:
        from sklearn.neural_network import MLPClassifier, MLPRegressor
    except ImportError:
        MLPClassifier = MLPRegressor = None
    if MLPClassifier is None or not isinstance(model, MLPClassifier | MLPRegressor):
        raise NetboundError(
            f"from_sklearn reads a fitted MLPClassifier or MLPRegressor; got {kind}"
        )
    coefs = getattr(model, "coefs_", None)
    intercepts = getattr(model, "intercepts_", None)
    out_activation = getattr(model, "out_activation_", None)
    if coefs is None or intercepts is None or out_activation is None:
        raise NetboundError(f"from_sklearn: the {kind} is not fitted; call fit() first")
    hidden = _SKLEARN_ACTIVATIONS.get(str(model.activation))
    if hidden is None or hidden == "softmax":
        raise NetboundError(
            f"from_sklearn: the {kind}'s hidden activation {model.activation!r} is not "
            "supported; use logistic, tanh, relu or identity"
        )
    output = _SKLEARN_ACTIVATIONS.get(str(out_activation))
    if output is None:
        raise NetboundError(
            f"from_sklearn: the {kind}'s output activation {out_activation!r} is not "
            "supported; netbound reads logistic, softmax and identity outputs"
        )
    layers: list[Layer] = []
    for k, (coef, intercept) in enumerate(zip(coefs, intercepts, strict=True)):
        weights = np.array(coef, dtype=np.float64).T
        biases = np.array(intercept, dtype=np.float64).reshape(-1)
        _check_finite(weights, biases, f"from_sklearn: the {kind}'s layer {k + 1}")
        act = output if k == len(coefs) - 1 else hidden
        layers.append(Layer(weights, biases, act))
    return _network(layers, f"<{kind}>")


def from_torch(module: Any) -> Network:
    """Convert a PyTorch ``nn.Sequential`` of linear layers and activations.

    Parameters
    ----------
    module
        An ``nn.Sequential`` (nested ones are flattened) of ``Linear`` and ``Sigmoid``,
        ``Tanh``, ``ReLU``, ``LeakyReLU``, ``Softplus`` (``beta=1``), ``Softmax`` (last
        only), ``Identity``, ``Dropout`` and ``Flatten`` (default dimensions). The module
        is read as in evaluation mode: dropout is skipped.

    Returns
    -------
    Network
        Inputs ``x1..xn``, outputs ``z1..zm``, weights widened to float64. An activation
        directly after another (or on the input) becomes a layer with identity weights; a
        ``Linear`` with no activation after it becomes an identity layer.

    Raises
    ------
    MissingExtraError
        PyTorch is not installed.
    NetboundError
        ``module`` is not an ``nn.Sequential`` or holds a layer netbound does not support;
        the message names the layer and its index.
    """
    try:
        import torch
    except ImportError:
        raise MissingExtraError(
            "from_torch needs PyTorch, which is not installed (pip install torch)"
        ) from None
    nn = torch.nn
    if not isinstance(module, nn.Sequential):
        raise NetboundError(f"from_torch reads an nn.Sequential; got {type(module).__name__}")
    flat = list(_flatten(nn, module, ""))
    if not flat:
        raise NetboundError("from_torch: the nn.Sequential is empty")
    layers: list[Layer] = []
    width: int | None = None
    pending: tuple[FloatArray, FloatArray] | None = None
    for where, child in flat:
        kind = type(child).__name__
        if layers and layers[-1].activation == "softmax" and not _is_pass(nn, child):
            raise NetboundError(
                f"from_torch: layer {where} ({kind}) follows a Softmax, allowed on the output only"
            )
        if isinstance(child, nn.Linear):
            weight = _tensor(child.weight)
            bias = _tensor(child.bias) if child.bias is not None else np.zeros(weight.shape[0])
            _check_finite(weight, bias, f"from_torch: layer {where} ({kind})")
            if width is not None and weight.shape[1] != width:
                raise NetboundError(
                    f"from_torch: layer {where} ({kind}) takes {weight.shape[1]} features but "
                    f"the previous layer gives {width}"
                )
            if pending is not None:
                layers.append(Layer(pending[0], pending[1], "identity"))
            pending = (weight, bias)
            width = int(weight.shape[0])
            continue
        if _is_pass(nn, child):
            _check_flatten(nn, child, where)
            continue
        act, alpha = _torch_activation(nn, child, where)
        if pending is None:
            if width is None:
                raise NetboundError(
                    f"from_torch: layer {where} ({kind}) comes before any Linear, so the "
                    "number of inputs is unknown"
                )
            pending = (np.eye(width), np.zeros(width))
        layers.append(Layer(pending[0], pending[1], act, alpha))
        pending = None
    if pending is not None:
        layers.append(Layer(pending[0], pending[1], "identity"))
    if not layers:
        raise NetboundError("from_torch: the nn.Sequential has no Linear layer")
    return _network(layers, f"<{type(module).__name__}>")


def _flatten(nn: Any, module: Any, prefix: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for name, child in module.named_children():
        where = f"{prefix}{name}"
        if isinstance(child, nn.Sequential):
            out.extend(_flatten(nn, child, f"{where}."))
        else:
            out.append((where, child))
    return out


def _is_pass(nn: Any, child: Any) -> bool:
    return isinstance(child, nn.Identity | nn.Dropout | nn.Flatten)


def _check_flatten(nn: Any, child: Any, where: str) -> None:
    if isinstance(child, nn.Flatten) and (child.start_dim, child.end_dim) != (1, -1):
        raise NetboundError(
            f"from_torch: layer {where} (Flatten) has start_dim={child.start_dim}, "
            f"end_dim={child.end_dim}; only the default Flatten(1, -1) is supported"
        )


def _torch_activation(nn: Any, child: Any, where: str) -> tuple[str, float]:
    kind = type(child).__name__
    if isinstance(child, nn.Sigmoid):
        return "sigmoid", 0.01
    if isinstance(child, nn.Tanh):
        return "tanh", 0.01
    if isinstance(child, nn.ReLU):
        return "relu", 0.01
    if isinstance(child, nn.LeakyReLU):
        alpha = float(child.negative_slope)
        if not alpha >= 0.0:
            raise NetboundError(
                f"from_torch: layer {where} (LeakyReLU) has negative_slope={alpha}; "
                "netbound needs a slope >= 0"
            )
        return "leaky_relu", alpha
    if isinstance(child, nn.Softplus):
        if float(child.beta) != 1.0:
            raise NetboundError(
                f"from_torch: layer {where} (Softplus) has beta={child.beta}; "
                "only beta=1 is supported"
            )
        return "softplus", 0.01
    if isinstance(child, nn.Softmax):
        if child.dim not in (None, 1, -1):
            raise NetboundError(
                f"from_torch: layer {where} (Softmax) normalizes over dim={child.dim}; "
                "netbound needs the features' dimension (dim=-1 or 1)"
            )
        return "softmax", 0.01
    raise NetboundError(
        f"from_torch: layer {where} ({kind}) is not supported; netbound reads nn.Sequential "
        f"of {_TORCH_SUPPORTED}"
    )


def _tensor(t: Any) -> FloatArray:
    values = t.detach().cpu().double().tolist()
    return np.array(values, dtype=np.float64)


def _check_finite(weights: FloatArray, biases: FloatArray, where: str) -> None:
    if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(biases))):
        raise NetboundError(f"{where} has a weight or bias that is not a finite number")


def _network(layers: list[Layer], source: str) -> Network:
    return Network(
        tuple(layers),
        tuple(f"x{i + 1}" for i in range(layers[0].n_in)),
        tuple(f"z{i + 1}" for i in range(layers[-1].n_out)),
        source=source,
    )
