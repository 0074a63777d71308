"""Lines of model code: the tape's RNNLM against the tutorial's hand-written gate version.

Counts code lines without blanks, comments and docstrings: on the tape's side the ``RNNLM`` class
(its streaming and sampling helpers and input checks included) and the ``recurrence`` it runs;
on the other the whole ``tinygrad_rnn.reference`` module (gates, layer, model, hand-derived BPTT) but
``GateRNN.state_gradients``, the gradient-flow check that ``viz`` compares with (on the tape's side the
lines that report states to ``viz`` are counted).

Run: python benchmarks/model_lines.py
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinygrad_rnn import models, reference  # noqa: E402
from tinygrad_rnn.nn import rnn  # noqa: E402


def code_lines(source: str) -> int:
    """Non-blank lines that are neither comments nor part of a docstring."""
    tree = ast.parse(source)
    doc_lines: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            doc_lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return sum(1 for i, line in enumerate(source.splitlines(), 1)
               if line.strip() and not line.strip().startswith("#") and i not in doc_lines)


def model_code_lines() -> tuple[int, int]:
    """(tape, gates): the tape's RNNLM and its recurrence, the whole hand-written module."""
    tape = code_lines(inspect.getsource(models.RNNLM)) + code_lines(inspect.getsource(rnn.recurrence))
    # GateRNN.state_gradients is viz's check, not the model
    inspection = code_lines(textwrap.dedent(inspect.getsource(reference.GateRNN.state_gradients)))
    return tape, code_lines(inspect.getsource(reference)) - inspection


if __name__ == "__main__":
    tape, gates = model_code_lines()
    print("| | hand-written gates (reference) | tape (RNNLM) |")
    print("|---|---:|---:|")
    print(f"| lines of model code | {gates} | {tape} |")
