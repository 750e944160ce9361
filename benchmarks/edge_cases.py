"""Behaviour at the edges: runs the hostile-user cases against the installed ``netbound``.

Run as ``python benchmarks/edge_cases.py [--exe PATH] [--only ID ...]`` (not part of the test
suite: some cases take seconds and send signals).  For each case it prints the exit status,
the wall time, the first line of stderr (cut to 100 characters) and flags anything a user
must never see: a traceback, a numpy warning, a Python repr such as ``np.float64(...)``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = str(ROOT / "sample_nets" / "seed.json")
THREE = str(ROOT / "sample_nets" / "three_class.json")
LIMIT_KIB = 3 * 1024 * 1024  # address space of each run: an absurd allocation fails fast


@dataclass
class Outcome:
    status: int | str
    seconds: float
    stdout: bytes
    stderr: bytes


def _limit() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_KIB * 1024, LIMIT_KIB * 1024))
    # A shell without job control starts background jobs with SIGINT ignored; undo that.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run(
    args: list[str],
    *,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    stdout: int | None = subprocess.PIPE,
) -> Outcome:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        args,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        preexec_fn=_limit,
    )
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
        status: int | str = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        status = f"killed after {timeout:g} s"
    return Outcome(status, time.perf_counter() - t0, out or b"", err)


def run_head(args: list[str], lines: int, timeout: float = 30.0) -> Outcome:
    """Like ``args | head -n lines``: read that many lines, close the pipe, wait."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_limit)
    assert proc.stdout is not None
    assert proc.stderr is not None
    got = b"".join(proc.stdout.readline() for _ in range(lines))
    proc.stdout.close()
    try:
        proc.wait(timeout=timeout)
        status: int | str = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        status = f"killed after {timeout:g} s"
    err = proc.stderr.read()
    return Outcome(status, time.perf_counter() - t0, got, err)


def run_interrupted(args: list[str], after: float) -> Outcome:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_limit
    )
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
        status: int | str = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        status = "killed: SIGINT ignored"
    return Outcome(status, time.perf_counter() - t0, b"", err)


