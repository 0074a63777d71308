"""The ``tinygrad-rnn`` command: argparse subcommands that call library code and set exit codes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .train_meta import CELLS, OPTIMIZERS


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
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0 or 'full', got {value!r}") from None
    if k < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0 or 'full', got {k}")
    return k


def cmd_train(args: argparse.Namespace) -> int:
    """Train a language model (or resume a run) and report where the checkpoint is."""
    import dataclasses
    import shlex
    import time

    from . import rundir, train

    options = {f.name: getattr(args, f.name) for f in dataclasses.fields(train.TrainConfig)
               if getattr(args, f.name, None) is not None}
    threads = None if args.threads == 0 else args.threads
    log = lambda line: _say(line)  # noqa: E731 - progress lines as they come
    if args.resume is not None:
        if args.resume.strip() == "":
            raise CLIError("--resume: an empty path; name the run's directory")
        extra = sorted(set(options) - {"epochs", "lr"}) + (["out"] if args.out is not None else [])
        if extra:
            raise CLIError(f"--{extra[0].replace('_', '-')} cannot be changed when resuming; "
                           "--resume takes the configuration from the checkpoint (only --epochs and --lr may change)")
        out = Path(args.resume)
        result = train.resume(out, epochs=options.get("epochs"), progress=args.progress, log=log, threads=threads,
                              lr=options.get("lr"))
    else:
        if args.out is not None and args.out.strip() == "":
            raise CLIError("--out: an empty path; name a directory")
        out = Path(args.out) if args.out is not None else \
            rundir.new_directory(Path("runs") / time.strftime("rnnlm-%Y%m%d-%H%M%S"))
        _say(f"writing checkpoints to {out}")
        result = train.fit(train.TrainConfig(**options), out, progress=args.progress, log=log, threads=threads)
    resume_hint = f"tinygrad-rnn train --resume {shlex.quote(str(out))}"
    saved = train.checkpoint.exists(out)
    if result.diverged:
        last = "the last good checkpoint is kept" if saved else "nothing was saved"
        _say(f"tinygrad-rnn train: error: training diverged: {result.diverged}; {last} in {out}; "
             f"try a smaller --lr (also with --resume) or --clip", error=True)
        return result.exit_code
    if result.interrupted:
        how = f"stopped by {_signal_name(result.exit_code)}"
        _say(f"{how}: checkpoint saved in {out}; resume with: {resume_hint}" if saved else
             f"{how} before the first checkpoint: nothing was saved", error=True)
        return result.exit_code
    _say(f"done: checkpoint in {out}")
    return 0


def _say(line: str, error: bool = False) -> None:
    """Print a line; a terminal that has gone away (a closed SSH session) does not change the outcome."""
    try:
        print(line, file=sys.stderr if error else sys.stdout, flush=True)
    except OSError:
        pass


def _signal_name(exit_code: int) -> str:
    import signal

    try:
        return signal.Signals(exit_code - 128).name
    except ValueError:
        return f"signal {exit_code - 128}"


def cmd_generate(args: argparse.Namespace) -> int:
    """Print sentences sampled from a trained model, one a line."""
    from .generate import detokenize, generate
    from .train import load_model

    model, vocab, _ = load_model(args.checkpoint, log=lambda line: print(line, file=sys.stderr))
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

    sentences = data.load_corpus(args.data, args.column)
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


_OWN = object()  # --bptt-truncate not given: the model's own truncation


def cmd_inspect(args: argparse.Namespace) -> int:
    """The gradient's flow back through time in a trained model, with the gate version's as a check."""
    from .train import load_model
    from .viz.flow import by_distance, gate_flow, gradient_flow, largest_difference

    out = Path(args.output) if args.output else Path(args.checkpoint) / "gradient_flow.png"
    if not args.no_plot and out.suffix.lower() != ".png":
        raise CLIError(f"--output {out}: the plot is a PNG; name it *.png")
    model, vocab, meta = load_model(args.checkpoint, log=lambda line: print(line, file=sys.stderr))
    if args.bptt_truncate is not _OWN:
        model.bptt_truncate = args.bptt_truncate
    for p in model.parameters():  # in float64, so that the gate version's check can hold to 1e-10
        p.data = p.data.astype(np.float64)
    x, y, where = _inspect_sentence(args, vocab, meta)
    flow = gradient_flow(model, x, y)
    gate = None if model.stacked else gate_flow(model, x, y)
    truncation = "full BPTT" if model.bptt_truncate is None else f"bptt_truncate {model.bptt_truncate}"
    kind = "the tutorial's RNN" if not model.stacked else f"{model.cell.upper()} × {model.num_layers} layers"
    print(f"{kind}, hidden {model.hidden_dim}, {truncation}, float64; {where}, {len(x)} steps\n")
    gate_column = (" gate version |", "---:|") if gate is not None else ("", "")
    print("| t − k | median ‖∂E_t/∂s_k‖ over t | relative to t − k = 0 |" + gate_column[0])
    print("|---:|---:|---:|" + gate_column[1])
    tape_parts = by_distance(flow)
    gate_parts = by_distance(gate) if gate is not None else None
    base = float(np.median(tape_parts[0]))
    for d, part in enumerate(tape_parts):
        if not np.any(part > 0):
            continue
        median = float(np.median(part))
        row = f"| {d} | {median:.3e} | {median / base:.1e} |"
        print(row + (f" {float(np.median(gate_parts[d])):.3e} |" if gate is not None else ""))
    if not args.no_plot:
        from .viz.flow_plot import plot_flow

        title = f"{kind}, {truncation}: gradient of step t's loss at the state of step k"
        print(f"\nwrote {plot_flow(flow, out, gate, title)}")
    if gate is None:
        print(f"\nno hand-written gate version of the {kind} to check against")
        return 0
    diff = largest_difference(flow, gate)
    agree = diff <= 1e-10
    print(f"\ntape and hand-written gates: {'the same' if agree else 'DIFFERENT'} "
          f"(largest relative difference {diff:.1e}{'' if agree else ', above 1e-10'})")
    return 0 if agree else 1


def _inspect_sentence(args: argparse.Namespace, vocab, meta: dict) -> tuple[np.ndarray, np.ndarray, str]:
    """The sentence to inspect: --text, or one of the run's training sentences (default the longest of the
    first 100), cut to --steps."""
    from . import checkpoint, corpus, data
    from .train import TOKENS_FILE

    if args.text is not None:
        if args.sentence is not None:
            raise CLIError("--text and --sentence both name the sentence; give one")
        sentences = data.text_to_sentences([args.text])
        if not sentences:
            raise CLIError("--text: no sentence of more than 3 tokens in it")
        x, y = data.encode_sentences(sentences[:1], vocab)[0]
        where = "the sentence of --text"
    else:
        recorded = meta.get("data") if isinstance(meta.get("data"), dict) else {}
        path = Path(args.checkpoint) / TOKENS_FILE
        try:
            arrays = checkpoint.read_npz(path, recorded.get("tokens_sha256"))
            pairs = corpus.TokenPairs(arrays["ids"], arrays["offsets"])
        except (checkpoint.CheckpointError, KeyError) as e:
            raise CLIError(f"{path}: the run's sentences cannot be read ({e}); pass --text") from None
        if len(pairs) == 0:
            raise CLIError(f"{path}: the run has no sentences; pass --text")
        index = args.sentence
        if index is None:
            index = int(np.argmax(pairs.lengths()[:100]))
        elif index >= len(pairs):
            raise CLIError(f"--sentence {index}: the run has {len(pairs)} sentences (0 to {len(pairs) - 1})")
        x, y = pairs[index]
        where = f"training sentence {index}"
    return np.asarray(x[: args.steps]), np.asarray(y[: args.steps]), where


def cmd_graph(args: argparse.Namespace) -> int:
    """Draw the graph the tape records for one sentence's loss (DOT text, or a picture through Graphviz)."""
    from .models import RNNLM
    from .train import load_model
    from .viz.graph import PICTURES, TEXTS, render

    if Path(args.output).suffix.lower() not in PICTURES + TEXTS or Path(args.output).is_dir():
        raise CLIError(f"--output {args.output}: name a file ending in {', '.join(PICTURES + TEXTS)}")
    new_model = {"vocab_size": 8000, "hidden": 100, "cell": "rnn", "layers": 1}
    if args.checkpoint is not None:
        given = [name for name in new_model if getattr(args, name) is not None]
        if given:
            raise CLIError(f"--{given[0].replace('_', '-')} describes a new model; the checkpoint's model has its own")
        model, _, _ = load_model(args.checkpoint, log=lambda line: print(line, file=sys.stderr))
        if args.bptt_truncate is not _OWN:
            model.bptt_truncate = args.bptt_truncate
    else:
        o = {name: default if getattr(args, name) is None else getattr(args, name)
             for name, default in new_model.items()}
        truncate = None if args.bptt_truncate is _OWN else args.bptt_truncate
        model = RNNLM(o["vocab_size"], o["hidden"], truncate, cell=o["cell"], num_layers=o["layers"], seed=0)
    ids = np.arange(args.steps + 1) % model.word_dim
    loss = model.loss(ids[:-1], ids[1:], reduction="sum")
    collapse = {"auto": "auto", "all": True, "none": False}[args.collapse]
    try:
        print(f"wrote {render(loss, args.output, params=model, collapse=collapse)}")
    except (ValueError, RuntimeError) as e:  # too many nodes to draw; dot failed or took too long
        raise CLIError(str(e).replace("collapse=True", "--collapse all")) from None
    return 0


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors that mean bad input, not a bug: reported in one line, exit code 2."""
    from .checkpoint import CheckpointError
    from .data import DataError
    from .plot import PlotError
    from .train import ConfigError
    from .viz.graph import GraphvizMissing

    return (CheckpointError, DataError, PlotError, ConfigError, GraphvizMissing, OSError, MemoryError)


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line and exit code 2 (not the usage text)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _int_at_least(low: int, high: int | None = None):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high}, got {value}")
        return value
    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and np.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _vocab_sentences(text: str) -> int | str:
    return "all" if text.lower() == "all" else _int_at_least(1)(text)


def build_parser() -> argparse.ArgumentParser:
    seed, count, positive = _int_at_least(0), _int_at_least(0), _int_at_least(1)
    parser = _Parser(prog="tinygrad-rnn", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("gradcheck", help="check every primitive's gradient against finite differences")
    p.add_argument("--op", action="append", help="check only this primitive (repeatable)")
    p.add_argument("--seed", type=seed, default=0, help="seed for the random inputs (default 0)")
    p.set_defaults(run=cmd_gradcheck)

    p = sub.add_parser("train", help="train the RNN language model (default: on the built-in corpus)")
    p.add_argument("--data", metavar="CSV", help="comments in the tutorial's CSV format (default: built-in corpus)")
    p.add_argument("--column", metavar="NAME", help="the CSV's text column (default body)")
    p.add_argument("--vocab-size", type=_int_at_least(4), help="largest vocabulary (default 8000)")
    p.add_argument("--vocab-sentences", type=_vocab_sentences, metavar="N|all",
                   help="count the vocabulary over the first N sentences or all (default: the training ones)")
    p.add_argument("--hidden", type=positive, help="hidden units (default 100)")
    p.add_argument("--epochs", type=count, help="epochs in all (default 10; with --resume, may extend the run)")
    p.add_argument("--lr", type=_positive_float,
                   help="learning rate (default 0.005 for sgd, 0.001 for the others; with --resume, replaces it)")
    p.add_argument("--batch-size", type=positive, help="sentences per step, padded (default 1: the tutorial's SGD)")
    p.add_argument("--bptt-truncate", type=_truncate, metavar="K|full", help="BPTT truncation (default 4)")
    p.add_argument("--optimizer", choices=OPTIMIZERS,
                   help="default sgd (the tutorial's); momentum is SGD with 0.9, rmsprop decays at 0.9")
    p.add_argument("--clip", type=_positive_float, help="clip the global gradient norm to this value")
    p.add_argument("--cell", choices=CELLS,
                   help="recurrent cell (default rnn; with one layer, the tutorial's model)")
    p.add_argument("--layers", type=_int_at_least(1, 64), help="recurrent layers (default 1)")
    p.add_argument("--dropout", type=_probability, help="dropout between recurrent layers (default 0)")
    p.add_argument("--dtype", choices=["float32", "float64"], help="default float64")
    p.add_argument("--seed", type=seed, help="seed for the initial weights (default 0)")
    p.add_argument("--max-sentences", type=positive, metavar="N", help="train on the first N sentences, read no more")
    p.add_argument("--evaluate-every", type=positive, metavar="N", help="evaluate the loss every N epochs (default 1)")
    p.add_argument("--shuffle", action="store_true", default=None, help="shuffle the sentences every epoch")
    p.add_argument("--out", metavar="DIR", help="output directory (default runs/rnnlm-<date>-<time>)")
    p.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR")
    p.add_argument("--threads", type=_int_at_least(0, 1024), default=1, metavar="N",
                   help="BLAS threads (default 1: the matrices are small, and a busy machine makes more slower; "
                        "0 leaves the BLAS library's default)")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar (default: shown on a terminal)")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("generate", help="sample sentences from a trained model")
    p.add_argument("--checkpoint", required=True, metavar="DIR")
    p.add_argument("-n", type=positive, default=5, help="number of sentences (default 5)")
    p.add_argument("--temperature", type=_positive_float, default=1.0)
    p.add_argument("--seed", type=seed, default=None)
    p.add_argument("--min-length", type=positive, default=1, help="resample sentences shorter than this (words)")
    p.add_argument("--max-length", type=positive, default=50, help="cut sentences longer than this (words)")
    p.set_defaults(run=cmd_generate)

    p = sub.add_parser("compare", help="the tape RNN beside the hand-written gate version: gradients and speed")
    p.add_argument("--data", metavar="CSV", help="comments in the tutorial's CSV format (default: built-in corpus)")
    p.add_argument("--column", default="body", metavar="NAME", help="the CSV's text column (default body)")
    p.add_argument("--sentences", type=positive, default=5, metavar="N",
                   help="compare on the first N sentences (default 5)")
    p.add_argument("--vocab-size", type=_int_at_least(4), default=8000, help="largest vocabulary (default 8000)")
    p.add_argument("--hidden", type=positive, default=100, help="hidden units (default 100)")
    p.add_argument("--bptt-truncate", type=_truncate, default=4, metavar="K|full", help="default 4")
    p.add_argument("--seed", type=seed, default=0, help="seed for the shared initial weights (default 0)")
    p.add_argument("--repeats", type=positive, default=3,
                   help="timing runs, interleaved; the median is shown (default 3)")
    p.set_defaults(run=cmd_compare)

    p = sub.add_parser("plot", help="write the loss curve and gradient norms of a run as a PNG (needs matplotlib)")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--output", metavar="PNG", help="default DIR/loss.png")
    p.set_defaults(run=cmd_plot)

    p = sub.add_parser("inspect", help="plot how far back through time the gradient reaches in a trained model")
    p.add_argument("--checkpoint", required=True, metavar="DIR")
    p.add_argument("--text", help="a sentence to inspect (default: one of the run's training sentences)")
    p.add_argument("--sentence", type=count, metavar="N",
                   help="the run's training sentence N (default: the longest of the first 100)")
    p.add_argument("--steps", type=positive, default=40, metavar="N", help="cut the sentence to N steps (default 40)")
    p.add_argument("--bptt-truncate", type=_truncate, default=_OWN, metavar="K|full",
                   help="look with this truncation instead of the model's own")
    p.add_argument("--output", metavar="PNG", help="default DIR/gradient_flow.png")
    p.add_argument("--no-plot", action="store_true", help="print the table only (no matplotlib needed)")
    p.set_defaults(run=cmd_inspect)

    p = sub.add_parser("graph", help="draw the tape's graph of one sentence's loss (DOT, or SVG/PNG/PDF via Graphviz)")
    p.add_argument("--output", "-o", required=True, metavar="FILE",
                   help="graph.dot (text, no Graphviz needed), graph.svg, graph.png or graph.pdf")
    p.add_argument("--checkpoint", metavar="DIR", help="a trained model (default: a new model of the options below)")
    p.add_argument("--steps", type=_int_at_least(1, 1000), default=5, metavar="N",
                   help="words in the sentence (default 5, at most 1000)")
    p.add_argument("--bptt-truncate", type=_truncate, default=_OWN, metavar="K|full",
                   help="default: the checkpoint's, or full BPTT for a new model")
    p.add_argument("--vocab-size", type=_int_at_least(4), help="a new model's vocabulary (default 8000)")
    p.add_argument("--hidden", type=positive, help="a new model's hidden units (default 100)")
    p.add_argument("--cell", choices=CELLS, help="a new model's cell (default rnn)")
    p.add_argument("--layers", type=_int_at_least(1, 64), help="a new model's layers (default 1)")
    p.add_argument("--collapse", choices=["auto", "all", "none"], default="auto",
                   help="draw steps as one node each: auto (past 8 steps), all, none")
    p.set_defaults(run=cmd_graph)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    user_errors = (CLIError, *_user_errors())
    try:
        with np.errstate(all="ignore"):  # numeric problems are reported by the checks, not as warnings
            return args.run(args)
    except user_errors as e:
        problem = f"{e.filename}: {e.strerror}" if isinstance(e, OSError) and e.filename and e.strerror else e
        print(f"tinygrad-rnn {args.command}: error: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tinygrad-rnn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
