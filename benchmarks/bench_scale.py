"""netbound on networks of the sizes people train: cost per slice, evaluations and peak memory.

Run as ``python benchmarks/bench_scale.py`` (not part of the test suite; about 15 minutes on
two cores).  Prints a markdown table.  ``--stream`` instead streams a 10^6-line ``--x2-file``
through ``netbound solve --format csv`` on the 2-64-64-2 tanh network and reports its peak RSS.

Networks (fixed seeds): scikit-learn's ``MLPClassifier()`` default (100 ReLU units) and a
(64, 64) tanh one, both trained on ``make_moons(500, noise=0.2, random_state=0)``; PyTorch-style
initialisation (weights and biases ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, drawn with numpy) of
2-64-64-2 tanh with weights x5, 2-128-128-2 sigmoid and 2-256-256-256-2 ReLU; the seed 2-3-2
network; a 2-8-2 tanh network.

Columns, per slice (a slice is one x2 value, solved on the whole real line):

* ``CLI``: the marginal cost of a slice in ``netbound solve NET --x2-file F --format csv``:
  ``(T(N) - T(N/10)) / (0.9 N)`` with ``T(k)`` the command's wall time on k slices (best of
  two), so that start-up and the other fixed costs (imports on the first slice) cancel;
* ``library``: ``netbound.solve(net, x2s)`` in-process, minus a one-slice call;
* ``grid``: the vectorized 2001-point grid on [-50, 50] plus ``elementwise.find_root``
  (``benchmarks/baselines.py``); ``loop``: the design card's grid + ``brentq`` loop;
* ``grid/CLI``, ``loop/CLI``: how many times cheaper netbound's CLI is (targets: >= 2, >= 10);
* ``evals``: ``SliceResult.evaluations`` (margin evaluations: points, cells, pieces);
* ``RSS``: peak resident memory of the CLI process on N slices (``ru_maxrss``);
* ``agree``: slices on which netbound's crossings inside [-50, 50] equal the grid's to 1e-8.

``library``, ``grid`` and ``loop`` run in a child process with ``MALLOC_TOP_PAD_`` and
``MALLOC_MMAP_THRESHOLD_`` set to what the CLI sets for itself (:mod:`netbound.heap`): with
glibc's defaults the baselines' speed varied by up to 1.5x with the allocator's history, as
netbound's did.

Each network's slice count N is 10^4, or fewer where netbound would take longer than
``--budget`` seconds (estimated from 20 slices); the figures are per slice either way.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import WINDOW, NumpyMargin, design_loop, vectorized_grid

import netbound
from netbound.heap import MMAP_THRESHOLD, TOP_PAD

ROOT = Path(__file__).resolve().parent.parent
AGREE_TOL = 1e-8
MOONS_X2 = (-1.0, 1.5)
TORCH_X2 = (-3.0, 3.0)


# -- the networks -------------------------------------------------------------------------------


def _sklearn(hidden: tuple[int, ...], activation: str) -> netbound.Network:
    from sklearn.datasets import make_moons
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x, y = make_moons(500, noise=0.2, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=hidden, activation=activation, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, y)
    return netbound.from_sklearn(clf)


def _torch_init(sizes: list[int], act: str, seed: int, scale: float = 1.0) -> netbound.Network:
    rng = np.random.default_rng(seed)
    layers = []
    for k, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, (fan_out, fan_in)) * scale
        b = rng.uniform(-bound, bound, fan_out)
        layers.append((w, b, "identity" if k == len(sizes) - 2 else act))
    return netbound.Network.from_layers(layers)


def _tanh_282() -> netbound.Network:
    rng = np.random.default_rng(2024)
    w1 = rng.normal(0.0, 2.0, (8, 2))
    b1 = -w1[:, 0] * rng.uniform(-4.0, 4.0, 8)
    w2 = rng.normal(0.0, 1.5, (2, 8))
    b2 = rng.normal(0.0, 0.5, 2)
    return netbound.Network.from_layers([(w1, b1, "tanh"), (w2, b2, "sigmoid")])


def networks() -> list[tuple[str, netbound.Network, tuple[float, float]]]:
    return [
        ("seed 2-3-2 sigmoid", netbound.load(ROOT / "sample_nets" / "seed.json"), TORCH_X2),
        ("2-8-2 tanh", _tanh_282(), TORCH_X2),
        ("sklearn default, 100 relu", _sklearn((100,), "relu"), MOONS_X2),
        ("sklearn (64, 64) tanh", _sklearn((64, 64), "tanh"), MOONS_X2),
        ("2-64-64-2 tanh, weights x5", _torch_init([2, 64, 64, 2], "tanh", 1, 5.0), TORCH_X2),
        ("2-128-128-2 sigmoid", _torch_init([2, 128, 128, 2], "sigmoid", 2), TORCH_X2),
        ("2-256-256-256-2 relu", _torch_init([2, 256, 256, 256, 2], "relu", 3), TORCH_X2),
    ]


# -- measurements ------------------------------------------------------------------------------


def _cli() -> list[str]:
    exe = shutil.which("netbound", path=str(Path(sys.executable).parent)) or shutil.which(
        "netbound"
    )
    return [exe] if exe else [sys.executable, "-c", "from netbound.cli import main; main()"]


def run_cli(
    net_path: Path, x2_path: Path, out_path: Path, timeout: float | None = None
) -> tuple[float, float, int]:
    """Wall time, peak RSS (MiB) and exit status of ``solve --format csv`` on a file."""
    cmd = [*_cli(), "solve", str(net_path), "--x2-file", str(x2_path), "--format", "csv"]
    with out_path.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL)
        if timeout is None:
            # A blocking wait: polling would add up to its interval to the wall time, which
            # on a small net is most of the solving time of a few thousand slices.
            _, status, usage = os.wait4(proc.pid, 0)
        else:
            deadline = t0 + timeout
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() > deadline:
                    os.kill(proc.pid, signal.SIGTERM)
                    _, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.02)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024.0, proc.returncode


def _write_x2(path: Path, x2s: np.ndarray) -> None:
    with path.open("w") as fh:
        fh.writelines(f"{v!r}\n" for v in x2s.tolist())


def _agree(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(
        abs(x - y) <= AGREE_TOL * max(1.0, abs(x)) for x, y in zip(a, b, strict=True)
    )


def measure_library(
    net_path: Path, lo: float, hi: float, slices: int, budget: float
) -> dict[str, Any]:
    """In this process: netbound's library and both baselines on the same slices."""
    net = netbound.load(net_path)
    netbound.solve(net, [0.123])  # imports, caches
    t0 = time.perf_counter()
    netbound.solve(net, np.linspace(lo, hi, 20))
    per = (time.perf_counter() - t0) / 20
    n = int(min(slices, max(50, budget / max(per, 1e-9))))
    if n < slices:
        n = max(50, int(float(f"{n:.1g}")))
    x2s = np.linspace(lo, hi, n)
    starts = []
    for _ in range(3):
        t0 = time.perf_counter()
        netbound.solve(net, [0.123])
        starts.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    results = netbound.solve(net, x2s)
    t_lib = max(time.perf_counter() - t0 - min(starts), 1e-9)

    margin = NumpyMargin(net)
    t0 = time.perf_counter()
    grid = vectorized_grid(margin, x2s)
    t_grid = time.perf_counter() - t0
    t0 = time.perf_counter()
    design_loop(margin, x2s)
    t_loop = time.perf_counter() - t0

    inside = [
        [r.x1 for r in res.roots if r.kind == "crossing" and WINDOW[0] <= r.x1 <= WINDOW[1]]
        for res in results
    ]
    return {
        "slices": n,
        "lib_us": 1e6 * t_lib / n,
        "grid_us": 1e6 * t_grid / n,
        "loop_us": 1e6 * t_loop / n,
        "evals": sum(r.evaluations for r in results) / n,
        "complete": sum(r.complete for r in results) / n,
        "agree": sum(_agree(a, b) for a, b in zip(grid, inside, strict=True)) / n,
        "roots": sum(len(r.roots) for r in results) / n,
    }


