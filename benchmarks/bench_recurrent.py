"""One training step of a recurrent language model: the tape's GRU/LSTM against PyTorch eager, side by side.

embedding → GRU or LSTM → linear → cross-entropy, then backward and an Adam step; embedding 64,
hidden 128, sequences of 64, batch 32, in float32 and float64, at a character-level vocabulary (96:
the recurrence dominates) and at the tutorial's 8000 (the output layer dominates). Against
PyTorch's fused ``nn.GRU``/``nn.LSTM`` and a ``GRUCell``/``LSTMCell`` loop, with one BLAS thread
and with the defaults. PyTorch rows are skipped when it is not installed.

Run: python benchmarks/bench_recurrent.py [--repeats 5] [--steps 3] [--plot docs/recurrent_step.png]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from contextlib import nullcontext

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import tinygrad_rnn.functional as F  # noqa: E402
from tinygrad_rnn import nn, optim  # noqa: E402

EMBED, HIDDEN = 64, 128


class TapeLM(nn.Module):
    """The library's model: Embedding, GRU or LSTM, Linear."""

    def __init__(self, cell: str, vocab: int, dtype):
        self.embed = nn.Embedding(vocab, EMBED, dtype=dtype, seed=0)
        self.rnn = (nn.GRU if cell == "gru" else nn.LSTM)(EMBED, HIDDEN, dtype=dtype, seed=1)
        self.out = nn.Linear(HIDDEN, vocab, dtype=dtype, seed=2)

    def loss(self, ids, targets):
        states, _ = self.rnn(self.embed(ids))
        return F.cross_entropy(self.out(states), targets)


def tape_step(cell: str, vocab: int, dtype, ids, targets):
    model = TapeLM(cell, vocab, dtype)
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        model.loss(ids, targets).backward()
        opt.step()

    return step


def torch_steps(cell: str, vocab: int, dtype, ids, targets):
    """PyTorch eager: the fused layer, and a loop over its cell (the same computation step by step)."""
    import torch

    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    t_ids, t_targets = torch.from_numpy(ids), torch.from_numpy(targets).reshape(-1)

    def make(fused: bool):
        torch.manual_seed(0)
        embed = torch.nn.Embedding(vocab, EMBED).to(tdtype)
        layer = {("gru", True): torch.nn.GRU, ("lstm", True): torch.nn.LSTM,
                 ("gru", False): torch.nn.GRUCell, ("lstm", False): torch.nn.LSTMCell}[cell, fused]
        rnn = (layer(EMBED, HIDDEN, batch_first=True) if fused else layer(EMBED, HIDDEN)).to(tdtype)
        out = torch.nn.Linear(HIDDEN, vocab).to(tdtype)
        params = [*embed.parameters(), *rnn.parameters(), *out.parameters()]
        opt = torch.optim.Adam(params, lr=1e-3)

        def forward():
            x = embed(t_ids)
            if fused:
                states = rnn(x)[0]
            else:
                h = torch.zeros(x.shape[0], HIDDEN, dtype=tdtype)
                state = h if cell == "gru" else (h, torch.zeros_like(h))
                outs = []
                for t in range(x.shape[1]):
                    state = rnn(x[:, t], state)
                    outs.append(state if cell == "gru" else state[0])
                states = torch.stack(outs, 1)
            return torch.nn.functional.cross_entropy(out(states).reshape(-1, vocab), t_targets)

        def step():
            opt.zero_grad()
            forward().backward()
            opt.step()

        return step

    return make(True), make(False)


def measure(fns: dict, repeats: int, steps: int) -> dict[str, float]:
    """Median seconds per step of each function, interleaved so drift hits them alike."""
    times = {k: [] for k in fns}
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(steps):
                fn()
            times[name].append((time.perf_counter() - start) / steps)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--steps", type=int, default=3, help="training steps per timing")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--length", type=int, default=64)
    p.add_argument("--vocabs", default="96,8000")
    p.add_argument("--plot", metavar="PNG", help="write a bar chart of the ratios (needs matplotlib)")
    args = p.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    default_threads = torch.get_num_threads() if torch else None
    print(f"# one training step (forward, backward, Adam): embedding {EMBED} → GRU/LSTM {HIDDEN} → linear → "
          f"cross-entropy; batch {args.batch}, sequences of {args.length}\n")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; Python {platform.python_version()}, "
          f"numpy {np.__version__}" + (f", torch {torch.__version__}" if torch else " (PyTorch not installed: its "
                                        "columns are skipped)") + f". Median of {args.repeats} interleaved runs of "
          f"{args.steps} steps.\n")
    print("| cell | vocabulary | dtype | threads | tape ms | nn.GRU/LSTM ms | cell loop ms | tape ÷ fused | "
          "tape ÷ cell loop |")
    print("|---|---:|---|---|---:|---:|---:|---:|---:|")
    rows = []
    for cell in ("gru", "lstm"):
        for vocab in (int(v) for v in args.vocabs.split(",")):
            ids = rng.integers(0, vocab, (args.batch, args.length))
            targets = rng.integers(0, vocab, (args.batch, args.length))
            for dtype in (np.float32, np.float64):
                for threads in ("1", "default"):
                    fns = {"tape": tape_step(cell, vocab, dtype, ids, targets)}
                    if torch:
                        fns["fused"], fns["loop"] = torch_steps(cell, vocab, dtype, ids, targets)
                        torch.set_num_threads(1 if threads == "1" else default_threads)
                    with threadpool_limits(1) if threads == "1" else nullcontext():
                        med = measure(fns, args.repeats, args.steps)
                    fused, loop = med.get("fused"), med.get("loop")
                    ratio_f = f"{med['tape'] / fused:.2f}×" if fused else "—"
                    ratio_l = f"{med['tape'] / loop:.2f}×" if loop else "—"
                    ms = lambda v: f"{v * 1e3:.1f}" if v else "—"  # noqa: E731
                    print(f"| {cell} | {vocab} | {np.dtype(dtype).name} | {threads} | {ms(med['tape'])} | "
                          f"{ms(fused)} | {ms(loop)} | {ratio_f} | {ratio_l} |")
                    rows.append((cell, vocab, np.dtype(dtype).name, threads, med))
    if torch:
        torch.set_num_threads(default_threads)
    if args.plot and torch:
        plot(rows, args.plot)


def plot(rows, path: str) -> None:
    try:
        import matplotlib
    except ImportError:
        print("\nno plot: matplotlib is not installed (pip install -e '.[bench]')")
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{c} V={v}\n{d}\n{'1 thread' if t == '1' else 'default threads'}" for c, v, d, t, _ in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(8, len(rows) * 0.85), 4.5))
    ax.bar(x - 0.2, [m["tape"] / m["fused"] for *_, m in rows], 0.4, label="tape ÷ nn.GRU/nn.LSTM")
    ax.bar(x + 0.2, [m["tape"] / m["loop"] for *_, m in rows], 0.4, label="tape ÷ cell loop")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel("time ratio (lower is better)")
    ax.set_title(f"one training step, tape ÷ PyTorch eager (batch 32, length 64; {platform.machine()}, "
                 f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')})", fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"\nplot written to {path}")


if __name__ == "__main__":
    main()
