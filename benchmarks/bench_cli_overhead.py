"""The command line's own cost: reading the x2 values and writing the rows, against solving.

Run as ``python benchmarks/bench_cli_overhead.py [--slices N] [--net PATH]`` (not part of
the test suite).  It measures, for N slices of one network:

* in-process: solving alone (``solve_iter`` over a list), reading the x2 file alone
  (``sweeps.open_values``), generating the range alone (``sweeps.evenly_spaced``) and
  formatting the CSV alone (``output.slices_csv``, slice by slice as ``solve`` does);
* end to end: ``netbound solve NET --x2-file F --format csv > /dev/null`` and the same
  with ``--x2-range``, minus the start-up (the same command with one ``--x2``), minus
  solving; what is left is the command line's own cost.

The target is a CLI cost of at most 20% of the solving time at 10^5 slices of the seed net.
Times are CPU times (user + system, best of ``--repeat``), which a busy machine disturbs far
less than wall-clock times.
"""

from __future__ import annotations

import argparse
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

import netbound
from netbound import sweeps
from netbound.output import slices_csv

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def best(func: Callable[[], T], repeat: int) -> tuple[float, T]:
    times, value = [], None
    for _ in range(repeat):
        t0 = time.process_time()
        value = func()
        times.append(time.process_time() - t0)
    assert value is not None
    return min(times), value


def command() -> list[str]:
    exe = shutil.which("netbound")
    if exe and Path(exe).resolve().parent == Path(sys.executable).resolve().parent:
        return [exe]
    return [sys.executable, "-c", "import sys; from netbound.cli import main; main()"]


def cpu(args: list[str], repeat: int) -> float:
    """The child's CPU time (user + system), best of ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(args, stdout=subprocess.DEVNULL, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=100_000)
    parser.add_argument("--net", default=str(ROOT / "sample_nets" / "seed.json"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--exe", default=None, help="the netbound command (shell words)")
    args = parser.parse_args()
    n, net_path = args.slices, args.net
    net = netbound.load(net_path)
    values = np.linspace(-3.0, 3.0, n).tolist()

    t_solve, results = best(lambda: list(netbound.solve_iter(net, values)), args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x2.txt"
        path.write_text("".join(f"{v!r}\n" for v in values), encoding="utf-8")
        t_read, read = best(lambda: list(sweeps.open_values(str(path), "x2")), args.repeat)
        assert read == values
        t_range, _ = best(lambda: list(sweeps.evenly_spaced(-3.0, 3.0, n)), args.repeat)
        t_format, _ = best(lambda: [slices_csv((r,), False) for r in results], args.repeat)
        exe = shlex.split(args.exe) if args.exe else command()
        base = [*exe, "solve", net_path, "--format", "csv"]
        t_start = cpu([*base, "--x2", "0.5"], args.repeat)
        t_file = cpu([*base, "--x2-file", str(path)], args.repeat)
        t_cli_range = cpu([*base, "--x2-range", "-3", "3", str(n)], args.repeat)

    roots = sum(len(r.roots) for r in results)
    print(f"network {net_path}: {n} slices, {roots} roots (best of {args.repeat})")
    print(f"{'solving (library)':<34} {t_solve:8.3f} s  {1e6 * t_solve / n:6.2f} us/slice")
    rows = [
        ("reading the x2 file", t_read),
        ("generating the range", t_range),
        ("formatting the CSV", t_format),
    ]
    for what, t in rows:
        print(f"{what:<34} {t:8.3f} s  {100 * t / t_solve:5.1f}% of solving")
    print(f"{'start-up (one --x2)':<34} {t_start:8.3f} s")
    for what, t in (("end to end, --x2-file", t_file), ("end to end, --x2-range", t_cli_range)):
        own = t - t_start - t_solve
        print(
            f"{what:<34} {t:8.3f} s  CLI's own cost {own:6.3f} s = "
            f"{100 * own / t_solve:5.1f}% of solving"
        )


if __name__ == "__main__":
    main()
