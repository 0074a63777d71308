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
    ("position", 10**6, "'position' 1000000 is past the epoch's"),
    ("config.hidden", "8", "config.hidden must be an integer >= 1"),
    ("config.hidden", ..., "config.hidden must be present"),
    ("config.bptt_truncate", -3, "config.bptt_truncate must be null or an integer >= 0"),
    ("config.optimizer", "adagrad", "config.optimizer must be one of 'sgd', 'momentum', 'adam'"),
    ("config.cell", "elman", "config.cell must be one of 'rnn', 'gru', 'lstm'"),
    ("config.layers", 1.5, "config.layers must be an integer from 1 to 64"),
    ("config.dropout", 0.5, "config.dropout 0.5 needs config.layers 2 or more"),
    ("config.shuffle", "no", "config.shuffle must be true or false"),
    ("config.surprise", 1, "unknown config field 'surprise'"),
    ("config", [], "'config' must be an object"),
    ("vocabulary", ..., "'vocabulary' must be a list of unique words"),
    ("vocabulary.3", 7, "'vocabulary' must be a list of unique words"),
    ("loss_history.0.loss", "low", "'loss_history' must be a list of"),
    ("loss_history.0", {"epoch": 0}, "'loss_history' must be a list of"),
    ("epoch_rng_state.state.state", "x", "'epoch_rng_state' must be a PCG64 state"),
    ("epoch_rng_state", {"bit_generator": "MT19937"}, "'epoch_rng_state' must be a PCG64 state"),
    ("epoch_rng_state.state.state", -1, "'epoch_rng_state' must be a PCG64 state"),
    ("epoch_rng_state.has_uint32", 2**70, "'epoch_rng_state' must be a PCG64 state"),
    ("lr", 10**400, "'lr' must be a positive number"),
    ("config.lr", 10**400, "config.lr must be a positive number"),
    ("loss_history.0.loss", 10**400, "'loss_history' must be a list of"),
    ("data.bytes", "x", "'data' must be"),
    ("data", None, "'data' must be"),
    ("vocabulary.3", "\ud800", "'vocabulary' must be a list of unique words"),
    ("grad_history.0.grad_norm", -1.0, "'grad_history' must be a list of"),
    ("grad_history.1.epoch", 1, "'grad_history' must be a list of .* one per epoch trained .* in order"),
    ("grad_running.steps", 1, "'grad_running' must be .* with steps at most 'position'"),
]


@pytest.mark.parametrize("path, value, message", EDITS, ids=[f"{p}={v!r}"[:40] for p, v, _ in EDITS])
def test_a_hand_edited_manifest_is_refused_naming_the_field(run, tmp_path, path, value, message):
    import shutil

    directory = shutil.copytree(run, tmp_path / "run")
    manifest = directory / "checkpoint.json"
    manifest.write_text(json.dumps(edit(json.loads(manifest.read_text()), path, value)))
    with pytest.raises(CheckpointError, match=message):
        train.resume(directory, epochs=3, progress=False, log=lambda line: None)
    commands = [["train", "--resume", str(directory)]]
    if "past the epoch" not in message and not path.startswith("grad_"):  # training's own fields, which
        # generate does not read: the position and the gradient-norm log
        commands.append(["generate", "--checkpoint", str(directory)])
    for args in commands:
        proc = subprocess.run([sys.executable, "-m", "tinygrad_rnn", *args], capture_output=True, text=True,
                              timeout=120)
        last = proc.stderr.strip().splitlines()[-1]
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert str(manifest) in last


def test_gradient_norms_of_another_models_parameters_are_refused(run, tmp_path):
    import shutil

    directory = shutil.copytree(run, tmp_path / "run")
    manifest = directory / "checkpoint.json"
    meta = json.loads(manifest.read_text())
    meta["grad_history"][1]["params"] = {"E": 1.0, "V": 1.0}
    manifest.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"'grad_history' must name the model's parameters \(U, V, W\), got E, V"):
        train.resume(directory, epochs=3, progress=False, log=lambda line: None)
    meta["grad_history"][1]["params"] = meta["grad_history"][0]["params"]
    meta["grad_running"] = {"steps": 0, "grad_norm_sum": 0.0, "grad_norm_max": 0.0, "param_norm_sums": {}}
    manifest.write_text(json.dumps(meta))
    assert train.resume(directory, epochs=3, progress=False, log=lambda line: None).exit_code == 0


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


@pytest.mark.parametrize("manifest, value", [
    ("checkpoint.json", "x"), ("checkpoint.json", None), ("checkpoint.json", [1]), ("checkpoint.json", 10**300),
    ("checkpoint.previous.json", float("inf")), ("checkpoint.previous.json", 10**300),
])
def test_a_damaged_generation_number_is_a_damaged_manifest_not_a_crash(run, tmp_path, manifest, value):
    import shutil

    directory = shutil.copytree(run, tmp_path / "run")
    path = directory / manifest
    meta = json.loads(path.read_text())
    meta["generation"] = value
    path.write_text(json.dumps(meta))
    lines = []
    result = train.resume(directory, epochs=3, progress=False, log=lines.append)
    assert result.exit_code == 0 and result.history[-1]["epoch"] == 3
    assert (manifest == "checkpoint.json") == any("'generation' must be an integer" in line for line in lines)


def test_a_manifest_with_an_integer_of_thousands_of_digits_is_damaged_not_a_crash(run, tmp_path):
    import shutil

    directory = shutil.copytree(run, tmp_path / "run")
    path = directory / "checkpoint.json"
    path.write_text(path.read_text().replace('"epoch": 2', '"epoch": ' + "9" * 5000, 1))
    lines = []
    assert train.resume(directory, epochs=3, progress=False, log=lines.append).exit_code == 0
    assert any("corrupted" in line and "previous generation" in line for line in lines)


@pytest.mark.parametrize("t", [1e300, 2**64 - 1, 0.5])
def test_an_adam_step_count_no_run_can_have_is_refused(run, tmp_path, t):
    import shutil

    import numpy as np

    from tinygrad_rnn import checkpoint

    directory = shutil.copytree(run, tmp_path / "run")
    loaded = checkpoint.load(directory)
    meta = {k: v for k, v in loaded.meta.items() if k not in ("generation", "files", "sha256")}
    for _ in range(2):
        checkpoint.save(directory, loaded.model, dict(loaded.optimizer, t=np.array(t)), meta)
    with pytest.raises(CheckpointError, match="'t' \\(the step count\\) must be an integer >= 0"):
        train.resume(directory, epochs=3, progress=False, log=lambda line: None)
