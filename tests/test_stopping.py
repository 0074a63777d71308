"""Every polite stop saves: Ctrl-C, SIGTERM and SIGHUP, during training and during evaluation; a
second Ctrl-C during a save waits for the save to be complete."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinygrad_rnn import checkpoint, train
from tinygrad_rnn.stopping import StopRequest

FIXTURE = str(Path(__file__).parent / "fixtures" / "comments.csv")
SMALL = ["--vocab-size", "60", "--hidden", "8", "--no-progress"]
CONFIG = dict(data=FIXTURE, vocab_size=60, hidden=8, lr=0.05, seed=3, epochs=3)


def quiet(_line):
    pass


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_polite_signal_saves_and_prints_a_quoted_resume_command(tmp_path, sig, code):
    out = tmp_path / "a run dir"  # a space: the hint must be shell-quoted
    proc = subprocess.Popen([sys.executable, "-m", "tinygrad_rnn", "train", "--data", FIXTURE, "--epochs", "100000",
                             "--out", str(out), *SMALL], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / "checkpoint.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    last = err.strip().splitlines()[-1]
    assert f"stopped by {signal.Signals(sig).name}" in last
    assert f"tinygrad-rnn train --resume {shlex.quote(str(out))}" in last
    meta = json.loads((out / "checkpoint.json").read_text())
    resumed = subprocess.run([sys.executable, "-m", "tinygrad_rnn", "train", "--resume", str(out), "--epochs",
                              str(meta["epoch"] + 1), "--no-progress"], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr


def test_a_stop_during_evaluation_ends_it_and_the_resumed_run_is_bit_identical(tmp_path, monkeypatch):
    whole = train.fit(train.TrainConfig(**CONFIG), tmp_path / "whole", progress=False, log=quiet)
    real_evaluate, calls = train.evaluate, []

    def evaluate_then_ctrl_c(model, pairs, batch_size=64, stop=None, progress=False):
        calls.append(1)
        if len(calls) == 2:  # Ctrl-C arrives while the second evaluation runs
            stop.request(signal.SIGINT)
        return real_evaluate(model, pairs, 1, stop, progress)

    monkeypatch.setattr(train, "evaluate", evaluate_then_ctrl_c)
    cut = train.fit(train.TrainConfig(**CONFIG), tmp_path / "cut", progress=False, log=quiet)
    monkeypatch.undo()
    assert cut.interrupted and cut.exit_code == 130 and len(cut.history) == 1  # the evaluation was abandoned
    resumed = train.resume(tmp_path / "cut", progress=False, log=quiet)
    assert resumed.history == whole.history
    for name, p in whole.model.named_parameters():
        np.testing.assert_array_equal(p.data, dict(resumed.model.named_parameters())[name].data)


def test_a_second_ctrl_c_during_a_save_waits_for_the_save(tmp_path, monkeypatch):
    trainer = train.Trainer(train.TrainConfig(**CONFIG), tmp_path / "run", progress=False, log=quiet)
    trainer.stop.request(signal.SIGINT)  # the first Ctrl-C
    real_write = checkpoint._write

    def write_then_ctrl_c(path, data):
        if "model" in Path(path).name:
            trainer.stop._handler(signal.SIGINT, None)  # the second, in the middle of the save
        return real_write(path, data)

    monkeypatch.setattr(checkpoint, "_write", write_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        trainer.save()
    monkeypatch.undo()
    loaded = checkpoint.load(tmp_path / "run")  # the save was completed before the abort
    assert not loaded.warnings and loaded.generation == 1


def test_a_stop_request_outside_the_main_thread_is_a_plain_flag():
    import threading

    stop = StopRequest()
    seen = []

    def worker():
        with stop.installed():
            seen.append(signal.getsignal(signal.SIGTERM))

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen and seen[0] is not stop._handler
    stop.request(signal.SIGTERM)
    assert stop.is_set() and stop.exit_code == 143 and stop.name == "SIGTERM"


def test_a_stop_while_the_data_are_read_leaves_nothing_behind(tmp_path, monkeypatch):
    from tinygrad_rnn import corpus

    real_load = corpus.load

    def load_then_sigterm(*args, **kwargs):
        kwargs["stop"].request(signal.SIGTERM)  # arrives while reading
        kwargs["stop"].check()
        return real_load(*args, **kwargs)

    monkeypatch.setattr(corpus, "load", lambda *a, **k: load_then_sigterm(*a, **dict(k, stop=a[7] if len(a) > 7
                                                                                    else k.get("stop"))))
    result = train.fit(train.TrainConfig(**CONFIG), tmp_path / "run", progress=False, log=quiet)
    assert result.interrupted and result.exit_code == 143 and result.model is None
    assert not (tmp_path / "run").exists()


def test_an_ignored_signal_stays_ignored(tmp_path):
    """A run under nohup (SIGHUP ignored) is not stopped by a closed terminal."""
    code = ("import signal, os, sys\nsignal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
            "from tinygrad_rnn.stopping import StopRequest\nstop = StopRequest()\n"
            "with stop.installed():\n    os.kill(os.getpid(), signal.SIGHUP)\n    print(stop.is_set())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr


def test_a_smaller_lr_on_resume_rescues_a_diverging_run(tmp_path):
    out = tmp_path / "run"
    config = dict(data=FIXTURE, vocab_size=60, hidden=8, max_sentences=3)
    good = train.fit(train.TrainConfig(epochs=2, lr=0.05, **config), out, progress=False, log=quiet)
    bad = train.resume(out, epochs=20, lr=3.0, progress=False, log=quiet)  # a running loss under the limit at
    assert bad.exit_code == train.EXIT_DIVERGED  # first, then the evaluation catches it: nothing is saved
    kept = checkpoint.load(out)
    assert kept.meta["epoch"] == 2 and kept.meta["lr"] == 0.05
    np.testing.assert_array_equal(kept.model["U"], good.model.U.data)
    rescued = train.resume(out, epochs=4, lr=0.02, progress=False, log=quiet)
    assert rescued.exit_code == 0 and rescued.history[-1]["epoch"] == 4
