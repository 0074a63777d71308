"""Checkpoints always load: a fault at every write, rename and removal of a save leaves a directory that
``generate`` reads and ``--resume`` continues, to the same weights as a run that never failed."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_rnn import checkpoint, train
from tinygrad_rnn.checkpoint import CheckpointError

FIXTURE = str(Path(__file__).parent / "fixtures" / "comments.csv")
CONFIG = dict(data=FIXTURE, vocab_size=60, hidden=8, lr=0.05, seed=3)
SEAMS = ("_write", "_rename", "_remove")


def quiet(_line):
    pass


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A run stopped after 1 epoch (the directory faults are injected into) and the same run to 2 epochs."""
    base = tmp_path_factory.mktemp("runs")
    train.fit(train.TrainConfig(epochs=1, **CONFIG), base / "one", progress=False, log=quiet)
    two = train.fit(train.TrainConfig(epochs=2, **CONFIG), base / "two", progress=False, log=quiet)
    return base / "one", {n: p.data.copy() for n, p in two.model.named_parameters()}


def ops_of_a_resume(directory: Path, monkeypatch) -> int:
    """How many file operations a resume to 2 epochs performs (its saves and the token file)."""
    count = [0]
    for name in SEAMS:
        real = getattr(checkpoint, name)
        monkeypatch.setattr(checkpoint, name, lambda *a, _real=real: (count.__setitem__(0, count[0] + 1), _real(*a))[1])
    train.resume(directory, epochs=2, progress=False, log=quiet)
    monkeypatch.undo()
    return count[0]


def assert_recovers(directory: Path, final: dict) -> None:
    """``generate`` loads it, ``--resume`` finishes it, and the weights are those of an unbroken run."""
    model, vocab, meta = train.load_model(directory)
    assert model.U.shape[0] == 8
    result = train.resume(directory, epochs=2, progress=False, log=quiet)
    for name, p in result.model.named_parameters():
        np.testing.assert_array_equal(p.data, final[name], err_msg=name)
    assert not list(directory.glob(".*.tmp")), "a temporary file was left behind"


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EFBIG])
def test_a_full_disk_or_a_file_size_limit_at_any_operation_loses_nothing(runs, tmp_path, monkeypatch, error):
    good, final = runs
    total = ops_of_a_resume(shutil.copytree(good, tmp_path / "count"), monkeypatch)
    assert total >= 8
    for k in range(1, total + 1):
        directory = shutil.copytree(good, tmp_path / f"at{k}")
        calls = [0]
        for name in SEAMS:
            real = getattr(checkpoint, name)

            def failing(*args, _real=real, _calls=calls, _k=k):
                _calls[0] += 1
                if _calls[0] == _k:
                    raise OSError(error, os.strerror(error))
                return _real(*args)
            monkeypatch.setattr(checkpoint, name, failing)
        try:
            train.resume(directory, epochs=2, progress=False, log=quiet)
        except OSError as e:
            assert e.errno == error and e.filename and str(directory) in e.filename  # names the user's file
        monkeypatch.undo()
        assert_recovers(directory, final)


CRASH = """
import os, sys
from tinygrad_rnn import checkpoint, train
k, calls = int(sys.argv[2]), [0]
def crashing(real, name):
    def op(*args):
        calls[0] += 1
        if calls[0] == k:
            if name == "_write":  # die halfway through writing the file
                with open(args[0], "wb") as f:
                    f.write(args[1][: len(args[1]) // 2])
            os._exit(9)
        return real(*args)
    return op
for name in ("_write", "_rename", "_remove"):
    setattr(checkpoint, name, crashing(getattr(checkpoint, name), name))
train.resume(sys.argv[1], epochs=2, progress=False, log=lambda line: None)
"""


