"""The tutorial's workload, one SGD epoch, every implementation side by side in one process.

word_dim 8000 (kept even where the corpus has fewer distinct words, so the compute matches the
tutorial's), hidden 100, lr 0.005, the first 100 sentences of the reddit head (falling back to
the built-in corpus, said in the output). Three settings: float64 one sentence per step (the
tutorial's exact training), float32 one sentence per step, float32 with padded batches of 32.
Medians of interleaved runs, every run from the same initial weights; ratios within this run.
Then: the cost of the tutorial's truncation, time per token against sequence length, and the
peak memory of full BPTT over one long sequence.

Run: python benchmarks/bench_rnnlm.py [--repeats 3] [--plot docs/rnnlm_tokens_per_second.png]
PyTorch and HIPS autograd rows appear when installed (pip install -e ".[bench]").
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import rnn_baselines as base  # noqa: E402

from tinygrad_rnn import data, fast_paths  # noqa: E402
from tinygrad_rnn.checkpoint import atomic_write  # noqa: E402
from tinygrad_rnn.compare import transfer_weights  # noqa: E402
from tinygrad_rnn.models import RNNLM  # noqa: E402
from tinygrad_rnn.optim import SGD  # noqa: E402
from tinygrad_rnn.reference import GateRNN  # noqa: E402

WORD_DIM, HIDDEN, LR = 8000, 100, 0.005
HEAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "reddit-comments-2015-08-head.csv"
SETTINGS = (("float64", "per sentence"), ("float32", "per sentence"), ("float32", "batch 32"))
Builder = Callable[[dict, list, float, type], Callable[[], None]]


@dataclass
class Impl:
    name: str
    build: Builder
    settings: tuple = SETTINGS
    subset: int | None = None        # time this many sentences and scale to the epoch by tokens
    seconds: dict = field(default_factory=dict)


def load_workload(n: int) -> tuple[list, str]:
    if HEAD.exists():
        sentences, source = data.load_corpus(HEAD), f"the first {n} sentences of reddit-comments-2015-08-head.csv"
    else:
        sentences = data.load_corpus(None)
        source = f"the first {n} sentences of the built-in corpus (reddit-comments-2015-08-head.csv not found)"
    vocab = data.Vocabulary.build(sentences, WORD_DIM)
    return data.encode_sentences(sentences[:n], vocab), source


def batches(pairs, size: int) -> list:
    """(x, y, mask) per step: (1, T) arrays and no mask per sentence, padded (B, T) with a mask otherwise."""
    if size == 1:
        return [(x[None], y[None], None) for x, y in pairs]
    return [data.pad_batch(pairs[i:i + size]) for i in range(0, len(pairs), size)]


def tape_builder(k: int | None, fast: bool = True) -> Builder:
    """The tape's RNNLM; ``fast=False`` runs it inside ``fast_paths(False)`` (every gradient dense)."""
    def build(weights, work, lr, dtype):
        hidden, word_dim = weights["U"].shape
        model = RNNLM(word_dim, hidden, bptt_truncate=k, dtype=dtype)
        for name, w in weights.items():
            getattr(model, name).data[...] = w
        opt = SGD(model.parameters(), lr=lr)

        def epoch():
            with fast_paths(fast):
                for x, y, mask in work:
                    opt.zero_grad()
                    model.loss(x, y, mask, reduction="sum").backward()
                    opt.step()
        epoch.weights = lambda: {n: p.data for n, p in model.named_parameters()}
        return epoch
    return build


def reference_builder(k: int) -> Builder:
    def build(weights, work, lr, dtype):
        hidden, word_dim = weights["U"].shape
        gate = GateRNN(word_dim, hidden, bptt_truncate=k)
        tape = RNNLM(word_dim, hidden)
        for name, w in weights.items():
            getattr(tape, name).data[...] = w
        transfer_weights(tape, gate)
        sentences = [(x[0], y[0]) for x, y, _ in work]

        def epoch():
            for x, y in sentences:
                gate.sgd_step(x, y, lr)
        epoch.weights = lambda: {"U": gate.U, "V": gate.V, "W": gate.W}
        return epoch
    return build


