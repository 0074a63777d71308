"""Per-op cost of the tape: a chain of small elementwise ops, tape against the same arithmetic in numpy.

Run: python benchmarks/bench_ops.py [--ops 1000] [--size 100] [--repeats 15]
Prints a markdown table; medians of interleaved repetitions, ratios taken within this run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import tinygrad_rnn as tg  # noqa: E402
from tinygrad_rnn import Tensor  # noqa: E402


def numpy_chain(x: np.ndarray, n_ops: int, backward: bool) -> None:
    """The same arithmetic as the tape chain: alternate y*c and y+c, then the chain rule by hand."""
    y = x
    for i in range(n_ops):
        y = y * 1.0001 if i % 2 == 0 else y + 0.5
    if backward:
        g = np.ones_like(y)
        for i in reversed(range(n_ops)):
            if i % 2 == 0:
                g = g * 1.0001


def tape_chain(x: Tensor, n_ops: int, backward: bool, create_graph: bool = False) -> None:
    y = x
    for i in range(n_ops):
        y = y * 1.0001 if i % 2 == 0 else y + 0.5
    if backward:
        y.backward(np.ones(y.shape), create_graph=create_graph)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ops", type=int, default=1000)
    p.add_argument("--size", type=int, default=100)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--long-chain", type=int, default=200_000, help="length of the deep-graph test (0 to skip)")
    args = p.parse_args()

    data = np.random.default_rng(0).standard_normal(args.size)
    n = args.ops
    variants = {
        "numpy forward": lambda: numpy_chain(data, n, False),
        "numpy forward+backward": lambda: numpy_chain(data, n, True),
        "tape forward (no_grad)": lambda: _no_grad(lambda: tape_chain(Tensor(data), n, False)),
        "tape forward (recording)": lambda: tape_chain(Tensor(data.copy(), requires_grad=True), n, False),
        "tape forward+backward": lambda: tape_chain(Tensor(data.copy(), requires_grad=True), n, True),
        "tape forward+backward, create_graph": lambda: tape_chain(
            Tensor(data.copy(), requires_grad=True), n, True, create_graph=True),
    }
    times: dict[str, list[float]] = {k: [] for k in variants}
    for fn in variants.values():  # warm-up
        fn()
    for _ in range(args.repeats):  # interleaved, so drift on a shared machine hits every variant alike
        for name, fn in variants.items():
            times[name].append(timed(fn))
    med = {k: statistics.median(v) for k, v in times.items()}

    print(f"# tape per-op overhead: chain of {n} elementwise ops on a ({args.size},) float64 array\n")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
          f"{os.cpu_count()} cores; median of {args.repeats} interleaved runs\n")
    print("| variant | ms per chain | µs per op |")
    print("|---|---:|---:|")
    for k, v in med.items():
        print(f"| {k} | {v * 1e3:.2f} | {v / n * 1e6:.2f} |")
    overhead = (med["tape forward+backward"] - med["numpy forward+backward"]) / n * 1e6
    fwd = med["tape forward (recording)"]
    bwd = med["tape forward+backward"] - fwd
    print(f"\ntape overhead above raw numpy, forward+backward: **{overhead:.2f} µs per op** (target ≤ 3)")
    print(f"backward (create_graph=False) / recorded forward: **{bwd / fwd:.2f}×**")
    graph_bwd = med["tape forward+backward, create_graph"] - fwd
    print(f"backward with create_graph=True / without: {graph_bwd / bwd:.2f}×")

    if args.long_chain:
        x = Tensor(np.ones(2), requires_grad=True)
        start = time.perf_counter()
        y = x
        for _ in range(args.long_chain):
            y = y * 1.0
        y.sum().backward()
        print(f"\nforward+backward of a {args.long_chain:,}-op chain: {time.perf_counter() - start:.2f} s "
              f"(recursion limit {sys.getrecursionlimit()})")


def _no_grad(fn):
    with tg.no_grad():
        fn()


if __name__ == "__main__":
    main()
