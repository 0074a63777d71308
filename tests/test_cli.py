"""The command line: exit codes, tables and one-line errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from tinygrad_rnn import REGISTRY, Function, cli, op_cases


def test_gradcheck_command_checks_every_primitive(capsys):
    assert cli.main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    for name in REGISTRY:
        assert f"\n{name} " in out
    assert "FAIL" not in out
    assert f"over {len(REGISTRY)} primitives" in out


def test_gradcheck_command_fails_with_exit_1_on_a_wrong_gradient(capsys, monkeypatch):
    class Broken(Function):
        name = "broken"

        def forward(self, x):
            return np.sin(x)

        def backward(self, grad):
            return (grad,)

    monkeypatch.setitem(REGISTRY, "broken", Broken)
    monkeypatch.setattr(op_cases, "CASES", [op_cases.OpCase("broken", "sin", Broken.apply, ((3,),))])
    assert cli.main(["gradcheck", "--op", "broken"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_unknown_primitive_is_a_one_line_error_with_exit_2():
    proc = subprocess.run([sys.executable, "-m", "tinygrad_rnn", "gradcheck", "--op", "nope"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("tinygrad-rnn gradcheck: error: unknown primitive 'nope'")
    assert "Traceback" not in proc.stderr