def fixtures(tmp: Path) -> dict[str, str]:
    files: dict[str, str] = {}

    def write(name: str, text: str | bytes) -> None:
        path = tmp / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        files[name] = str(path)

    layer = {"weights": [[1.0, 0.5], [-1.0, 2.0]], "biases": [0.0, 0.1], "activation": "tanh"}
    out = {"weights": [[1.0, -1.0], [0.5, 0.5]], "biases": [0.0, 0.0], "activation": "identity"}
    nan_text = json.dumps({"layers": [layer, out]}).replace("2.0", "NaN", 1)
    write("nan.json", nan_text)
    write("inf.json", json.dumps({"layers": [layer, out]}).replace("2.0", "1e999", 1))
    seed = json.loads(Path(SEED).read_text())
    seed["weights"]["x1->y9"] = 1.0
    write("extra_edge.json", json.dumps(seed))
    write(
        "dup.json",
        '{"layers": [{"weights": [[1.0, 2.0]], "biases": [0.0], "biases": [5.0], '
        '"activation": "sigmoid"}]}',
    )
    same = {"weights": [[1.0, 0.5], [1.0, 0.5]], "biases": [0.0, 0.0], "activation": "identity"}
    write("everywhere.json", json.dumps({"layers": [layer, same]}))
    three = {
        "weights": [[1.0, 0.5, 0.2], [-1.0, 2.0, 0.1]],
        "biases": [0.0, 0.1],
        "activation": "tanh",
    }
    write("three_inputs.json", json.dumps({"layers": [three, out]}))
    uni = {"inputs": ["größe", "x₂"], "outputs": ["ja", "nein"], "layers": [layer, out]}
    write("unicode.json", json.dumps(uni, ensure_ascii=False))
    write("quoted.csv", 'x2\n"0.5"\n"1.0"\n')
    write("long_bad_line.txt", "0.5\n" + "x" * 10_000_000 + "\n")
    write("inexact.csv", "x2,x1,kind\n0.5,-1.90357083537,crossing\n0.5,1.43098268,crossing\n")
    try:
        import numpy as np
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        w = numpy_helper.from_array(np.array([[1.0, 2.0], [0.5, -1.0]], np.float32), "W")
        b = numpy_helper.from_array(np.array([0.0, 0.1], np.float32), "B")
        graph = helper.make_graph(
            [helper.make_node("Gemm", ["x", "W", "B"], ["y"], transB=1)],
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
            [w, b],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        onnx.save(model, str(tmp / "m.onnx"))
        files["m.onnx"] = str(tmp / "m.onnx")
    except ImportError:
        pass
    return files


def cases(
    nb: list[str], f: dict[str, str], tmp: Path
) -> list[tuple[str, str, Callable[[], Outcome]]]:
    solve = [*nb, "solve"]
    dup_x2 = tmp / "dup_x2.csv"

    def dup_x2_roundtrip() -> Outcome:
        written = run([*solve, SEED, "--x2", "0.5", "--x2", "0.5", "--format", "csv"])
        dup_x2.write_bytes(written.stdout)
        return run([*nb, "check", SEED, str(dup_x2)])

    def all_slices_roundtrip() -> Outcome:
        path = tmp / "all.csv"
        written = run(
            [*solve, SEED, "--x2", "0.5", "--x2", "-2", "--format", "csv", "--all-slices"]
        )
        path.write_bytes(written.stdout)
        if written.status != 0:
            return written
        return run([*nb, "check", SEED, str(path)])

    def check_x1_range() -> Outcome:
        path = tmp / "window.csv"
        args = [SEED, "--x2", "0.5", "--x1-range", "0", "3", "--format", "csv"]
        path.write_bytes(run([*solve, *args]).stdout)
        return run([*nb, "check", SEED, str(path), "--x1-range", "0", "3"])

    def check_stdin() -> Outcome:
        text = run([*solve, SEED, "--x2", "0.5", "--format", "csv"]).stdout
        return run([*nb, "check", SEED, "-"], stdin=text)

    def import_onto_itself() -> Outcome:
        if "m.onnx" not in f:
            return Outcome("skipped (no onnx)", 0.0, b"", b"")
        return run([*nb, "import", f["m.onnx"], "-o", f["m.onnx"]])

    return [
        (
            "pipe-csv",
            "solve --x2-range -3 3 100000 --format csv | head -n 2",
            lambda: run_head(
                [*solve, SEED, "--x2-range", "-3", "3", "100000", "--format", "csv"], 2
            ),
        ),
        (
            "pipe-table",
            "solve --x2-range -3 3 200000 | head -3",
            lambda: run_head([*solve, SEED, "--x2-range", "-3", "3", "200000"], 3, timeout=30),
        ),
        (
            "pipe-json",
            "solve --x2-range -3 3 100000 --format json | head -n 12",
            lambda: run_head(
                [*solve, SEED, "--x2-range", "-3", "3", "100000", "--format", "json"], 12
            ),
        ),
        ("closed-stdout", "solve --x2 0.5 >&-", lambda: _closed(solve)),
        (
            "dev-full",
            "solve --x2 0.5 > /dev/full",
            lambda: _dev_full([*solve, SEED, "--x2", "0.5"]),
        ),
        (
            "sigint",
            "solve --x2-range -3 3 100000000 --format csv, SIGINT after 2 s",
            lambda: run_interrupted(
                [*solve, SEED, "--x2-range", "-3", "3", "100000000", "--format", "csv"], 2.0
            ),
        ),
        (
            "num-1e12",
            "solve --x2-range 0 1 1e12 --format csv | head -n 2",
            lambda: run_head([*solve, SEED, "--x2-range", "0", "1", "1e12", "--format", "csv"], 2),
        ),
        (
            "num-10^12",
            "solve --x2-range 0 1 1000000000000 --format csv | head -n 2",
            lambda: run_head(
                [*solve, SEED, "--x2-range", "0", "1", "1000000000000", "--format", "csv"], 2
            ),
        ),
        (
            "num-1e9",
            "solve --x2-range 0 1 1000000000 --format csv | head -n 2",
            lambda: run_head(
                [*solve, SEED, "--x2-range", "0", "1", "1000000000", "--format", "csv"], 2
            ),
        ),
        (
            "num-0",
            "solve --x2-range 0 1 0",
            lambda: run([*solve, SEED, "--x2-range", "0", "1", "0"]),
        ),
        (
            "num-2.5",
            "solve --x2-range 0 1 2.5",
            lambda: run([*solve, SEED, "--x2-range", "0", "1", "2.5"]),
        ),
        (
            "x2-1e308",
            "solve --x2 1e308 --format csv",
            lambda: run([*solve, SEED, "--x2", "1e308", "--format", "csv"]),
        ),
        (
            "range-1e308",
            "solve --x2-range -1e308 1e308 3 --format csv",
            lambda: run([*solve, SEED, "--x2-range", "-1e308", "1e308", "3", "--format", "csv"]),
        ),
        (
            "x1-range-1e308",
            "solve --x2 0.5 --x1-range -1e308 1e308 --format csv",
            lambda: run(
                [*solve, SEED, "--x2", "0.5", "--x1-range", "-1e308", "1e308", "--format", "csv"]
            ),
        ),
        (
            "long-bad-line",
            "solve --x2-file (10 MB bad line 2)",
            lambda: run([*solve, SEED, "--x2-file", f["long_bad_line.txt"]]),
        ),
        (
            "quoted-csv",
            'solve --x2-file with "0.5" quoted',
            lambda: run([*solve, SEED, "--x2-file", f["quoted.csv"], "--format", "csv"]),
        ),
        (
            "nan-weight",
            "solve on a file with a NaN weight",
            lambda: run([*solve, f["nan.json"], "--x2", "0.5"]),
        ),
        (
            "inf-weight",
            "solve on a file with a 1e999 weight",
            lambda: run([*solve, f["inf.json"], "--x2", "0.5"]),
        ),
        (
            "extra-edge",
            "named-edge file with an extra x1->y9",
            lambda: run([*solve, f["extra_edge.json"], "--x2", "0.5"]),
        ),
        (
            "dup-key",
            "JSON with a duplicate key",
            lambda: run([*solve, f["dup.json"], "--x2", "0.5"]),
        ),
        (
            "dup-at",
            "solve three_class --at repeated",
            lambda: run(
                [*solve, f["three_inputs.json"], "--x2", "0", "--at", "x3=1", "--at", "x3=2"]
            ),
        ),
        (
            "everywhere",
            "solve an identically-zero margin, csv",
            lambda: run([*solve, f["everywhere.json"], "--x2", "0.5", "--format", "csv"]),
        ),
        ("all-slices", "solve --all-slices then check it", all_slices_roundtrip),
        (
            "check-tuples",
            "check with an inexact expected root",
            lambda: run([*nb, "check", SEED, f["inexact.csv"]]),
        ),
        ("check-dup-x2", "solve --x2 0.5 --x2 0.5 > f.csv; check f.csv", dup_x2_roundtrip),
        ("check-x1-range", "check a CSV written with --x1-range 0 3", check_x1_range),
        ("check-stdin", "check NET - < solve's CSV", check_stdin),
        ("import-self", "import m.onnx -o m.onnx", import_onto_itself),
        (
            "columns-20",
            "COLUMNS=20 solve --x2 0.5 (table)",
            lambda: run([*solve, SEED, "--x2", "0.5"], env={"COLUMNS": "20"}),
        ),
        (
            "ascii",
            "PYTHONIOENCODING=ascii solve on non-ASCII names (table)",
            lambda: run(
                [*solve, f["unicode.json"], "--x2", "0.5"], env={"PYTHONIOENCODING": "ascii"}
            ),
        ),
        (
            "ascii-csv",
            "PYTHONIOENCODING=ascii solve on non-ASCII names (csv)",
            lambda: run(
                [*solve, f["unicode.json"], "--x2", "0.5", "--format", "csv"],
                env={"PYTHONIOENCODING": "ascii"},
            ),
        ),
        (
            "eval-at",
            "eval NET 0 0 --at x3=1 (help advertises --at)",
            lambda: run([*nb, "eval", f["three_inputs.json"], "0", "0", "--at", "x3=1"]),
        ),
        (
            "eval-argmax",
            "eval three_class 0 0 --argmax",
            lambda: run([*nb, "eval", THREE, "0", "0", "--argmax", "--format", "csv"]),
        ),
    ]


def _closed(solve: list[str]) -> Outcome:
    t0 = time.perf_counter()
    proc = subprocess.run(
        ["bash", "-c", 'exec "$@" >&-', "_", *solve, SEED, "--x2", "0.5"],
        capture_output=False,
        stderr=subprocess.PIPE,
        check=False,
    )
    return Outcome(proc.returncode, time.perf_counter() - t0, b"", proc.stderr)


def _dev_full(args: list[str]) -> Outcome:
    t0 = time.perf_counter()
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(args, stdout=full, stderr=subprocess.PIPE, check=False)
    return Outcome(proc.returncode, time.perf_counter() - t0, b"", proc.stderr)


def flags(o: Outcome) -> str:
    err = o.stderr.decode("utf-8", "replace")
    out = o.stdout.decode("utf-8", "replace")
    found = []
    if "Traceback" in err:
        found.append("TRACEBACK")
    if re.search(r"[a-z]Warning: ", err):
        found.append("PY-WARNING")
    if "np.float64" in err or "np.float64" in out:
        found.append("REPR")
    return ",".join(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--exe", default=shutil.which("netbound") or "netbound", help="the command (shell words)"
    )
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    nb = shlex.split(args.exe)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        files = fixtures(tmp)
        print("| case | command | exit | time s | flags | stderr (first line) | stdout (start) |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for name, what, action in cases(nb, files, tmp):
            if args.only and name not in args.only:
                continue
            o = action()
            lines = o.stderr.decode("utf-8", "replace").strip().splitlines()
            errors = [
                ln for ln in lines if ln.startswith("Error") or re.match(r"[A-Za-z.]*Error: ", ln)
            ]
            err = errors[0] if errors else (lines[0] if lines else "")
            out = o.stdout.decode("utf-8", "replace").strip().replace("\n", "⏎")
            cell = lambda s: s[:100].replace("|", "\\|")  # noqa: E731
            print(
                f"| {name} | `{what}` | {o.status} | {o.seconds:.2f} | {flags(o)} | "
                f"{cell(err)} | {cell(out[:60])} |",
                flush=True,
            )
    sys.exit(0)


if __name__ == "__main__":
    main()
