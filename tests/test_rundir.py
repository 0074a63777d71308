"""One writer per run directory, and a directory checked before any work is done."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tinygrad_rnn import rundir, train
from tinygrad_rnn.rundir import RunDirError, RunLock

FIXTURE = str(Path(__file__).parent / "fixtures" / "comments.csv")
SMALL = ["--vocab-size", "60", "--hidden", "8", "--no-progress"]


def run_cli(*args, cwd=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "tinygrad_rnn", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def test_a_second_holder_is_refused_naming_the_first(tmp_path):
    with RunLock(tmp_path):
        holder = subprocess.run([sys.executable, "-c",
                                 "import sys; from tinygrad_rnn.rundir import RunLock\n"
                                 "try:\n    RunLock(sys.argv[1]).__enter__()\n"
                                 "except OSError as e:\n    print(e)\n", str(tmp_path)],
                                capture_output=True, text=True, timeout=60)
    assert f"in use by process {os.getpid()}" in holder.stdout
    with RunLock(tmp_path) as again:  # released when the first let go
        assert again.took_over is None


def test_a_lock_left_by_a_dead_process_is_taken_over_with_a_message(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (tmp_path / ".lock").write_text(f"{pid} 2026-01-01T00:00:00\n")
    lines = []
    with RunLock(tmp_path) as lock:
        train._note_takeover(lock, lines.append)
    assert lock.took_over == pid and f"process {pid}" in lines[0] and "taking over" in lines[0]


def test_two_trains_into_one_directory_one_is_refused(tmp_path):
    out = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "tinygrad_rnn", "train", "--data", FIXTURE, "--epochs", "100000",
                              "--out", str(out), *SMALL], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (out / "checkpoint.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        second = run_cli("train", "--data", FIXTURE, "--out", str(out), *SMALL)
        resumed = run_cli("train", "--resume", str(out), "--no-progress")
    finally:
        first.terminate()
        first.communicate(timeout=60)
    for proc in (second, resumed):
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert f"in use by process {first.pid}" in proc.stderr.strip().splitlines()[-1]
    assert first.returncode == 143  # SIGTERM: saved, resumable
    assert run_cli("train", "--resume", str(out), "--no-progress", "--epochs",
                   str(train.checkpoint.load(out).meta["epoch"] + 1)).returncode == 0


@pytest.mark.parametrize("make, fragment", [
    (lambda p: p.write_text("a file"), "exists and is not a directory"),
    (lambda p: None, None),
])
def test_an_unusable_out_is_refused_before_the_data_are_read(tmp_path, make, fragment):
    out = tmp_path / "out"
    make(out)
    start = time.monotonic()
    proc = run_cli("train", "--data", str(tmp_path / "missing.csv"), "--out", str(out), *SMALL)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert (fragment or "missing.csv: no such file") in last
    assert time.monotonic() - start < 30
    if fragment is None:  # a run that failed before its first checkpoint leaves no directory behind
        assert not out.exists()


def test_an_empty_out_or_resume_is_refused():
    for args in (["--out", ""], ["--resume", ""]):
        proc = run_cli("train", *args, *SMALL)
        assert proc.returncode == 2 and "an empty path" in proc.stderr.strip().splitlines()[-1]


def test_a_read_only_place_is_refused_with_its_reason(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(RunDirError, match="cannot write there \\(read-only file system\\)"):
        rundir.prepare(tmp_path / "out")


def test_a_relative_data_path_is_stored_absolute_so_the_run_resumes_anywhere(tmp_path):
    here = tmp_path / "here"
    here.mkdir()
    (here / "comments.csv").write_bytes(Path(FIXTURE).read_bytes())
    assert run_cli("train", "--data", "comments.csv", "--epochs", "1", "--out", "run", *SMALL, cwd=here).returncode == 0
    meta = train.checkpoint.load(here / "run").meta
    assert meta["config"]["data"] == str(here / "comments.csv")
    elsewhere = run_cli("train", "--resume", str(here / "run"), "--epochs", "2", "--no-progress", cwd=tmp_path)
    assert elsewhere.returncode == 0, elsewhere.stderr


def test_a_directory_holding_other_files_is_refused_and_they_are_left_alone(tmp_path):
    out = tmp_path / "proj"
    out.mkdir()
    mine = {"model.npz": b"the user's", "model.7.npz": b"also theirs", ".notes.tmp": b"theirs too"}
    for name, content in mine.items():
        (out / name).write_bytes(content)
    proc = run_cli("train", "--data", FIXTURE, "--epochs", "1", "--out", str(out), *SMALL)
    assert proc.returncode == 2 and "is not empty" in proc.stderr.strip().splitlines()[-1]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == mine


def test_two_runs_started_together_into_a_new_directory_one_wins_and_nothing_of_it_is_lost(tmp_path):
    out = tmp_path / "fresh"
    start = time.time() + 1.0
    code = ("import sys, time\nfrom tinygrad_rnn import train\n"
            f"time.sleep(max(0, {start} - time.time()))\n"
            "try:\n"
            f"    r = train.fit(train.TrainConfig(data={FIXTURE!r}, vocab_size=60, hidden=8, epochs=200), sys.argv[1],"
            " progress=False, log=lambda l: None)\n"
            "    print('won', r.exit_code)\n"
            "except OSError as e:\n    print('lost', e)\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(o[0].split() for o in outputs), outputs  # each says won or lost; else its stderr shows why
    results = sorted(o[0].split()[0] for o in outputs)
    assert results == ["lost", "won"], outputs
    assert train.checkpoint.load(out).meta["epoch"] == 200  # the winner's run is whole


def test_default_output_directories_of_runs_started_in_the_same_second_differ(tmp_path):
    first = rundir.new_directory(tmp_path / "runs" / "rnnlm-x")
    second = rundir.new_directory(tmp_path / "runs" / "rnnlm-x")
    assert first != second and first.is_dir() and second.name == "rnnlm-x-2"


def test_a_removed_lock_stops_the_run_before_it_writes(tmp_path):
    trainer = train.Trainer(train.TrainConfig(data=FIXTURE, vocab_size=60, hidden=8, epochs=2), tmp_path,
                            progress=False, log=lambda line: None)
    with RunLock(tmp_path) as lock:
        trainer.lock = lock
        (tmp_path / ".lock").unlink()  # by hand, while the run holds it
        with pytest.raises(RunDirError, match="removed or replaced while this run held it"):
            trainer.save()
    assert not train.checkpoint.exists(tmp_path)


def test_a_pipe_as_data_is_refused_not_read_forever(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    proc = run_cli("train", "--data", str(fifo), "--out", str(tmp_path / "o"), *SMALL, timeout=60)
    assert proc.returncode == 2 and "not a regular file" in proc.stderr.strip().splitlines()[-1]