def implementations(reference_subset: int) -> tuple[list[Impl], list[str]]:
    impls = [
        Impl("hand-written gates (the tutorial's), k = 4", reference_builder(4), SETTINGS[:1], reference_subset),
        Impl("hand-written gates, full BPTT", reference_builder(10**6), SETTINGS[:1], reference_subset),
        Impl("tape RNNLM, full BPTT", tape_builder(None)),
        Impl("tape RNNLM, tutorial truncation k = 4", tape_builder(4)),
        Impl("tape RNNLM, full BPTT, fast paths off", tape_builder(None, fast=False), SETTINGS[:1]),
        Impl("hand-optimised numpy, no autodiff", base.numpy_epoch),
    ]
    notes = []
    if _available("torch"):
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        impls += [Impl("PyTorch eager, Python loop over steps", base.torch_loop_epoch),
                  Impl("PyTorch eager, nn.RNN", base.torch_rnn_epoch)]
    else:
        notes.append("PyTorch rows skipped: torch is not installed (pip install -e '.[bench]')")
    if _available("autograd"):
        impls.append(Impl("HIPS autograd", base.autograd_epoch, SETTINGS[:1]))
    else:
        notes.append("HIPS autograd row skipped: autograd is not installed (pip install -e '.[bench]')")
    return impls, notes


def measure(impls: list[Impl], pairs, repeats: int) -> None:
    """Fill ``impl.seconds[setting]``: median seconds per epoch over interleaved runs."""
    tokens = sum(len(y) for _, y in pairs)
    weights = {n: p.data.copy() for n, p in RNNLM(WORD_DIM, HIDDEN, seed=0).named_parameters()}
    work = {size: batches(pairs, size) for size in (1, 32)}
    runs: dict[tuple, list[float]] = {}
    for _ in range(repeats):
        for impl in impls:
            for dtype, mode in impl.settings:
                size = 32 if mode.startswith("batch") else 1
                todo = work[size][: impl.subset] if impl.subset else work[size]
                scale = tokens / sum(len(y) for _, y in pairs[: impl.subset]) if impl.subset else 1.0
                epoch = impl.build(weights, todo, LR, np.dtype(dtype).type)
                start = time.perf_counter()
                epoch()
                runs.setdefault((impl.name, dtype, mode), []).append((time.perf_counter() - start) * scale)
    for impl in impls:
        impl.seconds = {(d, m): statistics.median(runs[(impl.name, d, m)]) for d, m in impl.settings}


def print_tables(impls: list[Impl], tokens: int) -> None:
    print("seconds per epoch (tokens per second):\n")
    print("| implementation | " + " | ".join(f"{d} {m}" for d, m in SETTINGS) + " |")
    print("|---|" + "---:|" * len(SETTINGS))
    for impl in impls:
        cells = [f"{impl.seconds[s]:.3f} ({tokens / impl.seconds[s]:,.0f})" if s in impl.seconds else ""
                 for s in SETTINGS]
        print(f"| {impl.name} | " + " | ".join(cells) + " |")

    gates = {("full" in i.name): i.seconds[SETTINGS[0]] for i in impls if i.name.startswith("hand-written")}
    others = [(label, next((i for i in impls if key in i.name), None)) for label, key in
              (("PyTorch loop", "Python loop"), ("PyTorch nn.RNN", "nn.RNN"), ("hand-optimised numpy", "numpy"))]
    others = [(label, o) for label, o in others if o is not None]
    print("\nthe tape against the others, within this run (time ratios in the same setting; "
          "the gates run float64 per sentence with the same truncation):\n")
    print("| tape RNNLM | setting | × faster than the tutorial's gates | "
          + " | ".join(f"time ÷ {label}" for label, _ in others) + " |")
    print("|---|---|---:|" + "---:|" * len(others))
    for impl in (i for i in impls if i.name.startswith("tape")):
        for setting in impl.settings:
            t = impl.seconds[setting]
            cells = [f"{gates['full' in impl.name] / t:.0f}×"]
            cells += [f"{t / o.seconds[setting]:.2f}" if setting in o.seconds else "" for _, o in others]
            label = impl.name.removeprefix("tape RNNLM, ")
            print(f"| {label} | {setting[0]} {setting[1]} | " + " | ".join(cells) + " |")


def truncation_cost(pairs, repeats: int) -> float:
    """Seconds of a float64 per-sentence epoch with k = 4 divided by full BPTT, interleaved."""
    weights = {n: p.data.copy() for n, p in RNNLM(WORD_DIM, HIDDEN, seed=0).named_parameters()}
    work = batches(pairs, 1)
    runs = {4: [], None: []}
    for _ in range(repeats):
        for k in runs:
            epoch = tape_builder(k)(weights, work, LR, np.float64)
            start = time.perf_counter()
            epoch()
            runs[k].append(time.perf_counter() - start)
    return statistics.median(runs[4]) / statistics.median(runs[None])


