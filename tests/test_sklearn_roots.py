"""Roots of ONNX exports of scikit-learn classifiers against scikit-learn's own predict_proba.

Each model is trained on a toy data set, exported with skl2onnx in double precision and solved
by netbound straight from the ``.onnx`` file.  The reference is independent of netbound: sign
changes of scikit-learn's ``predict_proba`` (p - 0.5 for a binary model, the predicted class
for three classes) on a fine grid of x1, each bisected to 1e-13 with ``predict_proba`` alone.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import netbound

pytest.importorskip("skl2onnx")
from skl2onnx import to_onnx
from skl2onnx.common.data_types import DoubleTensorType
from sklearn.datasets import load_iris, make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

WINDOW = (-8.0, 8.0)
GRID = np.linspace(*WINDOW, 32001)
X2 = [-0.75, -0.2, 0.3, 0.9]
TOL = 1e-8


def _data(kind: str) -> tuple[np.ndarray, np.ndarray]:
    if kind == "binary":
        return make_moons(200, noise=0.2, random_state=0)
    iris = load_iris()
    x = iris.data[:, 2:4]
    return (x - x.mean(axis=0)) / x.std(axis=0), iris.target


def _fit(kind: str, activation: str) -> MLPClassifier:
    x, y = _data(kind)
    clf = MLPClassifier((6,), activation=activation, max_iter=400, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, y)
    return clf


def _export(clf: MLPClassifier, path: Path) -> Path:
    model = to_onnx(
        clf,
        initial_types=[("X", DoubleTensorType([None, 2]))],
        options={id(clf): {"zipmap": False}},
    )
    path.write_bytes(model.SerializeToString())
    return path


def _bisect(g: Callable[[float], float], lo: float, hi: float) -> float:
    glo = g(lo)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if hi - lo <= 1e-13 * max(1.0, abs(mid)):
            break
        gm = g(mid)
        if (gm > 0.0) == (glo > 0.0):
            lo, glo = mid, gm
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _reference(clf: MLPClassifier, x2: float) -> list[float]:
    """Class changes along x1 in WINDOW, from predict_proba alone."""
    pts = np.column_stack([GRID, np.full_like(GRID, x2)])
    proba = clf.predict_proba(pts)
    side = proba[:, 1] > 0.5 if proba.shape[1] == 2 else np.argmax(proba, axis=1)
    roots = []
    for i in np.flatnonzero(side[1:] != side[:-1]):
        a, b = int(side[i]), int(side[i + 1])
        if proba.shape[1] == 2:

            def g(t: float) -> float:
                return float(clf.predict_proba([[t, x2]])[0, 1] - 0.5)

        else:

            def g(t: float, a: int = a, b: int = b) -> float:
                p = clf.predict_proba([[t, x2]])[0]
                return float(p[a] - p[b])

        roots.append(_bisect(g, float(GRID[i]), float(GRID[i + 1])))
    return roots


CASES = [(kind, act) for kind in ("binary", "three") for act in ("logistic", "tanh", "relu")]


@pytest.mark.parametrize(("kind", "activation"), CASES)
def test_onnx_roots_match_predict_proba(tmp_path: Path, kind: str, activation: str) -> None:
    clf = _fit(kind, activation)
    net = netbound.load(_export(clf, tmp_path / "model.onnx"))
    options: dict[str, Any] = {"argmax": True} if kind == "three" else {}
    results = netbound.solve(net, X2, x1_range=WINDOW, **options)
    checked = 0
    for x2, result in zip(X2, results, strict=True):
        assert result.complete
        want = _reference(clf, x2)
        got = [r.x1 for r in result.roots if r.kind == "crossing"]
        assert len(got) == len(want), (x2, got, want)
        for g, w in zip(got, want, strict=True):
            assert abs(g - w) <= TOL * max(1.0, abs(w)), (x2, g, w)
        checked += len(want)
    assert checked > 0, "no boundary in the window: the test would prove nothing"