def measure(
    name: str, net_path: Path, lo: float, hi: float, args: argparse.Namespace
) -> dict[str, Any]:
    child = subprocess.run(
        [
            *(sys.executable, __file__, "--child", str(net_path), str(lo), str(hi)),
            *("--slices", str(args.slices), "--budget", str(args.budget)),
        ],
        capture_output=True,
        text=True,
        check=True,
        # The same allocator setting as the CLI's own (netbound.heap), so that the baselines
        # are not slowed by pages returned to the kernel and faulted in again.
        env={
            **os.environ,
            "MALLOC_TOP_PAD_": str(TOP_PAD),
            "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD),
        },
    )
    row: dict[str, Any] = json.loads(child.stdout)
    n = row["slices"]
    with tempfile.TemporaryDirectory() as tmp:
        one, few, many = (Path(tmp) / f"{k}.txt" for k in ("one", "few", "many"))
        out = Path(tmp) / "out.csv"
        _write_x2(one, np.array([0.123]))
        n_few = max(1, n // 10)
        _write_x2(few, np.linspace(lo, hi, n_few))
        _write_x2(many, np.linspace(lo, hi, n))
        t_one = min(run_cli(net_path, one, out)[0] for _ in range(3))
        t_few = min(run_cli(net_path, few, out)[0] for _ in range(2))
        runs = [run_cli(net_path, many, out) for _ in range(2)]
        wall = min(r[0] for r in runs)
        rss = max(r[1] for r in runs)
        status = max(abs(r[2]) for r in runs)
    row.update(
        net=name,
        cli_us=1e6 * max(wall - t_few, 1e-9) / max(1, n - n_few),
        startup_ms=1e3 * t_one,
        rss_mib=rss,
        status=status,
    )
    return row


def _fmt_us(us: float) -> str:
    return f"{us / 1000:.3g} ms" if us >= 1000 else f"{us:.3g} µs"


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| network | slices | CLI | library | grid | loop | grid/CLI | loop/CLI | evals "
        "| peak RSS | complete | agree |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['net']} | {r['slices']} | {_fmt_us(r['cli_us'])} | {_fmt_us(r['lib_us'])} "
            f"| {_fmt_us(r['grid_us'])} | {_fmt_us(r['loop_us'])} "
            f"| {r['grid_us'] / r['cli_us']:.2f} | {r['loop_us'] / r['cli_us']:.1f} "
            f"| {r['evals']:.0f} | {r['rss_mib']:.0f} MiB | {r['complete']:.0%} "
            f"| {r['agree']:.1%} |"
        )
    return "\n".join(lines)


