"""The ``tinygrad-rnn`` command: argparse subcommands that call library code and set exit codes."""

from __future__ import annotations

import argparse
import sys

import numpy as np


class CLIError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


def cmd_gradcheck(args: argparse.Namespace) -> int:
    """Check every primitive's gradient (first and second order) against finite differences."""
    from .function import REGISTRY
    from .op_cases import CASES, check_case

    names = args.op or sorted(REGISTRY)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise CLIError(f"unknown primitive {unknown[0]!r}; known: {', '.join(sorted(REGISTRY))}")
    rows = [check_case(c, args.seed) for c in CASES if c.op in names]
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
    print(f"\n{len(rows) - len(failed)}/{len(rows)} cases passed over {len(covered)} primitives"
          + (f"; FAILED: {', '.join(sorted({r.case.op for r in failed}))}" if failed else ""))
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinygrad-rnn", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("gradcheck", help="check every primitive's gradient against finite differences")
    p.add_argument("--op", action="append", help="check only this primitive (repeatable)")
    p.add_argument("--seed", type=int, default=0, help="seed for the random inputs (default 0)")
    p.set_defaults(run=cmd_gradcheck)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    np.seterr(all="ignore")  # numeric problems are reported by the checks, not as warnings
    try:
        return args.run(args)
    except CLIError as e:
        print(f"tinygrad-rnn {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tinygrad-rnn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
