"""Training: the loss falls, checkpoints are complete and atomic, resumption is bit-identical."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import checkpoint, plot, train
from tinygrad_rnn.checkpoint import CheckpointError
from tinygrad_rnn.data import DataError
from tinygrad_rnn.optim import clip_grad_norm_
from tinygrad_rnn.train import ConfigError, TrainConfig, Trainer

FIXTURE = str(Path(__file__).parent / "fixtures" / "comments.csv")


def small(**kw) -> TrainConfig:
    base = dict(data=FIXTURE, vocab_size=60, hidden=8, epochs=3, lr=0.05, seed=3)
    return TrainConfig(**{**base, **kw})


def quiet(_msg):
    pass


def current(directory) -> dict[str, Path]:
    """The files of the published generation: {"model": path, "optimizer": path}."""
    meta = json.loads((Path(directory) / "checkpoint.json").read_text())
    return {k: Path(directory) / name for k, name in meta["files"].items()}


def csv_rows(directory) -> list[dict]:
    with (Path(directory) / "losses.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def interrupted_after(directory, config, steps):
    """Run until ``steps`` batches are done, then stop as Ctrl-C would (after the current batch)."""
    trainer = Trainer(config, Path(directory), progress=False, log=quiet)
    original, done = trainer.train_step, []

    def step(indices):
        out = original(indices)
        done.append(1)
        if len(done) == steps:
            trainer.stop.request()
        return out

    trainer.train_step = step
    return trainer.run()


def test_fit_lowers_the_loss_and_writes_a_checkpoint(tmp_path):
    result = train.fit(small(epochs=4), tmp_path / "run", progress=False, log=quiet)
    losses = [h["loss"] for h in result.history]
    assert len(losses) == 5 and losses[-1] < losses[0]
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"checkpoint.json", "checkpoint.previous.json", "losses.csv", "tokens.npz"} <= files
    assert {p.name for p in current(tmp_path / "run").values()} <= files
    assert not any(name.endswith(".tmp") for name in files)
    loaded = checkpoint.load(tmp_path / "run")
    meta, arrays = loaded.meta, loaded.model
    assert set(arrays) == {"U", "V", "W"} and meta["epoch"] == 4 and not loaded.warnings
    assert all(a.dtype.kind == "f" for a in arrays.values())
    lines = (tmp_path / "run" / "losses.csv").read_text().splitlines()
    assert lines[0] == ("epoch,sentences_seen,loss,lr,grad_norm,grad_norm_max,grad_norm:U,grad_norm:V,grad_norm:W")
    assert len(lines) == 6 and lines[1].endswith(",,,,,")  # row 0: the loss before training, no gradients yet


@pytest.mark.parametrize("options", [
    dict(),
    dict(batch_size=3, optimizer="adam", lr=0.01, clip=1.0),
    dict(shuffle=True, bptt_truncate=None, dtype="float32", evaluate_every=2),
    dict(cell="gru", layers=2, dropout=0.3, optimizer="rmsprop", clip=5.0, batch_size=2),  # dropout masks too
    dict(cell="lstm", optimizer="adamw", shuffle=True),
])
@pytest.mark.parametrize("stop_after", [1, 5])
def test_interrupted_and_resumed_run_is_bit_identical(tmp_path, options, stop_after):
    config = small(**options)
    whole = train.fit(config, tmp_path / "whole", progress=False, log=quiet)
    first = interrupted_after(tmp_path / "cut", small(**options), stop_after)
    assert first.interrupted
    meta = json.loads((tmp_path / "cut" / "checkpoint.json").read_text())
    assert (meta["epoch"], meta["position"]) != (config.epochs, 0)
    resumed = train.resume(tmp_path / "cut", progress=False, log=quiet)
    assert not resumed.interrupted
    for name, p in whole.model.named_parameters():
        np.testing.assert_array_equal(p.data, dict(resumed.model.named_parameters())[name].data, err_msg=name)
    assert resumed.history == whole.history
    assert (tmp_path / "cut" / "losses.csv").read_bytes() == (tmp_path / "whole" / "losses.csv").read_bytes()


def test_the_csv_holds_each_epochs_gradient_norms_before_clipping_as_the_dense_gradients_give_them(tmp_path):
    config = dict(epochs=1, max_sentences=5, hidden=32, clip=2.0)  # hidden 32: V's gradient is a deferred product
    train.fit(small(**config), tmp_path / "run", progress=False, log=quiet)
    replay = Trainer(small(**config), None, progress=False, log=quiet)  # the same steps, dense, measured by numpy
    steps = []
    with tg.fast_paths(False):
        for x, y in replay.pairs:
            replay.optimizer.zero_grad()
            replay.model.loss(x, y, reduction="sum").backward()
            steps.append({name: float(np.linalg.norm(p.grad)) for name, p in replay.model.named_parameters()})
            clip_grad_norm_(replay.optimizer.params, 2.0)
            replay.optimizer.step()
    total = [float(np.sqrt(sum(n ** 2 for n in step.values()))) for step in steps]
    assert max(total) > 2.0  # clipped, yet the norms logged are the ones before
    first, second = csv_rows(tmp_path / "run")
    assert first["grad_norm"] == first["grad_norm_max"] == first["grad_norm:U"] == ""  # before training
    assert float(second["grad_norm"]) == pytest.approx(np.mean(total), rel=1e-9)
    assert float(second["grad_norm_max"]) == pytest.approx(max(total), rel=1e-9)
    for name in ("U", "V", "W"):
        assert float(second[f"grad_norm:{name}"]) == pytest.approx(np.mean([s[name] for s in steps]), rel=1e-9)
    meta = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert meta["grad_history"][0]["steps"] == len(steps) == 5


def test_an_epoch_trained_but_not_evaluated_has_a_row_without_a_loss(tmp_path):
    train.fit(small(epochs=3, evaluate_every=2, max_sentences=4, cell="gru", layers=2), tmp_path / "run",
              progress=False, log=quiet)
    rows = csv_rows(tmp_path / "run")
    assert list(rows[0])[:7] == ["epoch", "sentences_seen", "loss", "lr", "grad_norm", "grad_norm_max", "grad_norm:E"]
    assert list(rows[0])[-1] == "grad_norm:V" and "grad_norm:rnn.weight_hh_l1" in rows[0]
    assert [(r["epoch"], r["sentences_seen"]) for r in rows] == [("0", "0"), ("1", "4"), ("2", "8"), ("3", "12")]
    assert [r["loss"] != "" for r in rows] == [True, False, True, False]
    assert [r["grad_norm"] != "" for r in rows] == [False, True, True, True]
    log = plot.read_losses(tmp_path / "run" / "losses.csv", tmp_path / "run")  # what plot draws
    assert log.epochs == [0, 2] and log.grad_norms["grad_norm:V"][0] == [1, 2, 3]


def test_a_checkpoint_from_before_the_gradient_norms_resumes_and_counts_the_steps_it_trains(tmp_path):
    interrupted_after(tmp_path / "run", small(epochs=2, max_sentences=6), 2)
    manifest = tmp_path / "run" / "checkpoint.json"
    meta = json.loads(manifest.read_text())
    assert meta["grad_running"]["steps"] == meta["position"] == 2
    for key in ("grad_history", "grad_running"):
        del meta[key]
    manifest.write_text(json.dumps(meta))
    train.load_model(tmp_path / "run")
    assert train.resume(tmp_path / "run", progress=False, log=quiet).exit_code == 0
    meta = json.loads(manifest.read_text())
    assert [h["steps"] for h in meta["grad_history"]] == [4, 6]  # the first epoch's means: its last 4 steps
    assert all(r["grad_norm"] for r in csv_rows(tmp_path / "run")[1:])


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adamw", "rmsprop"])
@pytest.mark.parametrize("cell, layers", [("rnn", 1), ("rnn", 2), ("gru", 2), ("lstm", 1)])
def test_every_cell_and_optimizer_trains_and_its_checkpoint_loads(tmp_path, cell, layers, optimizer):
    config = small(epochs=2, cell=cell, layers=layers, optimizer=optimizer, lr=None, clip=5.0, bptt_truncate=2)
    config.check()
    assert config.lr == train.DEFAULT_LR[optimizer]
    result = train.fit(config, tmp_path / "run", progress=False, log=quiet)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < losses[0], losses
    model, vocab, meta = train.load_model(tmp_path / "run")
    assert (model.cell, model.num_layers, model.training) == (cell, layers, False)
    assert meta["config"]["cell"] == cell and set(model.state_dict()) == set(result.model.state_dict())
    for name, p in result.model.named_parameters():
        np.testing.assert_array_equal(p.data, dict(model.named_parameters())[name].data, err_msg=name)
    assert set(checkpoint.load(tmp_path / "run").optimizer) == set(result_optimizer_keys(result, config))


def result_optimizer_keys(result, config):
    return train._make_optimizer(config, result.model).state_dict().keys()


def test_evaluation_is_without_dropout_and_restores_training_mode():
    trainer = Trainer(small(cell="gru", layers=2, dropout=0.5), None, progress=False, log=quiet)
    first = train.evaluate(trainer.model, trainer.pairs)
    assert train.evaluate(trainer.model, trainer.pairs) == first  # dropout would draw new masks
    assert trainer.model.training
    x, y = trainer.pairs[0]
    assert trainer.model.loss(x, y).item() != trainer.model.loss(x, y).item()  # while training, it drops


def test_a_dropout_run_without_its_mask_generators_state_is_refused(tmp_path):
    """Resuming would drop other units than the run that never stopped: one clear line, not a silent drift."""
    train.fit(small(epochs=1, cell="gru", layers=2, dropout=0.3), tmp_path / "run", progress=False, log=quiet)
    manifest = tmp_path / "run" / "checkpoint.json"
    meta = json.loads(manifest.read_text())
    manifest.write_text(json.dumps(dict(meta, dropout_rng_state={"bit_generator": "MT19937"})))
    with pytest.raises(CheckpointError, match="'dropout_rng_state' must be a PCG64 state"):
        train.resume(tmp_path / "run", epochs=2, progress=False, log=quiet)
    del meta["dropout_rng_state"]
    manifest.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="'dropout_rng_state' must be present when config.dropout is not 0"):
        train.resume(tmp_path / "run", epochs=2, progress=False, log=quiet)


def test_the_default_learning_rate_follows_the_optimizer_chosen_at_any_time():
    import dataclasses

    config = dataclasses.replace(TrainConfig(), optimizer="adam")
    config.check()
    assert config.lr == 0.001 and small(lr=None).lr is None


def test_a_checkpoint_from_before_the_cell_options_loads_as_the_tutorials_model(tmp_path):
    train.fit(small(epochs=1), tmp_path / "run", progress=False, log=quiet)
    manifest = tmp_path / "run" / "checkpoint.json"
    meta = json.loads(manifest.read_text())
    for key in ("cell", "layers", "dropout"):
        del meta["config"][key]
    manifest.write_text(json.dumps(meta))
    model, _, _ = train.load_model(tmp_path / "run")
    assert not model.stacked and set(model.state_dict()) == {"U", "V", "W"}
    resumed = train.resume(tmp_path / "run", epochs=2, progress=False, log=quiet)
    assert resumed.exit_code == 0 and len(resumed.history) == 3


def test_resume_can_extend_the_epochs(tmp_path):
    train.fit(small(epochs=2), tmp_path / "a", progress=False, log=quiet)
    longer = train.resume(tmp_path / "a", epochs=4, progress=False, log=quiet)
    straight = train.fit(small(epochs=4), tmp_path / "b", progress=False, log=quiet)
    np.testing.assert_array_equal(longer.model.W.data, straight.model.W.data)
    with pytest.raises(ConfigError, match="fewer than the 4 epochs already done"):
        train.resume(tmp_path / "a", epochs=1, progress=False, log=quiet)


def test_an_existing_checkpoint_is_never_overwritten_by_a_new_run(tmp_path):
    train.fit(small(epochs=1), tmp_path / "run", progress=False, log=quiet)
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.name != ".lock"}
    with pytest.raises(ConfigError, match="already holds a checkpoint"):
        train.fit(small(epochs=1), tmp_path / "run", progress=False, log=quiet)
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.name != ".lock"} == before


def test_a_damaged_generation_falls_back_to_the_previous_one_and_two_are_refused(tmp_path):
    train.fit(small(epochs=2), tmp_path / "run", progress=False, log=quiet)  # saves after each: two generations
    latest = current(tmp_path / "run")["model"]
    good = latest.read_bytes()
    latest.write_bytes(good[: len(good) // 2])
    lines = []
    model, vocab, meta = train.load_model(tmp_path / "run", log=lines.append)
    assert meta["generation"] == json.loads((tmp_path / "run" / "checkpoint.previous.json").read_text())["generation"]
    assert lines and f"{latest.name}: does not match its manifest" in lines[0] and "previous generation" in lines[0]
    previous = json.loads((tmp_path / "run" / "checkpoint.previous.json").read_text())["files"]["model"]
    (tmp_path / "run" / previous).write_bytes(b"")
    with pytest.raises(CheckpointError, match=f"{latest.name}: does not match its manifest"):
        train.load_model(tmp_path / "run")
    latest.write_bytes(good)
    (tmp_path / "run" / "checkpoint.json").write_text("{not json")
    (tmp_path / "run" / "checkpoint.previous.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="checkpoint.json: corrupted"):
        train.load_model(tmp_path / "run")
    with pytest.raises(CheckpointError, match="not a checkpoint directory"):
        train.load_model(tmp_path)


def test_object_arrays_are_refused_on_save_and_load(tmp_path):
    with pytest.raises(CheckpointError, match="object arrays"):
        checkpoint.npz_bytes({"U": np.array([None])})
    path = tmp_path / "pickled.npz"
    np.savez(path, U=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CheckpointError, match="unreadable"):
        checkpoint.read_npz(path)


def test_checkpoint_of_another_shape_is_refused(tmp_path):
    train.fit(small(epochs=1), tmp_path / "run", progress=False, log=quiet)
    loaded = checkpoint.load(tmp_path / "run")
    loaded.model["W"] = np.zeros((3, 3))
    for _ in range(2):  # both generations of the other shape
        checkpoint.save(tmp_path / "run", loaded.model, loaded.optimizer, loaded.meta)
    with pytest.raises(CheckpointError, match=r"'W' has shape \(3, 3\), the model expects \(8, 8\)"):
        train.load_model(tmp_path / "run")


def test_resume_refuses_changed_data(tmp_path):
    copy = tmp_path / "data.csv"
    copy.write_text(Path(FIXTURE).read_text("utf-8"), "utf-8")
    train.fit(small(epochs=1, data=str(copy)), tmp_path / "run", progress=False, log=quiet)
    copy.write_text(Path(FIXTURE).read_text("utf-8") + '"A brand new comment with several new words in it."\n')
    with pytest.raises(DataError, match="differ from those of the checkpoint"):
        train.resume(tmp_path / "run", epochs=2, progress=False, log=quiet)


@pytest.mark.parametrize("field, value, message", [
    ("vocab_size", 3, "--vocab-size must be an integer >= 4"),
    ("hidden", 0, "--hidden must be an integer >= 1"),
    ("lr", -1.0, "--lr must be a positive number"),
    ("optimizer", "adagrad", "--optimizer must be one of 'sgd', 'momentum', 'adam', 'adamw', 'rmsprop'"),
    ("cell", "elman", "--cell must be one of 'rnn', 'gru', 'lstm', got 'elman'"),
    ("layers", 0, "--layers must be an integer from 1 to 64"),
    ("dropout", 1.0, r"--dropout must be a number in \[0, 1\)"),
    ("bptt_truncate", -2, "--bptt-truncate must be absent or an integer >= 0"),
    ("seed", -1, "--seed must be an integer >= 0"),
    ("vocab_sentences", "most", "--vocab-sentences must be absent, 'all' or an integer >= 1"),
])
def test_bad_options_are_named(field, value, message):
    with pytest.raises(ConfigError, match=message):
        small(**{field: value}).check()


def test_max_sentences_stops_reading_and_vocab_sentences_all_keeps_the_tutorials_vocabulary(tmp_path):
    big = tmp_path / "big.csv"  # long enough that stopping early reads less of it
    rows = Path(FIXTURE).read_text("utf-8").splitlines()[1:]
    big.write_text("body\n" + "\n".join(rows * 200) + "\n", "utf-8")
    all_sentences = Trainer(small(data=str(big)), None, progress=False, log=quiet)
    first_two = Trainer(small(data=str(big), max_sentences=2), None, progress=False, log=quiet)
    tutorial = Trainer(small(data=str(big), max_sentences=2, vocab_sentences="all"), None, progress=False, log=quiet)
    assert len(first_two.pairs) == len(tutorial.pairs) == 2 and len(all_sentences.pairs) > 2
    assert first_two.corpus.bytes_read < tutorial.corpus.bytes_read == big.stat().st_size
    assert len(first_two.vocab) < len(all_sentences.vocab)
    assert tutorial.vocab.index_to_word == all_sentences.vocab.index_to_word


@pytest.mark.parametrize("options", [dict(lr=1e4), dict(lr=1e6, dtype="float32"), dict(lr=50.0, optimizer="adam")])
def test_divergence_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, options):
    out = tmp_path / "run"
    train.fit(small(epochs=1), out, progress=False, log=quiet)
    good = checkpoint.load(out)
    meta = json.loads((out / "checkpoint.json").read_text())
    meta["config"].update(options)  # the same run, continued with a learning rate that blows up
    meta["lr"] = options["lr"]
    meta["config"]["epochs"] = 5
    loaded = checkpoint.load(out)
    checkpoint.save(out, loaded.model, {} if options.get("optimizer") == "adam" else loaded.optimizer,
                    {k: v for k, v in meta.items() if k not in ("generation", "files", "sha256")})
    if options.get("dtype") == "float32":  # the arrays follow the dtype
        checkpoint.save(out, {k: v.astype(np.float32) for k, v in loaded.model.items()}, loaded.optimizer,
                        {k: v for k, v in meta.items() if k not in ("generation", "files", "sha256")})
    if options.get("optimizer") == "adam":
        state = {"t": np.array(0), **{f"{m}.{i}": np.zeros_like(good.model[n])
                                      for m in ("m", "v") for i, n in enumerate(("U", "V", "W"))}}
        checkpoint.save(out, loaded.model, state,
                        {k: v for k, v in meta.items() if k not in ("generation", "files", "sha256")})
    before = checkpoint.load(out)
    result = train.resume(out, progress=False, log=quiet)
    assert result.exit_code == train.EXIT_DIVERGED and result.diverged
    assert "lr" in result.diverged and ("loss" in result.diverged or "holds NaN" in result.diverged)
    after = checkpoint.load(out)
    assert after.generation == before.generation  # nothing was written
    for name in after.model:
        assert np.isfinite(after.model[name]).all()
        np.testing.assert_array_equal(after.model[name], before.model[name])


def test_a_checkpoint_with_non_finite_weights_or_impossible_optimizer_state_is_refused(tmp_path):
    out = tmp_path / "run"
    train.fit(small(epochs=1, optimizer="adam", lr=0.01), out, progress=False, log=quiet)
    loaded = checkpoint.load(out)
    meta = {k: v for k, v in loaded.meta.items() if k not in ("generation", "files", "sha256")}

    def save_twice(model, optimizer):  # both generations, so no fallback hides it
        for _ in range(2):
            checkpoint.save(out, model, optimizer, meta)

    bad_u = dict(loaded.model, U=np.where(loaded.model["U"] > 0, np.nan, loaded.model["U"]))
    save_twice(bad_u, loaded.optimizer)
    with pytest.raises(CheckpointError, match="weight 'U' holds NaN or inf"):
        train.resume(out, epochs=3, progress=False, log=quiet)
    with pytest.raises(CheckpointError, match="holds NaN or inf"):
        train.load_model(out)
    save_twice(loaded.model, dict(loaded.optimizer, t=np.array(-1)))
    with pytest.raises(CheckpointError, match="'t' \\(the step count\\) must be an integer >= 0"):
        train.resume(out, epochs=3, progress=False, log=quiet)
    save_twice(loaded.model, {k: (-v if k.startswith("v.") else v) - (1 if k.startswith("v.") else 0)
                              for k, v in loaded.optimizer.items()})
    with pytest.raises(CheckpointError, match="second moment\\) holds negative values"):
        train.resume(out, epochs=3, progress=False, log=quiet)


def test_a_model_that_cannot_fit_in_memory_is_refused_before_the_data_are_read():
    with pytest.raises(ConfigError, match=r"--hidden 100000 with a vocabulary of 4 words needs about .* GiB"):
        small(hidden=100_000, data="/nonexistent.csv").check()
    need = train.memory_needed(small(hidden=100), 8000)
    assert need == (2 * 8000 * 100 + 100 * 100) * 3 * 8


def test_an_empty_sentence_is_a_clear_error():
    from tinygrad_rnn.models import RNNLM

    model = RNNLM(10, 4)
    with pytest.raises(ValueError, match="RNNLM: x is empty .* a sentence needs at least one token"):
        model.loss([], [])