def stream(lines: int, timeout: float) -> None:
    """The 10^6-line stream through the 2-64-64-2 tanh network: peak RSS and slices per second."""
    name, net, (lo, hi) = networks()[4]
    with tempfile.TemporaryDirectory() as tmp:
        net_path, x2_path, out = Path(tmp) / "net.json", Path(tmp) / "x2.txt", Path(tmp) / "o.csv"
        net_path.write_text(json.dumps(net.to_json()))
        x2s = np.linspace(lo, hi, lines)
        _write_x2(x2_path, x2s)
        wall, rss, status = run_cli(net_path, x2_path, out, timeout)
        done = lines
        if status != 0:
            rows = out.read_text().splitlines()[1:]
            done = int(np.searchsorted(x2s, float(rows[-1].split(",")[0]))) if rows else 0
    print(f"network: {name}; {lines} lines in the --x2-file")
    state = "finished" if status == 0 else f"stopped after {timeout:.0f} s (exit {status})"
    print(f"{state}: {done} slices in {wall:.1f} s ({1e3 * wall / max(done, 1):.2f} ms/slice)")
    print(f"peak RSS: {rss:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=10_000)
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per measurement")
    parser.add_argument("--only", help="measure only networks whose name contains this")
    parser.add_argument("--stream", action="store_true", help="the 10^6-line stream instead")
    parser.add_argument("--stream-lines", type=int, default=1_000_000)
    parser.add_argument("--stream-timeout", type=float, default=None)
    parser.add_argument("--child", nargs=3, metavar=("NET", "LO", "HI"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, lo, hi = args.child
        row = measure_library(Path(path), float(lo), float(hi), args.slices, args.budget)
        print(json.dumps(row))
        return
    if args.stream:
        stream(args.stream_lines, args.stream_timeout)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, net, (lo, hi) in networks():
            if args.only and args.only not in name:
                continue
            path = Path(tmp) / "net.json"
            path.write_text(json.dumps(net.to_json()))
            rows.append(measure(name, path, lo, hi, args))
            print(f"measured {name}", file=sys.stderr)
    print(table(rows))
    print(
        "\nCLI start-up (one slice): "
        + ", ".join(f"{r['net']}: {r['startup_ms']:.0f} ms" for r in rows)
    )


if __name__ == "__main__":
    main()