def test_a_crash_at_any_operation_of_a_save_loses_nothing(runs, tmp_path, monkeypatch):
    good, final = runs
    total = ops_of_a_resume(shutil.copytree(good, tmp_path / "count"), monkeypatch)
    for k in range(1, total + 1):
        directory = shutil.copytree(good, tmp_path / f"at{k}")
        proc = subprocess.run([sys.executable, "-c", CRASH, str(directory), str(k)], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 9, proc.stderr
        assert_recovers(directory, final)


def test_generations_are_published_whole_and_old_ones_removed(runs, tmp_path):
    good, _ = runs
    directory = shutil.copytree(good, tmp_path / "run")
    before = json.loads((directory / "checkpoint.json").read_text())
    train.resume(directory, epochs=2, progress=False, log=quiet)
    after = json.loads((directory / "checkpoint.json").read_text())
    previous = json.loads((directory / "checkpoint.previous.json").read_text())
    assert after["generation"] > before["generation"] and previous["generation"] == after["generation"] - 1
    arrays = {p.name for p in directory.glob("*.npz") if p.name != "tokens.npz"}
    assert arrays == set(after["files"].values()) | set(previous["files"].values())


def test_stale_temporary_files_are_cleaned_up(runs, tmp_path):
    good, _ = runs
    directory = shutil.copytree(good, tmp_path / "run")
    (directory / ".model.9.npz.abc123.tmp").write_bytes(b"half a file")
    train.resume(directory, epochs=2, progress=False, log=quiet)
    assert not list(directory.glob(".*.tmp"))


def test_files_get_the_users_umask(tmp_path):
    old = os.umask(0o027)
    try:
        checkpoint.atomic_write(tmp_path / "f.bin", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "f.bin").stat().st_mode & 0o777 == 0o640


def test_a_format_1_checkpoint_still_loads_and_resumes(tmp_path):
    """The layout before generations: model.npz, optimizer.npz and checkpoint.json with flat hashes."""
    import hashlib

    result = train.fit(train.TrainConfig(epochs=1, **CONFIG), tmp_path / "new", progress=False, log=quiet)
    loaded = checkpoint.load(tmp_path / "new")
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    model_raw, optim_raw = checkpoint.npz_bytes(loaded.model), checkpoint.npz_bytes(loaded.optimizer)
    (legacy / "model.npz").write_bytes(model_raw)
    (legacy / "optimizer.npz").write_bytes(optim_raw)
    meta = {k: v for k, v in loaded.meta.items() if k not in ("generation", "files", "sha256", "data")}
    meta["config"] = {k: v for k, v in meta["config"].items() if k not in ("column", "vocab_sentences")}
    pairs = train.Trainer(train.TrainConfig(**CONFIG), None, False, quiet).pairs
    meta.update(format=1, model_sha256=hashlib.sha256(model_raw).hexdigest(),
                optimizer_sha256=hashlib.sha256(optim_raw).hexdigest(), data_sha256=train._legacy_digest(pairs))
    (legacy / "checkpoint.json").write_text(json.dumps(meta))
    model, _, _ = train.load_model(legacy)
    np.testing.assert_array_equal(model.U.data, result.model.U.data)
    resumed = train.resume(legacy, epochs=3, progress=False, log=quiet)
    assert resumed.history[-1]["epoch"] == 3
    assert json.loads((legacy / "checkpoint.json").read_text())["format"] == checkpoint.FORMAT_VERSION
    assert not (legacy / "model.npz").exists()  # two generations on, the old layout is gone


def test_missing_or_foreign_directories_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="no such directory"):
        checkpoint.load(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match="not a directory"):
        checkpoint.load(tmp_path / "file")
    with pytest.raises(CheckpointError, match="not a checkpoint directory"):
        checkpoint.load(tmp_path)


KILL_TRIALS = int(os.environ.get("TINYGRAD_RNN_KILL_TRIALS", "3"))  # CI: a few; set it to 50 for the long loop


@pytest.mark.parametrize("trial", range(KILL_TRIALS))
def test_kill_9_at_a_random_moment_loses_nothing(tmp_path, trial):
    import random
    import signal
    import time

    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "tinygrad_rnn", "train", "--data", FIXTURE, "--epochs", "100000",
                             "--vocab-size", "60", "--hidden", "8", "--no-progress", "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (out / "checkpoint.json").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(random.Random(trial).uniform(0.0, 1.5))  # epochs take milliseconds: saves are everywhere
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    model, _, meta = train.load_model(out)  # generate would work
    resumed = subprocess.run([sys.executable, "-m", "tinygrad_rnn", "train", "--resume", str(out), "--epochs",
                              str(meta["epoch"] + 1), "--no-progress"], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr
