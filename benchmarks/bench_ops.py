"""Per-op cost of the tape: a chain of small elementwise ops, tape against the same arithmetic in numpy;
then one op of each family, tape against the op's own numpy code.

Run: python benchmarks/bench_ops.py [--ops 1000] [--size 100] [--repeats 15] [--calls 2000]
Prints markdown tables; medians of interleaved repetitions, differences taken within this run.
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
import tinygrad_rnn.functional as F  # noqa: E402
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


def family_ops(rng: np.random.Generator) -> dict[str, tuple]:
    """Per family, ops as (primitive name, input arrays, params, the call on Tensors): small inputs, so
    what is measured is the tape's bookkeeping, not the arithmetic."""
    v, w = rng.uniform(0.5, 2.0, 100), rng.uniform(0.5, 2.0, 100)
    m = rng.uniform(-2.0, 2.0, (10, 10))
    ids = rng.integers(0, 10, (10, 3))
    return {
        "elementwise math": [
            ("sin", (v,), {}, lambda x: x.sin()),
            ("maximum", (v, w), {}, lambda x, y: x.maximum(y)),
            ("remainder", (v, w), {}, lambda x, y: x % y),
            ("erf", (v,), {}, lambda x: x.erf()),
        ],
        "activations": [
            ("gelu", (v,), {"approximate": "none"}, lambda x: x.gelu()),
            ("gelu", (v,), {"approximate": "tanh"}, lambda x: x.gelu(approximate="tanh")),
            ("softplus", (v,), {"beta": 1.0, "threshold": 20.0}, lambda x: x.softplus()),
            ("silu", (v,), {}, lambda x: x.silu()),
        ],
        "reductions": [
            ("mean", (m,), {"axis": -1, "keepdims": True}, lambda x: x.mean(axis=-1, keepdims=True)),
            ("var", (m,), {"axis": -1, "keepdims": True, "correction": 0},
             lambda x: x.var(axis=-1, keepdims=True, correction=0)),
            ("logsumexp", (m,), {"axis": -1}, lambda x: x.logsumexp(axis=-1)),
            ("prod", (m,), {"axis": 0}, lambda x: x.prod(axis=0)),
            ("cumsum", (m,), {"axis": 1}, lambda x: x.cumsum(axis=1)),
        ],
        "movement": [
            ("pad", (m,), {"pad_width": 1, "mode": "constant", "value": 0.0}, lambda x: x.pad(1)),
            ("flip", (m,), {"dims": (0,)}, lambda x: x.flip(0)),
            ("gather", (m,), {"dim": 1, "index": ids}, lambda x: x.gather(1, ids)),
            ("tile", (m,), {"reps": (2, 1)}, lambda x: x.tile((2, 1))),
        ],
        "linear algebra": [
            ("einsum", (m, m), {"subscripts": "ij,jk->ik"}, lambda x, y: F.einsum("ij,jk->ik", x, y)),
            ("tril", (m,), {"k": 0}, lambda x: x.tril()),
            ("trace", (m,), {}, lambda x: x.trace()),
        ],
    }


def raw_uses(cls, arrays, params, grad, uses: int) -> None:
    """The op's own forward and VJP on arrays, ``uses`` times, with what a pass adds around them (a copy
    of each seed, the sum of the gradients at the inputs): the same numpy work as the tape, no tape."""
    totals = [None] * len(arrays)
    for _ in range(uses):
        fn = cls.__new__(cls)
        fn.needs_input_grad = [True] * len(arrays)
        fn.saved = ()
        fn.forward(*arrays, **params)
        grads = fn.backward(np.array(grad), *fn.saved)
        for i, g in enumerate(grads if isinstance(grads, tuple) else (grads,)):
            g = tg.gradients.densify(g)
            totals[i] = np.array(g) if totals[i] is None else np.add(totals[i], g, out=totals[i]) \
                if totals[i].shape == g.shape else totals[i] + g


def tape_uses(call, leaves, grad, uses: int) -> None:
    """``uses`` applications of the op in one graph, then one reverse pass over all of them."""
    outs = [call(*leaves) for _ in range(uses)]
    tg.grad(outs, leaves, grad_outputs=[grad] * uses)


def family_table(calls: int, repeats: int, uses: int = 50) -> None:
    """One op of each family, forward + backward, used ``uses`` times in one graph: the tape's time per
    use minus the op's own numpy code's."""
    rng = np.random.default_rng(1)
    rows = []
    rounds = max(1, calls // uses)
    for family, ops in family_ops(rng).items():
        for name, arrays, params, call in ops:
            cls = tg.REGISTRY[name]
            leaves = [Tensor(a.copy(), requires_grad=True) for a in arrays]
            grad = np.ones(call(*leaves).shape)
            raw = lambda c=cls, a=arrays, p=params, g=grad: raw_uses(c, a, p, g, uses)  # noqa: E731
            tape = lambda c=call, t=leaves, g=grad: tape_uses(c, t, g, uses)  # noqa: E731
            times = {"raw": [], "tape": []}
            for fn in (raw, tape):
                fn()
            for _ in range(repeats):  # interleaved
                for key, fn in (("raw", raw), ("tape", tape)):
                    start = time.perf_counter()
                    for _ in range(rounds):
                        fn()
                    times[key].append((time.perf_counter() - start) / (rounds * uses))
            r, t = statistics.median(times["raw"]), statistics.median(times["tape"])
            label = name if name != "gelu" else f"gelu ({params['approximate']})"
            rows.append((family, label, r * 1e6, t * 1e6, (t - r) * 1e6))
    print("\n# one op per family, forward + backward: the op's own numpy code, and through the tape\n")
    print(f"each op used {uses} times in one graph, one reverse pass; median of {repeats} interleaved runs of "
          f"{rounds * uses} uses; inputs of 100 elements\n")
    print("| family | op | numpy code µs | tape µs | overhead µs |")
    print("|---|---|---:|---:|---:|")
    for family, label, r, t, d in rows:
        print(f"| {family} | {label} | {r:.1f} | {t:.1f} | {d:.1f} |")
    worst = max(rows, key=lambda row: row[-1])
    median = statistics.median(row[-1] for row in rows)
    print(f"\noverhead per op: median **{median:.1f} µs**, largest {worst[-1]:.1f} µs ({worst[1]}) (target ≤ 3)")


def composites(rng: np.random.Generator) -> list[tuple]:
    """(what, the fused op, the same function from several primitives) on a (32, 128) float64 batch."""
    m = rng.standard_normal((32, 128))

    def gelu_composite(x):
        return x * 0.5 * (1.0 + (x * (1 / np.sqrt(2.0))).erf())

    def logsumexp_composite(x):
        top = x.max(axis=-1, keepdims=True).detach()
        return (x - top).exp().sum(axis=-1).log() + top[:, 0]

    def var_composite(x):
        d = x - x.sum(axis=-1, keepdims=True) * (1 / x.shape[-1])
        return (d * d).sum(axis=-1) * (1 / x.shape[-1])

    return [
        ("gelu", m, lambda x: x.gelu(), gelu_composite),
        ("logsumexp over the last axis", m, lambda x: x.logsumexp(axis=-1), logsumexp_composite),
        ("variance over the last axis (layer norm)", m, lambda x: x.var(axis=-1, correction=0), var_composite),
    ]


def composite_table(calls: int, repeats: int) -> None:
    """Fused primitives against the same function built from several primitives: forward + backward."""
    rows = []
    for what, data, fused, composite in composites(np.random.default_rng(2)):
        leaf = Tensor(data.copy(), requires_grad=True)
        grad = np.ones(fused(leaf).shape)
        np.testing.assert_allclose(fused(leaf).data, composite(leaf).data, rtol=1e-10, atol=1e-12)
        times = {"fused": [], "composite": []}
        for _ in range(repeats):
            for key, fn in (("fused", fused), ("composite", composite)):
                start = time.perf_counter()
                for _ in range(calls):
                    fn(leaf).backward(grad)
                    leaf.grad = None
                times[key].append((time.perf_counter() - start) / calls)
        f, c = statistics.median(times["fused"]), statistics.median(times["composite"])
        rows.append((what, f * 1e6, c * 1e6, c / f))
    print("\n# fused primitives against the same function from several primitives, forward + backward\n")
    print(f"(32, 128) float64; median of {repeats} interleaved runs of {calls} calls\n")
    print("| function | fused µs | composite µs | composite ÷ fused |")
    print("|---|---:|---:|---:|")
    for what, f, c, ratio in rows:
        print(f"| {what} | {f:.0f} | {c:.0f} | {ratio:.2f}× |")


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
    p.add_argument("--calls", type=int, default=2000, help="calls per timing of the per-family table (0 to skip)")
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

    if args.calls:
        family_table(args.calls, args.repeats)
        composite_table(max(1, args.calls // 10), args.repeats)


def _no_grad(fn):
    with tg.no_grad():
        fn()


if __name__ == "__main__":
    main()
