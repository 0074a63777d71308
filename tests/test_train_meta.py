"""A checkpoint.json edited by hand is refused as a whole, in one line naming the file and the field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tinygrad_rnn import train
from tinygrad_rnn.checkpoint import CheckpointError

FIXTURE = str(Path(__file__).parent / "fixtures" / "comments.csv")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("meta") / "run"
    train.fit(train.TrainConfig(data=FIXTURE, vocab_size=60, hidden=8, epochs=2, optimizer="adam", lr=0.01),
              out, progress=False, log=lambda line: None)
    return out


def edit(meta: dict, path: str, value) -> dict:
    """``meta`` with the value at a dotted path replaced (``...`` deletes it)."""
    meta = json.loads(json.dumps(meta))
    *parents, last = path.split(".")
    target = meta
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is ...:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return meta


EDITS = [
    ("lr", "0.005", "'lr' must be a positive number"),
    ("lr", ..., "'lr' must be a positive number"),
    ("epoch", 2.5, "'epoch' must be an integer in \\[0, 2\\]"),
    ("epoch", 99, "'epoch' must be an integer in \\[0, 2\\]"),
    ("position", -1, "'position' must be an integer >= 0"),
    ("config.hidden", "8", "config.hidden must be an integer >= 1"),
    ("config.hidden", ..., "config.hidden must be present"),
    ("config.bptt_truncate", -3, "config.bptt_truncate must be null or an integer >= 0"),
    ("config.optimizer", "rmsprop", "config.optimizer must be 'sgd' or 'adam'"),
    ("config.shuffle", "no", "config.shuffle must be true or false"),
    ("config.surprise", 1, "unknown config field 'surprise'"),
    ("config", [], "'config' must be an object"),
    ("vocabulary", ..., "'vocabulary' must be a list of unique words"),
    ("vocabulary.3", 7, "'vocabulary' must be a list of unique words"),
    ("loss_history.0.loss", "low", "'loss_history' must be a list of"),
    ("loss_history.0", {"epoch": 0}, "'loss_history' must be a list of"),
    ("epoch_rng_state.state.state", "x", "'epoch_rng_state' must be a PCG64 state"),
    ("epoch_rng_state", {"bit_generator": "MT19937"}, "'epoch_rng_state' must be a PCG64 state"),
]


@pytest.mark.parametrize("path, value, message", EDITS, ids=[f"{p}={v!r}"[:40] for p, v, _ in EDITS])
def test_a_hand_edited_manifest_is_refused_naming_the_field(run, tmp_path, path, value, message):
    import shutil

    directory = shutil.copytree(run, tmp_path / "run")
    manifest = directory / "checkpoint.json"
    manifest.write_text(json.dumps(edit(json.loads(manifest.read_text()), path, value)))
    with pytest.raises(CheckpointError, match=message):
        train.resume(directory, epochs=3, progress=False, log=lambda line: None)
    for args in (["generate", "--checkpoint", str(directory)], ["train", "--resume", str(directory)]):
        proc = subprocess.run([sys.executable, "-m", "tinygrad_rnn", *args], capture_output=True, text=True,
                              timeout=120)
        last = proc.stderr.strip().splitlines()[-1]
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert str(manifest) in last


def test_adams_step_count_must_be_a_non_negative_integer(run, tmp_path):
    import shutil

    import numpy as np

    from tinygrad_rnn import checkpoint

    directory = shutil.copytree(run, tmp_path / "run")
    loaded = checkpoint.load(directory)
    meta = {k: v for k, v in loaded.meta.items() if k not in ("generation", "files", "sha256")}
    for _ in range(2):
        checkpoint.save(directory, loaded.model, dict(loaded.optimizer, t=np.array(-4)), meta)
    with pytest.raises(CheckpointError, match="must be an integer >= 0, got -4"):
        train.resume(directory, epochs=3, progress=False, log=lambda line: None)
