"""The command line: exit codes, tables and one-line errors."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_rnn import REGISTRY, Function, cli, registry, testing

from bad_inputs import BAD_CSVS


def test_gradcheck_command_checks_every_primitive(capsys):
    assert cli.main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    models = ["rnnlm", "rnn", "gru", "lstm"]
    for name in [*REGISTRY, *models]:
        assert f"\n{name} " in out
    assert "FAIL" not in out
    assert f"over {len(REGISTRY) + len(models)} primitives and models" in out


def test_gradcheck_command_fails_with_exit_1_on_a_wrong_gradient(capsys, monkeypatch):
    class Broken(Function):
        name = "broken"

        def forward(self, x):
            return np.sin(x)

        def backward(self, grad):
            return (grad,)

    monkeypatch.setitem(registry._PRIMITIVES, "broken", Broken)
    monkeypatch.setattr(testing, "CASES", [testing.OpCase("broken", "sin", Broken.apply, ((3,),))])
    assert cli.main(["gradcheck", "--op", "broken"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_unknown_primitive_is_a_one_line_error_with_exit_2():
    proc = subprocess.run([sys.executable, "-m", "tinygrad_rnn", "gradcheck", "--op", "nope"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("tinygrad-rnn gradcheck: error: unknown primitive 'nope'")
    assert "Traceback" not in proc.stderr


FIXTURE = str(Path(__file__).parent / "fixtures" / "comments.csv")
SMALL = ["--vocab-size", "60", "--hidden", "8", "--no-progress"]


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tinygrad_rnn", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    for fragment in fragments:
        assert fragment in last, last


def test_train_on_the_builtin_corpus_then_generate(tmp_path):
    out = tmp_path / "run"
    proc = run_cli("train", "--max-sentences", "40", "--vocab-size", "300", "--hidden", "12", "--epochs", "2",
                   "--lr", "0.01", "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    losses = [float(line.split("loss ")[1].split()[0]) for line in proc.stdout.splitlines()
              if line.startswith("epoch ")]
    assert len(losses) == 3 and losses[-1] < losses[0]
    gen = run_cli("generate", "--checkpoint", str(out), "-n", "4", "--seed", "1", "--min-length", "2",
                  "--max-length", "6")
    assert gen.returncode == 0, gen.stderr
    lines = gen.stdout.strip().splitlines()
    assert len(lines) == 4
    assert all("UNKNOWN_TOKEN" not in line and "SENTENCE_" not in line for line in lines)


def test_the_readmes_two_layer_gru_trains_on_the_builtin_corpus_and_generates(tmp_path):
    out = tmp_path / "gru"
    proc = run_cli("train", "--cell", "gru", "--layers", "2", "--optimizer", "rmsprop", "--clip", "5",
                   "--dropout", "0.1", "--max-sentences", "40", "--vocab-size", "300", "--hidden", "12",
                   "--epochs", "2", "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    losses = [float(line.split("loss ")[1].split()[0]) for line in proc.stdout.splitlines()
              if line.startswith("epoch ")]
    assert len(losses) == 3 and losses[-1] < losses[0]
    config = json.loads((out / "checkpoint.json").read_text())["config"]
    assert (config["cell"], config["layers"], config["optimizer"], config["lr"]) == ("gru", 2, "rmsprop", 0.001)
    gen = run_cli("generate", "--checkpoint", str(out), "-n", "3", "--seed", "1", "--max-length", "6")
    assert gen.returncode == 0 and len(gen.stdout.strip().splitlines()) == 3, gen.stderr
    again = run_cli("train", "--resume", str(out), "--cell", "lstm")
    assert_one_line_error(again, "--cell cannot be changed when resuming")


@pytest.mark.parametrize("content, fragment", BAD_CSVS)
def test_train_rejects_bad_csv_in_one_line(tmp_path, content, fragment):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    assert_one_line_error(run_cli("train", "--data", str(path), "--out", str(tmp_path / "o"), *SMALL),
                          str(path), fragment)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, fragment", [
    (["--vocab-size", "3"], "argument --vocab-size: must be >= 4, got 3"),
    (["--hidden", "0"], "argument --hidden: must be >= 1, got 0"),
    (["--data", "missing.csv"], "missing.csv: no such file"),
])
def test_train_rejects_bad_options_in_one_line(tmp_path, args, fragment):
    assert_one_line_error(run_cli("train", "--out", str(tmp_path / "o"), "--no-progress", *args), fragment)


def test_bad_checkpoints_end_in_one_line_and_good_ones_survive(tmp_path):
    out = tmp_path / "run"
    assert run_cli("train", "--data", FIXTURE, "--epochs", "2", "--out", str(out), *SMALL).returncode == 0
    good = {p.name: p.read_bytes() for p in out.iterdir()}
    files = json.loads(good["checkpoint.json"])["files"]
    previous = json.loads(good["checkpoint.previous.json"])["files"]
    assert_one_line_error(run_cli("generate", "--checkpoint", str(tmp_path / "nope")), "no such directory")
    assert_one_line_error(run_cli("train", "--data", FIXTURE, "--out", str(out), *SMALL), "already holds")
    (out / files["model"]).write_bytes(good[files["model"]][:100])
    fallback = run_cli("generate", "--checkpoint", str(out), "-n", "1")
    assert fallback.returncode == 0 and "using the previous generation" in fallback.stderr
    (out / previous["model"]).write_bytes(good[previous["model"]][:100])
    assert_one_line_error(run_cli("generate", "--checkpoint", str(out)), files["model"], "truncated or corrupted")
    assert_one_line_error(run_cli("train", "--resume", str(out), "--epochs", "4"), "truncated or corrupted")
    (out / files["model"]).write_bytes(good[files["model"]])
    (out / previous["model"]).write_bytes(good[previous["model"]])
    assert_one_line_error(run_cli("train", "--resume", str(out), "--hidden", "9"), "cannot be changed when resuming")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == good


def test_plot_writes_a_png_or_says_how_to_install_matplotlib(tmp_path):
    out = tmp_path / "run"
    assert run_cli("train", "--data", FIXTURE, "--epochs", "2", "--out", str(out), *SMALL).returncode == 0
    proc = run_cli("plot", str(out))
    if importlib.util.find_spec("matplotlib") is None:
        assert_one_line_error(proc, "pip install 'tinygrad_rnn[plot]'")
    else:
        assert proc.returncode == 0, proc.stderr
        assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_prints_the_table_and_agrees(tmp_path):
    proc = run_cli("compare", "--data", FIXTURE, "--sentences", "3", "--vocab-size", "80", "--hidden", "10",
                   "--repeats", "2")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for fragment in ("| dU |", "| dW |", "| dV |", "loss per token", "seconds per sentence", "speed-up",
                     "verdict: same gradients"):
        assert fragment in out
    assert out.strip().splitlines()[-1].startswith("verdict:")


def test_compare_exits_1_when_gradients_disagree(capsys, monkeypatch):
    from tinygrad_rnn.reference import GateRNN

    real = GateRNN.bptt
    monkeypatch.setattr(GateRNN, "bptt", lambda self, x, y: tuple(g * 1.001 for g in real(self, x, y)))
    assert cli.main(["compare", "--data", FIXTURE, "--sentences", "2", "--vocab-size", "50", "--hidden", "6",
                     "--repeats", "1"]) == 1
    assert "verdict: DIFFERENT gradients" in capsys.readouterr().out


@pytest.mark.parametrize("args, fragment", [
    (["train", "--seed", "-1"], "argument --seed: must be >= 0, got -1"),
    (["compare", "--seed", "-1"], "argument --seed: must be >= 0, got -1"),
    (["gradcheck", "--seed", "-1"], "argument --seed: must be >= 0, got -1"),
    (["generate", "--checkpoint", "x", "--seed", "-1"], "argument --seed: must be >= 0, got -1"),
    (["generate", "--checkpoint", "x", "-n", "-3"], "argument -n: must be >= 1, got -3"),
    (["generate", "--checkpoint", "x", "--temperature", "nan"], "argument --temperature: must be a positive finite"),
    (["train", "--hidden", "1e20"], "argument --hidden: expected an integer >= 1, got '1e20'"),
    (["train", "--hidden", "100000", "--out", "{tmp}/o"], "--hidden 100000 with a vocabulary of 4 words needs about"),
    (["train", "--lr", "inf"], "argument --lr: must be a positive finite number"),
    (["train", "--bptt-truncate", "-1"], "argument --bptt-truncate: expected an integer >= 0 or 'full'"),
    (["train", "--vocab-sentences", "some"], "argument --vocab-sentences: expected an integer >= 1"),
    (["train", "--cell", "elman"], "argument --cell: invalid choice: 'elman'"),
    (["train", "--cell", "lstm", "--layers", "64", "--hidden", "30000", "--out", "{tmp}/o"],
     "--cell lstm --layers 64 --hidden 30000 with a vocabulary of 4 words needs about"),
    (["train", "--layers", "0"], "argument --layers: must be >= 1, got 0"),
    (["train", "--dropout", "1"], "argument --dropout: must be in [0, 1), got 1"),
    (["train", "--dropout", "0.3", "--out", "{tmp}/o"], "--dropout 0.3 needs --layers 2 or more"),
    (["train", "--optimizer", "adagrad"], "argument --optimizer: invalid choice: 'adagrad'"),
    (["train", "--data", FIXTURE, "--column", "text", "--out", "{tmp}/o"], "no column 'text' in the header"),
])
def test_bad_arguments_end_in_one_line_with_exit_2(tmp_path, args, fragment):
    proc = run_cli(*[a.format(tmp=tmp_path) for a in args])
    assert_one_line_error(proc, fragment)
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("content, fragment", [
    (b"epoch,sentences_seen,loss,lr\n0,0,abc,0.1\n", "line 2: expected an integer epoch and a number"),
    (b"epoch,sentences_seen,loss,lr\n0,0,nan,0.1\n", "line 2: the loss is nan"),
    (b"step,loss\n0,1.0\n", "the header must be epoch,sentences_seen,loss,lr"),
    (b"\xff\xfe\x00e", "not UTF-8 text"),
    (b"epoch,sentences_seen,loss,lr\n", "no evaluated epochs yet"),
    (b"epoch,sentences_seen,loss,lr,grad_norm\n0,0,8.0,0.1,\n1,10,,0.1,-2\n", "line 3: grad_norm is '-2', not a"),
    (b"epoch,sentences_seen,loss,lr,grad_norm\n0,0,8.0,0.1\n", "line 2: 4 cells, the header has 5"),
])
def test_plot_refuses_a_bad_losses_file_in_one_line(tmp_path, content, fragment):
    (tmp_path / "losses.csv").write_bytes(content)
    assert_one_line_error(run_cli("plot", str(tmp_path)), str(tmp_path / "losses.csv"), fragment)


GRAD_LOSSES = (b"epoch,sentences_seen,loss,lr,grad_norm,grad_norm_max,grad_norm:U,grad_norm:V,note\n"
               b"0,0,8.0,0.1,,,,,x\n"
               b"1,10,,0.1,3.0,5.0,1.0,2.5,\n"  # trained, not evaluated (--evaluate-every 2)
               b"2,20,6.5,0.05,2.0,4.0,0.0,1.5,y\n")


def test_the_plot_reader_takes_epochs_without_a_loss_and_rows_without_gradient_norms(tmp_path):
    from tinygrad_rnn.plot import read_losses

    (tmp_path / "losses.csv").write_bytes(GRAD_LOSSES)
    log = read_losses(tmp_path / "losses.csv", tmp_path)
    assert (log.epochs, log.losses) == ([0, 2], [8.0, 6.5])
    assert log.grad_norms == {"grad_norm": ([1, 2], [3.0, 2.0]), "grad_norm_max": ([1, 2], [5.0, 4.0]),
                              "grad_norm:U": ([1, 2], [1.0, 0.0]), "grad_norm:V": ([1, 2], [2.5, 1.5])}
    (tmp_path / "losses.csv").write_bytes(b"epoch,sentences_seen,loss,lr\n0,0,8.0,0.1\n")
    log = read_losses(tmp_path / "losses.csv", tmp_path)
    assert (log.epochs, log.losses, log.grad_norms) == ([0], [8.0], {})


def test_plot_draws_the_gradient_norms_under_the_loss_and_an_older_runs_loss_alone(tmp_path):
    pytest.importorskip("matplotlib")
    import struct

    from tinygrad_rnn.plot import plot_losses

    many = ",".join(f"grad_norm:rnn.weight_hh_l{i}" for i in range(12))  # past 10, one legend entry for all
    deep = f"epoch,sentences_seen,loss,lr,grad_norm,{many}\n0,0,8.0,0.1,{',' * 12}\n1,10,7.0,0.1,3{',1' * 12}\n"
    sizes = {}
    for name, content in [("old", b"epoch,sentences_seen,loss,lr\n0,0,8.0,0.1\n1,10,7.0,0.1\n"), ("new", GRAD_LOSSES),
                          ("deep", deep.encode())]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "losses.csv").write_bytes(content)
        png = plot_losses(tmp_path / name).read_bytes()
        sizes[name] = struct.unpack(">II", png[16:24])  # the PNG's width and height
    assert sizes == {"old": (600, 400), "new": (700, 700), "deep": (700, 700)}  # one panel; two


def test_plot_into_a_missing_directory_names_it(tmp_path):
    pytest.importorskip("matplotlib")
    (tmp_path / "losses.csv").write_bytes(b"epoch,sentences_seen,loss,lr\n0,0,8.0,0.1\n1,10,7.0,0.1\n")
    assert_one_line_error(run_cli("plot", str(tmp_path), "--output", str(tmp_path / "missing" / "x.png")),
                          f"{tmp_path / 'missing'}/: no such directory")


def test_a_tiny_temperature_picks_the_likeliest_words(tmp_path):
    out = tmp_path / "run"
    assert run_cli("train", "--data", FIXTURE, "--epochs", "1", "--out", str(out), *SMALL).returncode == 0
    proc = run_cli("generate", "--checkpoint", str(out), "-n", "2", "--temperature", "1e-320", "--seed", "0")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0] == lines[1]  # greedy: the same sentence every time


def test_plot_never_replaces_something_that_is_not_a_regular_file(tmp_path):
    pytest.importorskip("matplotlib")
    import os

    (tmp_path / "losses.csv").write_bytes(b"epoch,sentences_seen,loss,lr\n0,0,8.0,0.1\n1,10,7.0,0.1\n")
    fifo = tmp_path / "out.png"
    os.mkfifo(fifo)
    assert_one_line_error(run_cli("plot", str(tmp_path), "--output", str(fifo)), "not a regular file")
    assert fifo.is_fifo()
    target = tmp_path / "real.png"
    link = tmp_path / "link.png"
    link.symlink_to(target)
    assert run_cli("plot", str(tmp_path), "--output", str(link)).returncode == 0
    assert link.is_symlink() and target.read_bytes()[:4] == b"\x89PNG"  # written through the link


def test_plot_of_losses_it_cannot_draw_is_one_line(tmp_path):
    pytest.importorskip("matplotlib")
    (tmp_path / "losses.csv").write_bytes(b"epoch,sentences_seen,loss,lr\n0,0,1e308,0.1\n1,10,-1e308,0.1\n")
    proc = run_cli("plot", str(tmp_path))
    assert proc.returncode in (0, 2) and "Traceback" not in proc.stderr


def test_compare_takes_the_text_column_by_name(tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("id,text\n" + "\n".join(f'{i},"Comment number {i} has several plain words."' for i in range(5)))
    proc = run_cli("compare", "--data", str(path), "--column", "text", "--sentences", "2", "--vocab-size", "30",
                   "--hidden", "4", "--repeats", "1")
    assert proc.returncode == 0, proc.stderr
    assert_one_line_error(run_cli("compare", "--data", str(path), "--sentences", "2"), "no column 'body'")


def test_threads_are_bounded():
    assert_one_line_error(run_cli("train", "--threads", "100000000000000000000"), "argument --threads: must be at most")
