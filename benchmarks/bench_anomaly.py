"""What anomaly mode costs: per op on a chain of small ops, and per training step of the tutorial's RNNLM,
with it off (the default), on, and on with ``check_nan=False`` (tracebacks only).

Run: python benchmarks/bench_anomaly.py [--ops 2000] [--repeats 9] [--sentence 20]
Prints a markdown table: medians of interleaved repetitions, ratios taken within this run. Run it from an
older checkout too (only the "off" rows are measured there) to compare "off" with the tape before the mode
existed: alternate the two processes and compare medians.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import tinygrad_rnn as tg  # noqa: E402
from tinygrad_rnn import Tensor  # noqa: E402
from tinygrad_rnn.models import RNNLM  # noqa: E402
from tinygrad_rnn.optim import SGD  # noqa: E402

MODES = {"off": None, "on": {"check_nan": True}, "on, check_nan=False": {"check_nan": False}}


def chain(n_ops: int) -> None:
    """Forward and backward of a chain of small elementwise ops: the tape's bookkeeping, not arithmetic."""
    y = x = Tensor(np.full(8, 0.5), requires_grad=True)
    for i in range(n_ops):
        y = y * 1.0001 if i % 2 == 0 else y + 0.5
    y.sum().backward()
    assert x.grad is not None


def training_step(model: RNNLM, optimizer: SGD, x: np.ndarray, y: np.ndarray) -> None:
    optimizer.zero_grad()
    model.loss(x, y, reduction="sum").backward()
    optimizer.step()


def timed(fn, mode) -> float:
    start = time.perf_counter()
    if mode is None:
        fn()
    else:
        with tg.detect_anomaly(**mode):
            fn()
    return time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--sentence", type=int, default=20, help="words per training sentence")
    parser.add_argument("--steps", type=int, default=20, help="training steps per repetition")
    args = parser.parse_args(argv)
    modes = MODES if hasattr(tg, "detect_anomaly") else {"off": None}
    rng = np.random.default_rng(0)
    model = RNNLM(8000, 100, bptt_truncate=4, seed=0)
    optimizer = SGD(model.parameters(), lr=1e-9)  # a tiny step: every repetition trains the same model
    x, y = rng.integers(0, 8000, args.sentence), rng.integers(0, 8000, args.sentence)
    # nodes the training step records, for a per-op figure
    ops = len({id(n) for n in _nodes(model.loss(x, y, reduction="sum"))})
    workloads = {
        f"chain of {args.ops} ops, per op": (lambda: chain(args.ops), args.ops),
        f"RNNLM training step ({args.sentence} words, {ops} ops), per step": (
            lambda: [training_step(model, optimizer, x, y) for _ in range(args.steps)], args.steps),
    }
    times = {(w, m): [] for w in workloads for m in modes}
    with threadpool_limits(limits=1, user_api="blas"):
        for fn, _ in workloads.values():
            for mode in modes.values():
                timed(fn, mode)  # warm up
        for _ in range(args.repeats):
            for name, (fn, per) in workloads.items():
                for label, mode in modes.items():
                    times[name, label].append(timed(fn, mode) / per)
    print(f"python {platform.python_version()}, numpy {np.__version__}, one BLAS thread, "
          f"medians of {args.repeats} interleaved repetitions\n")
    print("| workload | " + " | ".join(modes) + " |" + (" on ÷ off |" if len(modes) > 1 else ""))
    print("|---|" + "---:|" * (len(modes) + (1 if len(modes) > 1 else 0)))
    for name in workloads:
        medians = {m: statistics.median(times[name, m]) for m in modes}
        cells = " | ".join(f"{medians[m] * 1e6:,.2f} µs" for m in modes)
        ratio = f" {medians['on'] / medians['off']:.1f}× |" if len(modes) > 1 else ""
        print(f"| {name} | {cells} |{ratio}")


def _nodes(t: Tensor):
    stack, seen = [t._node], []
    while stack:
        n = stack.pop()
        if n is None or not hasattr(n, "edges") or n in seen:
            continue
        seen.append(n)
        stack.extend(e for e in n.edges if e is not None and hasattr(e, "edges"))
    return seen


if __name__ == "__main__":
    main()
