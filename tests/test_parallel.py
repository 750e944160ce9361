"""Solving blocks of lines on threads (netbound.parallel): the same answer as one thread."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.testing import assert_allclose
from uniform_nets import uniform_net

import netbound
from netbound import Network, OptionError, parallel
from netbound.boundary import Boundary
from netbound.cli import main
from netbound.slices import solve_boundary


def _wide_net(outputs: int) -> Network:
    """A 2-128-128-k tanh net: 16384 weights between its hidden layers, where threads pay."""
    return uniform_net((2, 128, 128, outputs), ("tanh", "tanh", "identity"), seed=3, scale=3.0)


@pytest.fixture
def threads_used(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads the parts were solved on; parts of 32 lines."""
    names: list[str] = []
    solve = parallel._solve_flat

    def spy(*args: Any) -> Any:
        names.append(threading.current_thread().name)
        return solve(*args)

    monkeypatch.setattr(parallel, "_solve_flat", spy)
    monkeypatch.setattr(parallel, "PART_LINES", 32)
    return names


def _same_answers(one: list[Any], two: list[Any]) -> None:
    """The same slices, roots, kinds and completeness.  Batches of another shape may round
    differently in BLAS, so the polished roots may differ in their last bits; both proven
    enclosures hold the root, so they meet."""
    for a, b in zip(one, two, strict=True):
        assert a.x2 == b.x2
        assert (a.complete, a.everywhere, a.unresolved) == (b.complete, b.everywhere, b.unresolved)
        assert [(r.kind, r.from_output, r.to_output) for r in a.roots] == [
            (r.kind, r.from_output, r.to_output) for r in b.roots
        ]
        for ra, rb in zip(a.roots, b.roots, strict=True):
            assert ra.enclosure is not None
            assert rb.enclosure is not None
            assert max(ra.enclosure[0], rb.enclosure[0]) <= min(ra.enclosure[1], rb.enclosure[1])
            assert_allclose(ra.x1, rb.x1, rtol=1e-13)


@pytest.mark.parametrize("argmax", [False, True], ids=["pair", "argmax"])
def test_threads_give_the_answer_of_one_thread(argmax: bool, threads_used: list[str]) -> None:
    net = _wide_net(3)
    x2 = np.linspace(-2.0, 2.0, 150)
    one = netbound.solve(net, x2, argmax=argmax, workers=1)
    assert threads_used
    assert all(not n.startswith("netbound") for n in threads_used)
    threads_used.clear()
    two = netbound.solve(net, x2, argmax=argmax, workers=2)
    # 150 lines in parts of 32, for each margin solved.
    assert len(threads_used) >= 5
    assert all(n.startswith("netbound") for n in threads_used)
    assert sum(len(r.roots) for r in one) > 100
    _same_answers(one, two)


def test_small_networks_stay_on_one_thread(threads_used: list[str]) -> None:
    net = netbound.load(Path(__file__).resolve().parent.parent / "sample_nets" / "tanh_deep.json")
    netbound.solve(net, np.linspace(-1.0, 1.0, 200), workers=2)
    assert threads_used
    assert all(not n.startswith("netbound") for n in threads_used)


