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
