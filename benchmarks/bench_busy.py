"""A training epoch on a quiet machine and beside a busy neighbour, with one BLAS thread and with the default.

The matrices of the tutorial's model are small; a BLAS pool of one thread per core gains little on
them, and when another process keeps a core busy its threads spin and wait for each other. This
runs the same epoch (the tutorial's settings: per-sentence SGD, vocabulary up to 8000, hidden 100,
truncation 4) four ways — {1 thread, the BLAS library's default} × {quiet, one busy neighbour} —
interleaved, and reports medians and the ratios that matter: busy ÷ quiet for each setting, and
the default setting (``--threads 1``) against the library's default when quiet.

Run: python benchmarks/bench_busy.py [--repeats 5] [--sentences 300]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinygrad_rnn import corpus, train  # noqa: E402

HEAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "reddit-comments-2015-08-head.csv"


def epoch_seconds(data: corpus.Corpus, threads: int | None) -> float:
    config = train.TrainConfig(data=None, epochs=1, evaluate_every=10**6)
    trainer = train.Trainer(config, None, progress=False, log=lambda line: None, threads=threads, data_=data)
    start = time.perf_counter()
    trainer.run()
    return time.perf_counter() - start


def busy_neighbour() -> subprocess.Popen:
    """A process that keeps one core busy, as another user's job would."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--sentences", type=int, default=300)
    args = p.parse_args()
    source = HEAD if HEAD.exists() else None
    data = corpus.load(source, 8000, max_sentences=args.sentences, vocab_sentences="all")
    where = "reddit-comments-2015-08-head.csv" if source else "the built-in corpus (the reddit head not found)"
    tokens = int(data.pairs.lengths().sum())
    runs: dict[tuple[str, str], list[float]] = {}
    epoch_seconds(data, 1)  # warm-up
    for _ in range(args.repeats):
        for load in ("quiet", "busy"):
            neighbour = busy_neighbour() if load == "busy" else None
            try:
                if neighbour is not None:
                    time.sleep(0.5)  # let it get going
                for threads, label in ((1, "1 thread (--threads 1, the default)"), (None, "BLAS default")):
                    runs.setdefault((label, load), []).append(epoch_seconds(data, threads))
            finally:
                if neighbour is not None:
                    neighbour.kill()
                    neighbour.wait()
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"# one training epoch, {len(data.pairs)} sentences ({tokens:,} tokens) of {where}; vocabulary "
          f"{len(data.vocab)}, hidden 100, per-sentence SGD, truncation 4, float64\n")
    print(f"median of {args.repeats} interleaved runs; the busy neighbour is a process spinning on one core\n")
    print("| BLAS threads | quiet (s) | one busy neighbour (s) | busy ÷ quiet |")
    print("|---|---:|---:|---:|")
    for label in dict.fromkeys(k[0] for k in med):
        quiet, busy = med[(label, "quiet")], med[(label, "busy")]
        print(f"| {label} | {quiet:.2f} | {busy:.2f} | {busy / quiet:.2f} |")
    one, default = med[("1 thread (--threads 1, the default)", "quiet")], med[("BLAS default", "quiet")]
    print(f"\nquiet: 1 thread ÷ BLAS default = {one / default:.2f}")


if __name__ == "__main__":
    main()
