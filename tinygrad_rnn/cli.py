"""The ``tinygrad-rnn`` command: argparse subcommands that call library code and set exit codes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


class CLIError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


def cmd_gradcheck(args: argparse.Namespace) -> int:
    """Check every primitive's gradient (first and second order) against finite differences."""
    from .registry import REGISTRY
    from .testing import CASES, MODEL_CASES, check_case

    known = sorted(REGISTRY) + [c.op for c in MODEL_CASES]
    names = args.op or known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CLIError(f"unknown primitive {unknown[0]!r}; known: {', '.join(known)}")
    rows = [check_case(c, args.seed) for c in CASES + MODEL_CASES if c.op in names]
    header = ("primitive", "case", "shapes", "max abs err", "max rel err", "2nd-order abs err", "result")
    table = [header] + [
        (
            r.case.op, r.case.label, " ".join(str(s) for s in r.case.shapes),
            f"{r.abs_err:.2e}", f"{r.rel_err:.2e}", f"{r.abs_err2:.2e}", "pass" if r.ok else "FAIL",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for k, row in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))
    failed = [r for r in rows if not r.ok]
    covered = {r.case.op for r in rows}
    print(f"\n{len(rows) - len(failed)}/{len(rows)} cases passed over {len(covered)} primitives and models"
          + (f"; FAILED: {', '.join(sorted({r.case.op for r in failed}))}" if failed else ""))
    return 1 if failed else 0


def _truncate(value: str) -> int | None:
    if value.lower() in ("full", "none"):
        return None
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0 or 'full', got {value!r}") from None