def one_sequence(steps: int, dense: bool, trace: bool = False, dtype=np.float32) -> float:
    """Forward + backward over one sequence of ``steps`` tokens: seconds, or with ``trace`` the peak
    of memory allocated meanwhile (tracemalloc sees numpy's arrays). With ``dense`` every gradient is
    also read as an array; without, the embedding's and the shared weights' gradients stay in the lazy
    form an optimizer applies directly."""
    rng = np.random.default_rng(0)
    model = RNNLM(WORD_DIM, HIDDEN, dtype=dtype, seed=0)
    x, y = rng.integers(0, WORD_DIM, steps), rng.integers(0, WORD_DIM, steps)
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    model.loss(x, y, reduction="sum").backward()
    if dense:
        assert all(p.grad is not None for p in model.parameters())
    seconds = time.perf_counter() - start
    if trace:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak
    return seconds


def scaling(lengths=(10, 100, 1000, 10000), repeats: int = 5) -> None:
    """Time per token against sequence length (untraced runs), then the traced memory peak of each."""
    print("\nfull BPTT over one sequence, float32 (medians; memory traced in a separate run):\n")
    print("| steps | µs per token, forward + backward | µs per token, + gradients read as arrays | "
          "peak memory | peak ÷ the (steps, 8000) float32 logits |")
    print("|---:|---:|---:|---:|---:|")
    one_sequence(100, True)  # warm-up
    for steps in lengths:
        runs = max(3, min(repeats * 10, 20_000 // steps))
        lazy = statistics.median(one_sequence(steps, False) for _ in range(runs))
        dense = statistics.median(one_sequence(steps, True) for _ in range(runs))
        peak = one_sequence(steps, True, trace=True)
        logits = steps * WORD_DIM * 4
        print(f"| {steps:,} | {lazy / steps * 1e6:.1f} | {dense / steps * 1e6:.1f} | {peak / 2**20:,.1f} MiB | "
              f"{peak / logits:.2f} |")


def plot(impls: list[Impl], tokens: int, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.8))
    width = 0.8 / len(SETTINGS)
    for j, s in enumerate(SETTINGS):
        values = [tokens / i.seconds[s] if s in i.seconds else 0 for i in impls]
        ax.barh([k + j * width for k in range(len(impls))], values, height=width, label=f"{s[0]}, {s[1]}")
    ax.set_yticks([k + width for k in range(len(impls))])
    ax.set_yticklabels([i.name for i in impls], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("tokens per second (log scale; higher is better)")
    ax.set_title(f"RNN LM, one SGD epoch: vocabulary {WORD_DIM}, hidden {HIDDEN}")
    ax.legend(fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write(Path(path), buf.getvalue())


def machine() -> str:
    cpu = platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = [f"Python {platform.python_version()}", f"numpy {np.__version__}"]
    for module in ("torch", "autograd"):
        if _available(module):
            from importlib.metadata import version
            versions.append(f"{module} {version(module)}")
    return f"{cpu}, {os.cpu_count()} cores; " + ", ".join(versions)


def _available(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sentences", type=int, default=100)
    p.add_argument("--reference-sentences", type=int, default=8,
                   help="the slow reference is timed on this many sentences and scaled to the epoch by tokens")
    p.add_argument("--plot", metavar="PNG", help="write a bar chart of tokens/s (needs matplotlib)")
    p.add_argument("--skip-long", action="store_true", help="skip the sequence-length and memory measurements")
    args = p.parse_args()

    pairs, source = load_workload(args.sentences)
    tokens = sum(len(y) for _, y in pairs)
    impls, notes = implementations(args.reference_sentences)
    measure(impls, pairs, args.repeats)
    print(f"# RNN language model, one SGD epoch over {source}: {tokens:,} tokens; "
          f"word_dim {WORD_DIM}, hidden {HIDDEN}, lr {LR}\n")
    print(f"{machine()}. Median of {args.repeats} interleaved runs. The hand-written gates are timed on "
          f"{args.reference_sentences} sentences and scaled to the epoch by tokens.\n")
    for note in notes:
        print(f"- {note}")
    print_tables(impls, tokens)
    print(f"\ntutorial truncation (k = 4) ÷ full BPTT, tape, float64 per sentence: "
          f"{truncation_cost(pairs, args.repeats):.2f}")
    if not args.skip_long:
        scaling()
    if args.plot:
        plot(impls, tokens, args.plot)
        print(f"\nwrote {args.plot}")


if __name__ == "__main__":
    main()
