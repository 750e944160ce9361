"""Streaming a 10^6-line x2 file through ``netbound solve``: wall time, peak RSS.

Run as ``python benchmarks/bench_stream.py [--lines N] [--net PATH] [--format csv|json|table]``
(not part of the test suite).  The command's output goes to /dev/null; peak RSS is the
child's ``ru_maxrss``.
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
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def command() -> list[str]:
    """This interpreter's netbound (a virtual environment's), else the module through it."""
    exe = shutil.which("netbound")
    if exe and Path(exe).resolve().parent == Path(sys.executable).resolve().parent:
        return [exe]
    return [sys.executable, "-c", "from netbound.cli import main; main()"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--net", default=str(ROOT / "sample_nets" / "seed.json"))
    parser.add_argument("--format", default="csv", choices=["csv", "json", "table"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x2.txt"
        x2 = np.linspace(-3.0, 3.0, args.lines)
        t0 = time.perf_counter()
        with path.open("w") as fh:
            fh.writelines(f"{v!r}\n" for v in x2.tolist())
        t_write = time.perf_counter() - t0
        cmd = [*command(), "solve", args.net, "--x2-file", str(path), "--format", args.format]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        wall = time.perf_counter() - t0
        rss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    shown = ["netbound", *cmd[-6:]] if cmd[0].endswith("netbound") else cmd
    print(f"{'command':<12} {shlex.join(shown)} > /dev/null")
    print(f"{'lines':<12} {args.lines}")
    print(f"{'exit status':<12} {proc.returncode}")
    if proc.returncode:
        print(proc.stderr.decode(errors="replace")[-2000:])
    print(f"{'wall time':<12} {wall:.2f} s  ({1e6 * wall / args.lines:.1f} us/line)")
    print(f"{'peak RSS':<12} {rss_kib / 1024:.1f} MiB")
    print(f"(writing the file took {t_write:.2f} s, not counted)")


if __name__ == "__main__":
    main()