def cmd_train(args: argparse.Namespace) -> int:
    """Train the RNNLM (or resume a run) and report where the checkpoint is."""
    import dataclasses
    import time

    from . import train

    options = {f.name: getattr(args, f.name) for f in dataclasses.fields(train.TrainConfig)
               if getattr(args, f.name, None) is not None}
    if args.resume:
        extra = sorted(set(options) - {"epochs"}) + (["out"] if args.out else [])
        if extra:
            raise CLIError(f"--{extra[0].replace('_', '-')} cannot be changed when resuming; "
                           "--resume takes the configuration from the checkpoint (only --epochs may grow)")
        result = train.resume(args.resume, epochs=options.get("epochs"), progress=args.progress)
        out = Path(args.resume)
    else:
        out = Path(args.out) if args.out else Path("runs") / time.strftime("rnnlm-%Y%m%d-%H%M%S")
        print(f"writing checkpoints to {out}")
        result = train.fit(train.TrainConfig(**options), out, progress=args.progress)
    if result.interrupted:
        print(f"interrupted: checkpoint saved in {out}; resume with: tinygrad-rnn train --resume {out}",
              file=sys.stderr)
        return 130
    print(f"done: checkpoint in {out}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    """Print sentences sampled from a trained model, one a line."""
    from .generate import detokenize, generate
    from .train import load_model

    model, vocab, _ = load_model(args.checkpoint)
    try:
        sentences = generate(model, vocab, args.n, args.temperature, args.seed, args.min_length, args.max_length)
    except ValueError as e:
        raise CLIError(str(e)) from None
    for words in sentences:
        print(detokenize(words))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Both RNN versions on the same sentences from the same weights: gradients, losses, speed, code."""
    from . import data
    from .compare import PARAMETERS, compare

    if args.sentences < 1 or args.hidden < 1 or args.vocab_size < 4 or args.repeats < 1:
        raise CLIError("--sentences, --hidden and --repeats must be >= 1, --vocab-size >= 4")
    if args.bptt_truncate is not None and args.bptt_truncate < 0:
        raise CLIError(f"--bptt-truncate must be >= 0 or 'full', got {args.bptt_truncate}")
    sentences = data.load_corpus(args.data)
    vocab = data.Vocabulary.build(sentences, args.vocab_size)
    pairs = data.encode_sentences(sentences[: args.sentences], vocab)
    c = compare(pairs, len(vocab), args.hidden, args.bptt_truncate, args.seed, args.repeats)
    source = args.data or "the built-in corpus"
    truncation = "full" if args.bptt_truncate is None else args.bptt_truncate
    print(f"{c.sentences} sentences ({c.tokens} tokens) of {source}; vocabulary {len(vocab)}, hidden {args.hidden}, "
          f"bptt_truncate {truncation}, float64, same initial weights (seed {args.seed})\n")
    print("| gradient | max abs difference | relative to the largest entry |")
    print("|---|---:|---:|")
    for n in PARAMETERS:
        print(f"| d{n} | {c.abs_diff[n]:.2e} | {c.rel_diff[n]:.2e} |")
    print("\n| | hand-written gates (reference) | tape (RNNLM) |")
    print("|---|---:|---:|")
    print(f"| loss per token | {c.loss_gate:.6f} | {c.loss_tape:.6f} |")
    print(f"| seconds per sentence, loss + gradients (median of {args.repeats}) | {c.seconds_gate:.5f} | "
          f"{c.seconds_tape:.5f} |")
    print(f"| speed-up | 1× | {c.speedup:.0f}× |")
    agree = c.worst_rel <= 1e-8
    print(f"\nverdict: {'same' if agree else 'DIFFERENT'} gradients (worst relative difference {c.worst_rel:.1e}"
          f"{'' if agree else ', above 1e-8'}); the tape is {c.speedup:.0f}× faster")
    return 0 if agree else 1


def cmd_plot(args: argparse.Namespace) -> int:
    from .plot import plot_losses

    print(f"wrote {plot_losses(args.dir, args.output)}")
    return 0


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors that mean bad input, not a bug: reported in one line, exit code 2."""
    from .checkpoint import CheckpointError
    from .data import DataError
    from .plot import PlotError
    from .train import ConfigError

    return (CheckpointError, DataError, PlotError, ConfigError, OSError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinygrad-rnn", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("gradcheck", help="check every primitive's gradient against finite differences")
    p.add_argument("--op", action="append", help="check only this primitive (repeatable)")
    p.add_argument("--seed", type=int, default=0, help="seed for the random inputs (default 0)")
    p.set_defaults(run=cmd_gradcheck)

    p = sub.add_parser("train", help="train the RNN language model (default: on the built-in corpus)")
    p.add_argument("--data", metavar="CSV", help="comments in the tutorial's CSV format (default: built-in corpus)")
    p.add_argument("--vocab-size", type=int, help="largest vocabulary (default 8000)")
    p.add_argument("--hidden", type=int, help="hidden units (default 100)")
    p.add_argument("--epochs", type=int, help="epochs in all (default 10; with --resume, may extend the run)")
    p.add_argument("--lr", type=float, help="learning rate (default 0.005)")
    p.add_argument("--batch-size", type=int, help="sentences per step, padded (default 1: the tutorial's SGD)")
    p.add_argument("--bptt-truncate", type=_truncate, metavar="K|full", help="BPTT truncation (default 4)")
    p.add_argument("--optimizer", choices=["sgd", "adam"], help="default sgd")
    p.add_argument("--clip", type=float, help="clip the global gradient norm to this value")
    p.add_argument("--dtype", choices=["float32", "float64"], help="default float64")
    p.add_argument("--seed", type=int, help="seed for the initial weights (default 0)")
    p.add_argument("--max-sentences", type=int, metavar="N", help="train on the first N sentences")
    p.add_argument("--evaluate-every", type=int, metavar="N", help="evaluate the loss every N epochs (default 1)")
    p.add_argument("--shuffle", action="store_true", default=None, help="shuffle the sentences every epoch")
    p.add_argument("--out", metavar="DIR", help="output directory (default runs/rnnlm-<date>-<time>)")
    p.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar (default: shown on a terminal)")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("generate", help="sample sentences from a trained model")
    p.add_argument("--checkpoint", required=True, metavar="DIR")
    p.add_argument("-n", type=int, default=5, help="number of sentences (default 5)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--min-length", type=int, default=1, help="resample sentences shorter than this (words)")
    p.add_argument("--max-length", type=int, default=50, help="cut sentences longer than this (words)")
    p.set_defaults(run=cmd_generate)

    p = sub.add_parser("compare", help="the tape RNN beside the hand-written gate version: gradients and speed")
    p.add_argument("--data", metavar="CSV", help="comments in the tutorial's CSV format (default: built-in corpus)")
    p.add_argument("--sentences", type=int, default=5, metavar="N", help="compare on the first N sentences (default 5)")
    p.add_argument("--vocab-size", type=int, default=8000, help="largest vocabulary (default 8000)")
    p.add_argument("--hidden", type=int, default=100, help="hidden units (default 100)")
    p.add_argument("--bptt-truncate", type=_truncate, default=4, metavar="K|full", help="default 4")
    p.add_argument("--seed", type=int, default=0, help="seed for the shared initial weights (default 0)")
    p.add_argument("--repeats", type=int, default=3, help="timing runs, interleaved; the median is shown (default 3)")
    p.set_defaults(run=cmd_compare)

    p = sub.add_parser("plot", help="write the loss curve of a run as a PNG (needs matplotlib)")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--output", metavar="PNG", help="default DIR/loss.png")
    p.set_defaults(run=cmd_plot)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    user_errors = (CLIError, *_user_errors())
    try:
        with np.errstate(all="ignore"):  # numeric problems are reported by the checks, not as warnings
            return args.run(args)
    except user_errors as e:
        print(f"tinygrad-rnn {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tinygrad-rnn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
