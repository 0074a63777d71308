"""The tutorial's workload, one SGD epoch, every implementation side by side in one process.

word_dim 8000 (kept even where the corpus has fewer distinct words, so the compute matches the
tutorial's), hidden 100, lr 0.005, the first 100 sentences of the reddit head (falling back to
the built-in corpus, said in the output). Medians of interleaved runs; every run starts from
the same initial weights; ratios are taken within this run.

Run: python benchmarks/bench_rnnlm.py [--repeats 3] [--sentences 100] [--reference-sentences 8]
PyTorch and HIPS autograd rows appear when those packages are installed (pip install -e ".[bench]").
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tinygrad_rnn import data  # noqa: E402
from tinygrad_rnn.compare import transfer_weights  # noqa: E402
from tinygrad_rnn.models import RNNLM  # noqa: E402
from tinygrad_rnn.optim import SGD  # noqa: E402
from tinygrad_rnn.reference import GateRNN  # noqa: E402

WORD_DIM, HIDDEN, LR = 8000, 100, 0.005
HEAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "reddit-comments-2015-08-head.csv"

Epoch = Callable[[], None]


@dataclass
class Row:
    """One implementation in one setting; ``setup`` builds fresh state and returns the timed epoch."""

    name: str
    dtype: str
    mode: str           # "per-sentence" or "batch 32"
    truncate: str       # "4" or "full"
    setup: Callable[[], Epoch]
    scale: float = 1.0  # the reference runs a subset: its time is scaled to the whole epoch by tokens


def load_workload(n: int) -> tuple[list, str]:
    if HEAD.exists():
        sentences, source = data.load_corpus(HEAD), f"first {n} sentences of reddit-comments-2015-08-head.csv"
    else:
        sentences = data.load_corpus(None)
        source = f"first {n} sentences of the built-in corpus (reddit-comments-2015-08-head.csv not found)"
    vocab = data.Vocabulary.build(sentences, WORD_DIM)
    return data.encode_sentences(sentences[:n], vocab), source


def batches(pairs, size: int) -> list:
    if size == 1:
        return [(x, y, None) for x, y in pairs]
    return [data.pad_batch(pairs[i:i + size]) for i in range(0, len(pairs), size)]


# --- implementations -----------------------------------------------------------------------
def tape_row(weights, pairs, dtype, batch, k) -> Epoch:
    model = RNNLM(WORD_DIM, HIDDEN, bptt_truncate=k, dtype=dtype)
    for name, w in weights.items():
        getattr(model, name).data[...] = w
    opt = SGD(model.parameters(), lr=LR)
    work = batches(pairs, batch)

    def epoch():
        for x, y, mask in work:
            opt.zero_grad()
            model.loss(x, y, mask, reduction="sum").backward()
            opt.step()
    return epoch


def reference_row(weights, pairs, k) -> Epoch:
    gate = GateRNN(WORD_DIM, HIDDEN, bptt_truncate=k)
    transfer_weights(_Weights(weights), gate)

    def epoch():
        for x, y in pairs:
            gate.sgd_step(x, y, LR)
    return epoch


def torch_row(weights, pairs, dtype, batch) -> Epoch:
    import torch
    import torch.nn.functional as F

    tdt = torch.float64 if dtype == np.float64 else torch.float32
    U, V, W = (torch.tensor(weights[n], dtype=tdt, requires_grad=True) for n in ("U", "V", "W"))
    work = [(torch.as_tensor(x).reshape(-1, np.shape(x)[-1]), torch.as_tensor(np.where(m, y, -1) if m is not None
             else y).reshape(-1)) for x, y, m in batches(pairs, batch)]

    def epoch():
        for x, y in work:
            xu = U.t()[x]
            h, states = None, []
            for t in range(x.shape[1]):
                h = torch.tanh(xu[:, t] if h is None else xu[:, t] + h @ W.t())
                states.append(h)
            logits = torch.stack(states, 1) @ V.t()
            F.cross_entropy(logits.reshape(-1, WORD_DIM), y, ignore_index=-1, reduction="sum").backward()
            with torch.no_grad():
                for p in (U, V, W):
                    p -= LR * p.grad
                    p.grad = None
    return epoch


def autograd_row(weights, pairs) -> Epoch:
    import autograd.numpy as anp
    from autograd import grad
    from autograd.scipy.special import logsumexp

    def loss(params, x, y):
        U, V, W = params
        h, states = anp.zeros(HIDDEN), []
        for t in range(len(x)):
            h = anp.tanh(U[:, x[t]] + anp.dot(W, h))
            states.append(h)
        logits = anp.dot(anp.stack(states), V.T)
        logp = logits - logsumexp(logits, axis=1, keepdims=True)
        return -anp.sum(logp[anp.arange(len(y)), y])

    gradient = grad(loss)
    params = [weights["U"].copy(), weights["V"].copy(), weights["W"].copy()]

    def epoch():
        for x, y in pairs:
            for p, g in zip(params, gradient(params, x, y)):
                p -= LR * g
    return epoch


class _Weights:
    def __init__(self, arrays):
        self.U, self.V, self.W = arrays["U"], arrays["V"], arrays["W"]


def available(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


# --- the table -------------------------------------------------------------------------------
def build_rows(weights, pairs, reference_sentences: int) -> tuple[list[Row], list[str]]:
    tokens = sum(len(y) for _, y in pairs)
    sub = pairs[:reference_sentences]
    scale = tokens / sum(len(y) for _, y in sub)
    rows = [
        Row("hand-written gates (reference)", "float64", "per-sentence", "4",
            lambda: reference_row(weights, sub, 4), scale),
        Row("hand-written gates (reference)", "float64", "per-sentence", "full",
            lambda: reference_row(weights, sub, 10**6), scale),
    ]
    for dtype, batch in ((np.float64, 1), (np.float32, 1), (np.float32, 32)):
        for k in (4, None):
            rows.append(Row("tape RNNLM", np.dtype(dtype).name, "per-sentence" if batch == 1 else f"batch {batch}",
                            "full" if k is None else str(k),
                            lambda d=dtype, b=batch, k=k: tape_row(weights, pairs, d, b, k)))
    notes = []
    if available("torch"):
        for dtype, batch in ((np.float64, 1), (np.float32, 1), (np.float32, 32)):
            rows.append(Row("PyTorch eager, Python loop", np.dtype(dtype).name,
                            "per-sentence" if batch == 1 else f"batch {batch}", "full",
                            lambda d=dtype, b=batch: torch_row(weights, pairs, d, b)))
    else:
        notes.append("PyTorch rows skipped: torch is not installed (pip install -e '.[bench]')")
    if available("autograd"):
        rows.append(Row("HIPS autograd", "float64", "per-sentence", "full", lambda: autograd_row(weights, pairs)))
    else:
        notes.append("HIPS autograd row skipped: autograd is not installed (pip install -e '.[bench]')")
    return rows, notes


def measure(rows: list[Row], repeats: int) -> dict[int, float]:
    """Seconds per epoch of each row: median of interleaved runs, each from fresh initial weights."""
    times: dict[int, list[float]] = {i: [] for i in range(len(rows))}
    for _ in range(repeats):
        for i, row in enumerate(rows):
            epoch = row.setup()
            start = time.perf_counter()
            epoch()
            times[i].append((time.perf_counter() - start) * row.scale)
    return {i: statistics.median(t) for i, t in times.items()}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = [f"Python {platform.python_version()}", f"numpy {np.__version__}"]
    for module in ("torch", "autograd"):
        if available(module):
            versions.append(f"{module} {getattr(__import__(module), '__version__', '?')}")
    return f"{cpu}, {os.cpu_count()} cores; " + ", ".join(versions)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sentences", type=int, default=100)
    p.add_argument("--reference-sentences", type=int, default=8,
                   help="the slow reference is timed on this many sentences and scaled to the epoch by tokens")
    args = p.parse_args()

    pairs, source = load_workload(args.sentences)
    tokens = sum(len(y) for _, y in pairs)
    weights = {n: p.data.copy() for n, p in RNNLM(WORD_DIM, HIDDEN, seed=0).named_parameters()}
    rows, notes = build_rows(weights, pairs, args.reference_sentences)
    seconds = measure(rows, args.repeats)

    ref = {r.truncate: seconds[i] for i, r in enumerate(rows) if r.name.startswith("hand-written")}
    torch_time = {(r.dtype, r.mode): seconds[i] for i, r in enumerate(rows) if r.name.startswith("PyTorch")}
    print(f"# RNNLM, one SGD epoch: {source}, {tokens:,} tokens; word_dim {WORD_DIM}, hidden {HIDDEN}\n")
    print(f"{machine()}; median of {args.repeats} interleaved runs; the reference is timed on "
          f"{args.reference_sentences} sentences and scaled to the epoch by tokens\n")
    for note in notes:
        print(f"- {note}")
    print("\n| implementation | dtype | steps | BPTT | s / epoch | tokens / s | × faster than reference | "
          "time / PyTorch |")
    print("|---|---|---|---|---:|---:|---:|---:|")
    for i, r in enumerate(rows):
        s = seconds[i]
        vs_ref = f"{ref[r.truncate] / s:.0f}×" if r.truncate in ref else "—"
        vs_torch = f"{s / torch_time[(r.dtype, r.mode)]:.2f}" if (r.dtype, r.mode) in torch_time else "—"
        print(f"| {r.name} | {r.dtype} | {r.mode} | {r.truncate} | {s:.3f} | {tokens / s:,.0f} | {vs_ref} | "
              f"{vs_torch} |")


if __name__ == "__main__":
    main()