def test_an_error_in_a_part_reaches_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    solve = parallel._solve_flat

    def failing(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError("part 2")
        return solve(*args)

    monkeypatch.setattr(parallel, "_solve_flat", failing)
    monkeypatch.setattr(parallel, "PART_LINES", 32)
    with pytest.raises(MemoryError, match="part 2"):
        netbound.solve(_wide_net(2), np.linspace(-1.0, 1.0, 160), workers=2)


@pytest.mark.parametrize("workers", [0, -1, 1.5, "2", True])
def test_bad_workers_are_refused(workers: Any) -> None:
    with pytest.raises(OptionError) as err:
        netbound.solve(_wide_net(2), [0.0], workers=workers)
    assert str(err.value) == f"workers={workers!r}: must be an integer >= 1 (or None: every CPU)"


def test_cli_workers(tmp_path: Path) -> None:
    path = tmp_path / "wide.json"
    path.write_text(json.dumps(_wide_net(2).to_json()))
    args = ["solve", str(path), "--x2-range", "-1", "1", "150", "--format", "csv"]
    runner = CliRunner()
    one = runner.invoke(main, [*args, "--workers", "1"])
    two = runner.invoke(main, [*args, "--workers", "2"])
    assert one.exit_code == two.exit_code == 0
    rows_one = [line.split(",") for line in one.stdout.splitlines()[1:]]
    rows_two = [line.split(",") for line in two.stdout.splitlines()[1:]]
    assert len(rows_one) == len(rows_two) > 100
    for a, b in zip(rows_one, rows_two, strict=True):
        assert a[0] == b[0]
        assert a[2:] == b[2:]
        assert_allclose(float(a[1]), float(b[1]), rtol=1e-13)
    bad = runner.invoke(main, [*args, "--workers", "0"])
    assert bad.exit_code == 2
    assert "Invalid value for '--workers': 0 is not in the range x>=1." in bad.stderr


def _processes_used(monkeypatch: pytest.MonkeyPatch, log: Path) -> Any:
    """Lower the thresholds so that a few hundred lines of a small net go to processes, one
    part per process after the first lines; returns a function giving the ids of the
    processes that solved the parts (each appends its process id to ``log``)."""
    real = parallel._solve_flat

    def spy(*args: Any) -> Any:
        with log.open("a") as fh:
            fh.write(f"{os.getpid()}\n")
        return real(*args)

    monkeypatch.setattr(parallel, "MIN_PROCESS_LINES", 64)
    monkeypatch.setattr(parallel, "MIN_PROCESS_WEIGHTS", 0)
    monkeypatch.setattr(parallel, "_solve_flat", spy)
    return lambda: [int(x) for x in log.read_text().split()] if log.exists() else []


@pytest.mark.skipif(not parallel._can_fork(), reason="worker processes are forked on Linux only")
@pytest.mark.parametrize("argmax", [False, True], ids=["pair", "argmax"])
def test_processes_give_the_answer_of_one_thread(
    argmax: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    net = netbound.load(Path(__file__).resolve().parent.parent / "sample_nets" / "tanh_deep.json")
    if argmax:
        net = uniform_net((2, 16, 16, 3), ("tanh", "sigmoid", "identity"), seed=5, scale=3.0)
    x2 = np.linspace(-2.0, 2.0, 300)
    one = netbound.solve(net, x2, argmax=argmax, workers=1)
    pids = _processes_used(monkeypatch, tmp_path / "pids")
    boundary = Boundary.resolve(net, decision="argmax" if argmax else None)
    two = list(solve_boundary(boundary, x2, workers=2, processes=True))
    # The first lines of the first margin here; for each margin, the rest in two parts on
    # the same two other processes, forked once.
    margins = len(boundary.margins)
    assert pids().count(os.getpid()) == 1
    assert len(pids()) == 2 * margins + 1
    assert len(set(pids())) == 3
    assert sum(len(r.roots) for r in one) > 100
    _same_answers(one, two)


@pytest.mark.skipif(not parallel._can_fork(), reason="worker processes are forked on Linux only")
def test_processes_also_where_threads_pay(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Forked processes share no GIL: where the caller allows them they are used on wide
    # networks too.
    net = netbound.load(Path(__file__).resolve().parent.parent / "sample_nets" / "tanh_deep.json")
    pids = _processes_used(monkeypatch, tmp_path / "pids")
    monkeypatch.setattr(parallel, "MIN_WEIGHTS", 0)
    list(
        solve_boundary(
            Boundary.resolve(net), np.linspace(-1.0, 1.0, 300), workers=2, processes=True
        )
    )
    assert len(set(pids())) == 3


@pytest.mark.skipif(not parallel._can_fork(), reason="worker processes are forked on Linux only")
def test_the_workers_serve_every_block_and_end_with_the_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    net = netbound.load(Path(__file__).resolve().parent.parent / "sample_nets" / "tanh_deep.json")
    x2 = np.linspace(-1.0, 1.0, 600)
    one = netbound.solve(net, x2, workers=1)
    pids = _processes_used(monkeypatch, tmp_path / "pids")
    boundary = Boundary.resolve(net)
    two = list(solve_boundary(boundary, x2, chunk=150, workers=2, processes=True))
    # Four blocks: the first lines of the first here, every block's parts on the same two
    # workers, which are gone when the run ends.
    assert pids().count(os.getpid()) == 1
    assert len(pids()) == 1 + 2 * 4
    assert len(set(pids())) == 3
    assert multiprocessing.active_children() == []
    assert parallel._MARGINS == ()
    _same_answers(one, two)
    # A consumer that stops early ends them too.
    results = solve_boundary(boundary, x2, chunk=150, workers=2, processes=True)
    next(results)
    assert len(multiprocessing.active_children()) == 2
    results.close()
    assert multiprocessing.active_children() == []


@pytest.mark.skipif(not parallel._can_fork(), reason="worker processes are forked on Linux only")
def test_the_workers_get_the_next_block_before_this_one_is_waited_for(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # So that a worker done with its part need not wait for the block's slowest; a bad value
    # in the block read ahead is still raised after the results before it.
    net = netbound.load(Path(__file__).resolve().parent.parent / "sample_nets" / "tanh_deep.json")
    x2 = np.linspace(-1.0, 1.0, 600).tolist()
    one = netbound.solve(net, x2[:450], workers=1)
    x2[450] = float("inf")
    _processes_used(monkeypatch, tmp_path / "pids")
    log: list[tuple[str, int]] = []
    submit = parallel.ProcessPool.submit

    def spy(self: parallel.ProcessPool, *args: Any) -> Any:
        k = sum(event == "submit" for event, _ in log)
        log.append(("submit", k))
        wait = submit(self, *args)

        def logged() -> Any:
            log.append(("wait", k))
            return wait()

        return logged

    monkeypatch.setattr(parallel.ProcessPool, "submit", spy)
    results = solve_boundary(Boundary.resolve(net), x2, chunk=150, workers=2, processes=True)
    two = list(islice(results, 450))
    with pytest.raises(OptionError, match=r"^x2 value inf is not finite$"):
        next(results)
    assert log == [
        ("submit", 0),
        ("submit", 1),
        ("wait", 0),
        ("submit", 2),
        ("wait", 1),
        ("wait", 2),
    ]
    assert multiprocessing.active_children() == []
    _same_answers(one, two)


@pytest.mark.skipif(not parallel._can_fork(), reason="worker processes are forked on Linux only")
def test_no_processes_unless_asked_or_below_the_line_count(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    net = netbound.load(Path(__file__).resolve().parent.parent / "sample_nets" / "tanh_deep.json")
    pids = _processes_used(monkeypatch, tmp_path / "pids")
    netbound.solve(net, np.linspace(-1.0, 1.0, 300), workers=2)  # the library: threads only
    boundary = Boundary.resolve(net)
    list(solve_boundary(boundary, np.linspace(-1.0, 1.0, 63), workers=2, processes=True))
    assert set(pids()) == {os.getpid()}


@pytest.mark.skipif(not parallel._can_fork(), reason="worker processes are forked on Linux only")
def test_an_error_in_a_process_reaches_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    net = netbound.load(Path(__file__).resolve().parent.parent / "sample_nets" / "tanh_deep.json")
    monkeypatch.setattr(parallel, "MIN_PROCESS_LINES", 64)
    monkeypatch.setattr(parallel, "MIN_PROCESS_WEIGHTS", 0)
    calls: list[int] = []
    solve = parallel._solve_flat

    def failing(*args: Any) -> Any:
        calls.append(1)  # (in the parent: the first lines; the workers' own copies)
        if len(calls) > 1:
            raise MemoryError("in a worker")
        return solve(*args)

    monkeypatch.setattr(parallel, "_solve_flat", failing)
    boundary = Boundary.resolve(net)
    with pytest.raises(MemoryError, match="in a worker"):
        list(solve_boundary(boundary, np.linspace(-1, 1, 200), workers=2, processes=True))
    assert parallel._MARGINS == ()


@pytest.mark.skipif(not parallel._can_fork(), reason="worker processes are forked on Linux only")
def test_small_networks_stay_in_one_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    net = netbound.load(Path(__file__).resolve().parent.parent / "sample_nets" / "tanh_deep.json")
    assert parallel._between(Boundary.resolve(net).margins[0]) < parallel.MIN_PROCESS_WEIGHTS
    pids = _processes_used(monkeypatch, tmp_path / "pids")
    monkeypatch.setattr(parallel, "MIN_PROCESS_WEIGHTS", 32 * 32)
    list(solve_boundary(Boundary.resolve(net), np.linspace(-1, 1, 300), workers=2, processes=True))
    assert set(pids()) == {os.getpid()}
