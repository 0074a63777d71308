"""Training the RNNLM the tutorial's way, and never losing work: per-epoch loss and gradient norms, lr
halving, checkpoints that always load, one writer per run, polite stops that save, divergence that
stops before it is saved.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from . import checkpoint, corpus, data, gradients, rundir, train_meta
from .grad_mode import no_grad
from .models import RNNLM
from .optim import SGD, Adam, AdamW, HalveOnIncrease, Optimizer, RMSprop, clip_grad_norm_
from .stopping import Stopped, StopRequest

LOSSES_FILE = "losses.csv"
DEFAULT_LR = {"sgd": 0.005, "momentum": 0.001, "adam": 0.001, "adamw": 0.001, "rmsprop": 0.001}
OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2, "rmsprop": 1}  # arrays per parameter
TOKENS_FILE = "tokens.npz"
DIVERGENCE_FACTOR = 4  # a loss per token above 4 × max(ln V, the first evaluated loss) has diverged
EXIT_DIVERGED = 3


class ConfigError(ValueError):
    """A training option is out of range; the message names the option and the value."""


class Diverged(RuntimeError):
    """The loss, a gradient or a weight stopped being a finite, sensible number; nothing was saved."""


@dataclass
class TrainConfig:
    """Everything that defines a training run; stored in every checkpoint."""

    data: str | None = None          # CSV in the tutorial's format; None for the built-in corpus
    column: str = "body"             # the CSV's text column, by name
    vocab_size: int = 8000           # the largest vocabulary; the model's word_dim is the size built
    vocab_sentences: int | str | None = None  # count words over N sentences, or "all"; None: the training ones
    hidden: int = 100
    epochs: int = 10
    lr: float | None = None          # None: the optimizer's default, DEFAULT_LR
    batch_size: int = 1              # 1 is the tutorial's per-sentence SGD
    bptt_truncate: int | None = 4    # None is full BPTT
    optimizer: str = "sgd"           # one of OPTIMIZERS
    clip: float | None = None        # max global gradient norm
    cell: str = "rnn"                # "rnn", "gru" or "lstm"; rnn with 1 layer is the tutorial's model
    layers: int = 1                  # recurrent layers
    dropout: float = 0.0             # between recurrent layers, while training
    dtype: str = "float64"           # "float64" or "float32"
    seed: int = 0
    max_sentences: int | None = None  # train on the first N sentences, and read no further
    evaluate_every: int = 1          # evaluate the loss every N epochs; halve lr when it rose
    shuffle: bool = False            # the tutorial keeps the corpus order

    def check(self) -> None:
        """Refuse options out of range, naming the option as the command line spells it; fill in the
        optimizer's default learning rate when none was given."""
        if self.lr is None:  # (an unknown optimizer is reported below, by its own name)
            self.lr = DEFAULT_LR.get(self.optimizer, DEFAULT_LR["sgd"])
        for name, (ok, rule) in train_meta.CONFIG_SCHEMA.items():
            value = getattr(self, name)
            if not ok(value):
                flag = name.replace("_", "-")
                raise ConfigError(f"--{flag} must be {rule.replace('null', 'absent')}, got {value!r}")
        clash = train_meta.config_clash(dataclasses.asdict(self))
        if clash:
            raise ConfigError(clash)
        self.check_memory(4)  # the vocabulary is not known yet: its least size; again once it is


    def check_memory(self, vocab: int) -> None:
        """Refuse a model that cannot fit in the memory available, before building it."""
        need, have = memory_needed(self, vocab), available_memory()
        if have is not None and need > have:
            model = f"--hidden {self.hidden}" if self.cell == "rnn" and self.layers == 1 else \
                f"--cell {self.cell} --layers {self.layers} --hidden {self.hidden}"
            raise ConfigError(f"{model} with a vocabulary of {vocab:,} words needs about "
                              f"{need / 2**30:,.1f} GiB for the model, its gradients and the optimizer's state; "
                              f"this machine has {have / 2**30:,.1f} GiB available")


def memory_needed(config: TrainConfig, vocab: int) -> int:
    """Bytes the model needs at the least: parameters, gradients, optimizer state and scratch."""
    itemsize = np.dtype(config.dtype).itemsize
    h = config.hidden
    if config.cell == "rnn" and config.layers == 1:
        params = 2 * vocab * h + h ** 2  # U, V, W
    else:  # E, V, and per layer two gate matrices and two biases
        gates = {"rnn": 1, "gru": 3, "lstm": 4}[config.cell]
        params = 2 * vocab * h + config.layers * gates * (2 * h * h + 2 * h)
    copies = 3 + OPTIMIZER_STATES[config.optimizer]  # weights, gradients, scratch; the optimizer's state
    return params * copies * itemsize


def available_memory() -> int | None:
    """MemAvailable of /proc/meminfo (Linux), else None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclass
class GradNorms:
    """Running totals of the gradient norms of the epoch in progress, taken before clipping.

    They go into the checkpoint with the position, so that a run stopped mid-epoch and resumed
    records the same epoch means as one never stopped.
    """

    steps: int = 0
    total: float = 0.0                 # Σ of the global norm over the steps
    peak: float = 0.0                  # the largest global norm
    params: dict[str, float] = field(default_factory=dict)  # Σ of each parameter's norm

    def add(self, squares: dict[str, float]) -> float:
        """Count one step from each parameter's squared gradient norm; returns the step's global norm."""
        norm = math.sqrt(sum(squares.values()))
        self.steps += 1
        self.total += norm
        self.peak = max(self.peak, norm)
        for name, square in squares.items():
            self.params[name] = self.params.get(name, 0.0) + math.sqrt(square)
        return norm

    def record(self, epoch: int, sentences_seen: int, lr: float) -> dict:
        """The epoch's entry of ``grad_history``: mean and max of the global norm, each parameter's mean."""
        return {"epoch": epoch, "sentences_seen": sentences_seen, "lr": lr, "steps": self.steps,
                "grad_norm": self.total / self.steps, "grad_norm_max": self.peak,
                "params": {name: total / self.steps for name, total in self.params.items()}}

    def to_meta(self) -> dict:
        return {"steps": self.steps, "grad_norm_sum": self.total, "grad_norm_max": self.peak,
                "param_norm_sums": dict(self.params)}

    @classmethod
    def from_meta(cls, meta: dict) -> GradNorms:
        return cls(int(meta["steps"]), float(meta["grad_norm_sum"]), float(meta["grad_norm_max"]),
                   {name: float(v) for name, v in meta["param_norm_sums"].items()})


@dataclass
class TrainResult:
    model: RNNLM | None              # None when the run stopped before it had built one
    vocab: data.Vocabulary | None
    history: list[dict] = field(default_factory=list)
    interrupted: bool = False
    out_dir: Path | None = None
    exit_code: int = 0               # 0 done; 128 + signal when a polite stop saved; EXIT_DIVERGED
    diverged: str | None = None      # why, when the run diverged (nothing of it was saved)


def evaluate(model: RNNLM, pairs, batch_size: int = 64, stop: StopRequest | None = None,
             progress: bool | None = False) -> float | None:
    """Mean cross-entropy per real token over all (x, y) pairs: the tutorial's ``calculate_loss``.

    None when ``stop`` was requested before it finished (a Ctrl-C during a long evaluation).
    """
    total, tokens = 0.0, 0
    was_training = model.training
    model.eval()  # no dropout while measuring
    bar = tqdm(total=len(pairs), unit="sent", leave=False, desc="evaluating",
               disable=(not progress) if progress is not None else None)
    try:
        with no_grad(), bar:
            for i in range(0, len(pairs), batch_size):
                if stop is not None and stop.is_set():
                    return None
                x, y, mask = data.pad_batch(pairs[i:i + batch_size])
                total += float(model.loss(x, y, mask, reduction="sum").item())
                tokens += int(mask.sum())
                bar.update(len(x))
    finally:
        model.train(was_training)
    return total / max(tokens, 1)


class Trainer:
    """One run's state; ``run()`` trains to ``config.epochs``, saving after every epoch and on a polite stop."""

    def __init__(self, config: TrainConfig, out_dir: Path | None = None, progress: bool | None = None,
                 log: Callable[[str], None] = print, threads: int | None = 1, data_: corpus.Corpus | None = None,
                 stop: StopRequest | None = None):
        config.check()
        self.config, self.out_dir, self.progress, self.log, self.threads = config, out_dir, progress, log, threads
        self.stop = stop or StopRequest()
        self.lock: rundir.RunLock | None = None  # set by fit/resume: checked before every write
        self.corpus = data_ or corpus.load(config.data, config.vocab_size, config.max_sentences,
                                           config.vocab_sentences, config.column, progress, log, self.stop)
        self.vocab, self.pairs = self.corpus.vocab, self.corpus.pairs
        config.check_memory(len(self.vocab))
        self.model = build_model(config, len(self.vocab))
        self.named_params = list(self.model.named_parameters())
        self.optimizer = _make_optimizer(config, self.model)
        self.schedule = HalveOnIncrease(self.optimizer, every=config.evaluate_every)
        self.rng = np.random.default_rng(config.seed)
        self.epoch_rng_state = self.rng.bit_generator.state
        self.epoch, self.position, self.evaluated_epoch = 0, 0, -1
        self.history: list[dict] = []
        self.grad_history: list[dict] = []  # one entry per epoch trained: train_meta's grad_history
        self.grad_norms = GradNorms()  # the epoch in progress
        self.sentences_seen = 0
        self.tokens_sha256: str | None = None

    # --- checkpoints -------------------------------------------------------------------
    def save(self) -> None:
        """Publish a new checkpoint generation — only of finite weights, never interrupted halfway."""
        if self.out_dir is None:
            return
        if self.lock is not None:
            self.lock.verify()
        for name, p in self.model.named_parameters():
            if not np.isfinite(p.data).all():
                raise Diverged(f"{name} holds NaN or inf")
        meta = {
            "config": dataclasses.asdict(self.config),
            "vocabulary": self.vocab.index_to_word,
            "epoch": self.epoch, "position": self.position, "evaluated_epoch": self.evaluated_epoch,
            "sentences_seen": self.sentences_seen, "lr": self.optimizer.lr, "loss_history": self.history,
            "grad_history": self.grad_history, "grad_running": self.grad_norms.to_meta(),
            "epoch_rng_state": self.epoch_rng_state,
            **({"dropout_rng_state": self.model.rnn.drop.rng.bit_generator.state} if self.config.dropout else {}),
            "data": {"source": self.corpus.source, "sha256": self.corpus.digest, "bytes": self.corpus.bytes_read,
                     "complete": self.corpus.complete, "tokens_sha256": self.tokens_sha256},
        }
        with self.stop.saving():
            checkpoint.save(self.out_dir, self.model.state_dict(), self.optimizer.state_dict(), meta,
                            {LOSSES_FILE: _losses_csv(self.history, self.grad_history,
                                                      [name for name, _ in self.named_params])})

    def save_tokens(self) -> None:
        """The training ids, once, so that a resumed run need not tokenize the corpus again."""
        if self.out_dir is None:
            return
        raw = checkpoint.npz_bytes({"ids": self.pairs.ids, "offsets": self.pairs.offsets})
        self.tokens_sha256 = hashlib.sha256(raw).hexdigest()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.lock is not None:
            self.lock.verify()
        with self.stop.saving():
            checkpoint.atomic_write(self.out_dir / TOKENS_FILE, raw)

    @classmethod
    def resume(cls, directory: Path, epochs: int | None = None, progress: bool | None = None,
               log: Callable[[str], None] = print, threads: int | None = 1, lr: float | None = None,
               stop: StopRequest | None = None) -> Trainer:
        """Rebuild a run from its checkpoint; ``epochs`` may extend it, ``lr`` replace the learning rate
        (after a divergence, say: the run then no longer matches an uninterrupted one)."""
        loaded = checkpoint.load(directory)
        for warning in loaded.warnings:
            log(f"warning: {warning}")
        meta = train_meta.with_added_fields(loaded.meta)
        manifest = Path(directory) / checkpoint.META_FILE
        config = TrainConfig(**train_meta.check(meta, manifest))
        if epochs is not None:
            if epochs < meta["epoch"]:
                raise ConfigError(f"--epochs {epochs} is fewer than the {meta['epoch']} epochs already done")
            config.epochs = epochs
        if lr is not None:
            config.lr = lr
        data_, from_tokens = _resume_corpus(config, meta, Path(directory))
        self = cls(config, Path(directory), progress, log, threads, data_, stop)
        if self.vocab.index_to_word != meta["vocabulary"]:
            raise data.DataError(f"{config.data or corpus.BUILTIN}: the training data differ from those of the "
                                 f"checkpoint in {directory}")
        batches = -(-len(self.pairs) // config.batch_size)
        if meta["position"] > batches:  # (equal: stopped after the epoch's last batch, before its end)
            raise checkpoint.CheckpointError(f"{manifest}: 'position' {meta['position']} is past the epoch's "
                                             f"{batches} batches")
        _finite(loaded.model, loaded.files["model"], "weight")
        try:
            self.model.load_state_dict(loaded.model)
            self.optimizer.load_state_dict(loaded.optimizer)
        except (KeyError, ValueError) as e:
            raise checkpoint.CheckpointError(f"{directory}: {e}") from None
        self.tokens_sha256 = meta["data"]["tokens_sha256"] if from_tokens else None  # else written anew
        self.optimizer.lr = float(meta["lr"]) if lr is None else lr
        self.history = list(meta["loss_history"])
        self.schedule.history = [h["loss"] for h in self.history]
        self._check_parameter_names(meta, manifest)
        self.grad_history = list(meta["grad_history"])
        self.grad_norms = GradNorms.from_meta(meta["grad_running"])
        self.epoch, self.position = int(meta["epoch"]), int(meta["position"])
        self.evaluated_epoch, self.sentences_seen = int(meta["evaluated_epoch"]), int(meta["sentences_seen"])
        self.epoch_rng_state = meta["epoch_rng_state"]
        self.rng.bit_generator.state = self.epoch_rng_state
        if config.dropout and "dropout_rng_state" in meta:  # the same masks as a run never stopped
            self.model.rnn.drop.rng.bit_generator.state = meta["dropout_rng_state"]
        return self

    def _check_parameter_names(self, meta: dict, manifest: Path) -> None:
        """The gradient norms recorded must be of this model's parameters (a CSV column each)."""
        names = {name for name, _ in self.named_params}
        recorded = [("'grad_history'", h["params"]) for h in meta["grad_history"]]
        if meta["grad_running"]["steps"]:
            recorded.append(("'grad_running'", meta["grad_running"]["param_norm_sums"]))
        for field_name, params in recorded:
            if set(params) != names:
                got = ", ".join(sorted(params))[:80] or "none"
                raise checkpoint.CheckpointError(f"{manifest}: {field_name} must name the model's parameters "
                                                 f"({', '.join(sorted(names))}), got {got}")

    # --- training ----------------------------------------------------------------------
    def batches(self) -> list[np.ndarray]:
        """This epoch's batches of sentence indices (shuffled from the epoch's RNG state if asked)."""
        order = self.rng.permutation(len(self.pairs)) if self.config.shuffle else np.arange(len(self.pairs))
        size = self.config.batch_size
        return [order[i:i + size] for i in range(0, len(order), size)]

    def train_step(self, indices: np.ndarray) -> tuple[float, int]:
        """One SGD/Adam step on the summed loss of a sentence or padded batch; returns (loss sum, tokens)."""
        if len(indices) == 1:
            x, y = self.pairs[indices[0]]
            mask = None
            tokens = len(y)
        else:
            x, y, mask = data.pad_batch([self.pairs[i] for i in indices])
            tokens = int(mask.sum())
        self.optimizer.zero_grad()
        loss = self.model.loss(x, y, mask, reduction="sum")
        value = float(loss.item())
        if not math.isfinite(value):
            raise Diverged(f"the loss became {value}")
        loss.backward()
        norm = self.grad_norms.add({name: _norm_sq(p) for name, p in self.named_params})
        if not math.isfinite(norm):
            raise Diverged(f"the gradient norm became {norm}")
        if self.config.clip is not None:
            norm = clip_grad_norm_(self.optimizer.params, self.config.clip)
            if not math.isfinite(norm):
                raise Diverged(f"the gradient norm became {norm}")
        self.optimizer.step()
        return value, tokens

    def loss_limit(self) -> float:
        """Past this loss per token the run has diverged: far worse than guessing uniformly."""
        first = self.history[0]["loss"] if self.history else 0.0
        return DIVERGENCE_FACTOR * max(math.log(len(self.vocab)), first)

    def maybe_evaluate(self) -> None:
        if self.schedule.due(self.epoch) and self.evaluated_epoch != self.epoch:
            loss = evaluate(self.model, self.pairs, stop=self.stop, progress=self.progress)
            if loss is None:  # stopped: the evaluation is done again on resume
                return
            if not math.isfinite(loss) or loss > self.loss_limit():
                raise Diverged(f"the evaluated loss is {loss:.4g} per token (limit {self.loss_limit():.3g})")
            halved = self.schedule.record(loss)
            self.history.append({"epoch": self.epoch, "sentences_seen": self.sentences_seen,
                                 "loss": loss, "lr": self.optimizer.lr})
            self.evaluated_epoch = self.epoch
            note = f"; loss rose, lr halved to {self.optimizer.lr:g}" if halved else ""
            self.log(f"epoch {self.epoch}/{self.config.epochs}: loss {loss:.4f} per token, "
                     f"lr {self.optimizer.lr:g}{note}")

    def run(self) -> TrainResult:
        """Train to ``config.epochs``. A polite stop ends after the current batch and saves; nothing is lost.

        An epoch's weights are saved after the loss they give was checked (the evaluation at the start
        of the next epoch, or the epoch's running loss): a diverged model is never saved.
        """
        with self.stop.installed(), threadpool_limits(limits=self.threads, user_api="blas"):
            try:
                if self.out_dir is not None and self.tokens_sha256 is None:
                    self.save_tokens()
                unsaved = False
                while self.epoch < self.config.epochs and not self.stop.is_set():
                    self.maybe_evaluate()
                    if self.stop.is_set():
                        break
                    if unsaved:
                        self.save()
                    self._run_epoch()
                    unsaved = True
                if not self.stop.is_set():
                    self.maybe_evaluate()  # the loss after the last epoch
                self.save()
            except Diverged as e:
                where = f"epoch {self.epoch + 1}, batch {self.position + 1}"
                return self._result(exit_code=EXIT_DIVERGED, diverged=f"{e} ({where}, lr {self.optimizer.lr:g})")
        stopped = self.stop.is_set()
        return self._result(interrupted=stopped, exit_code=self.stop.exit_code if stopped else 0)

    def _result(self, **kw) -> TrainResult:
        return TrainResult(self.model, self.vocab, self.history, out_dir=self.out_dir, **kw)

    def _run_epoch(self) -> None:
        self.rng.bit_generator.state = self.epoch_rng_state
        batches = self.batches()
        lengths = self.pairs.lengths()
        total = int(sum(lengths[b].sum() for b in batches))
        done = int(sum(lengths[b].sum() for b in batches[: self.position]))
        bar = tqdm(total=total, initial=done, unit="tok", unit_scale=True, leave=False,
                   desc=f"epoch {self.epoch + 1}/{self.config.epochs}",
                   disable=(not self.progress) if self.progress is not None else None)
        loss_sum, tokens, start = 0.0, 0, time.perf_counter()
        limit = self.loss_limit()
        with bar:
            while self.position < len(batches):
                batch_loss, n = self.train_step(batches[self.position])
                loss_sum, tokens = loss_sum + batch_loss, tokens + n
                if tokens >= 100 and loss_sum / tokens > limit:
                    raise Diverged(f"the running loss is {loss_sum / tokens:.4g} per token (limit {limit:.3g})")
                self.position += 1
                self.sentences_seen += len(batches[self.position - 1])
                bar.update(n)
                bar.set_postfix(loss=f"{loss_sum / tokens:.3f}", refresh=False)
                if self.stop.is_set():
                    return
        if tokens and loss_sum / tokens > limit:
            raise Diverged(f"the running loss is {loss_sum / tokens:.4g} per token (limit {limit:.3g})")
        elapsed = time.perf_counter() - start
        self.log(f"  trained epoch {self.epoch + 1}: {tokens:,} tokens in {elapsed:.1f} s "
                 f"({tokens / max(elapsed, 1e-9):,.0f} tokens/s), running loss {loss_sum / max(tokens, 1):.4f}")
        if self.grad_norms.steps:  # (none when a run of an older version stopped after the epoch's last batch)
            self.grad_history.append(self.grad_norms.record(self.epoch + 1, self.sentences_seen, self.optimizer.lr))
        self.grad_norms = GradNorms()
        self.epoch, self.position = self.epoch + 1, 0
        self.epoch_rng_state = self.rng.bit_generator.state


def _norm_sq(p) -> float:
    """A parameter's squared gradient norm, read in whatever form the gradient is held (no densifying)."""
    g = gradients.peek(p)
    return 0.0 if g is None else gradients.norm_sq(g)


def _resume_corpus(config: TrainConfig, meta: dict, directory: Path) -> tuple[corpus.Corpus, bool]:
    """The run's training data again: checked against the recorded digest from the raw bytes, then
    taken from the run's token file (no tokenizing; True), or rebuilt from the corpus if that is
    gone or damaged (False)."""
    recorded = meta.get("data") if isinstance(meta.get("data"), dict) else None
    if recorded is None:  # format 1: a digest of the encoded pairs, so the corpus is read again
        rebuilt = corpus.load(config.data, config.vocab_size, config.max_sentences, config.vocab_sentences,
                              config.column)
        if _legacy_digest(rebuilt.pairs) != meta.get("data_sha256"):
            raise data.DataError(f"{config.data or corpus.BUILTIN}: the training data differ from those of the "
                                 f"checkpoint in {directory}")
        return rebuilt, False
    source = config.data or corpus.BUILTIN
    if config.data is not None:
        size = int(recorded.get("bytes", 0))
        grown = recorded.get("complete") and Path(config.data).is_file() and Path(config.data).stat().st_size != size
        if grown or corpus.digest_of_prefix(config.data, size) != recorded.get("sha256"):
            raise data.DataError(f"{config.data}: the training data differ from those of the checkpoint in "
                                 f"{directory} (the file changed since the run started)")
    try:
        arrays = checkpoint.read_npz(directory / TOKENS_FILE, recorded.get("tokens_sha256"))
        pairs = corpus.TokenPairs(arrays["ids"], arrays["offsets"])
    except (checkpoint.CheckpointError, KeyError):
        pairs = None
    if pairs is None:
        rebuilt = corpus.load(config.data, config.vocab_size, config.max_sentences, config.vocab_sentences,
                              config.column)
        if rebuilt.digest != recorded.get("sha256"):
            raise data.DataError(f"{source}: the training data differ from those of the checkpoint in {directory}")
        return rebuilt, False
    vocab = data.Vocabulary(meta["vocabulary"])
    if pairs.ids.size and (pairs.ids.min() < 0 or pairs.ids.max() >= len(vocab)):
        raise checkpoint.CheckpointError(f"{directory / TOKENS_FILE}: ids out of the vocabulary's range")
    return corpus.Corpus(vocab, pairs, recorded.get("source", source), recorded["sha256"], int(recorded["bytes"]),
                         bool(recorded.get("complete"))), True


def _legacy_digest(pairs) -> str:
    h = hashlib.sha256()
    for x, y in pairs:
        h.update(np.asarray(x, np.int64).tobytes() + b"|" + np.asarray(y[-1:], np.int64).tobytes() + b";")
    return h.hexdigest()


def _finite(arrays: dict, path: Path, what: str) -> None:
    for name, a in arrays.items():
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise checkpoint.CheckpointError(f"{path}: {what} {name!r} holds NaN or inf")


def fit(config: TrainConfig | None = None, out_dir: str | Path | None = None, progress: bool | None = None,
        log: Callable[[str], None] = print, threads: int | None = 1) -> TrainResult:
    """Train an RNNLM from scratch. With ``out_dir``, checkpoints go there: a new or empty directory,
    checked (creatable, writable) and locked before the data are read. A run that ends before its
    first checkpoint (an error, a stop, a divergence) leaves nothing behind."""
    config = config or TrainConfig()
    if config.data is not None:  # absolute, so the run resumes from any directory
        config = dataclasses.replace(config, data=str(Path(config.data).absolute()))
    config.check()
    stop = StopRequest()
    with stop.installed():
        if out_dir is None:
            return _run_or_stopped(lambda: Trainer(config, None, progress, log, threads, stop=stop), stop)
        out, created = rundir.prepare(out_dir)
        try:
            lock = rundir.RunLock(out).__enter__()
        except BaseException:
            if created:
                _remove_if_empty(out)
            raise
        try:
            try:
                _note_takeover(lock, log)
                if checkpoint.exists(out):
                    raise ConfigError(f"{out} already holds a checkpoint; resume it with --resume {out} "
                                      "or choose another --out")
                others = rundir.foreign_entries(out)
                if others:
                    raise ConfigError(f"{out} is not empty (it holds {', '.join(others[:3])}"
                                      f"{', …' if len(others) > 3 else ''}); train into a new or empty directory")
                result = _run_or_stopped(lambda: _locked(Trainer(config, out, progress, log, threads, stop=stop),
                                                         lock), stop)
            except BaseException:
                if not checkpoint.exists(out):
                    _leave_nothing(out, lock, created)
                raise
            if not checkpoint.exists(out):
                _leave_nothing(out, lock, created)
            return result
        finally:
            lock.release()


def resume(directory: str | Path, epochs: int | None = None, progress: bool | None = None,
           log: Callable[[str], None] = print, threads: int | None = 1, lr: float | None = None) -> TrainResult:
    """Continue the run saved in ``directory`` exactly where it stopped, writing into the same directory."""
    directory = Path(directory)
    if not directory.is_dir():
        raise checkpoint.CheckpointError(f"{directory}: no such directory" if not directory.exists()
                                         else f"{directory}: not a directory")
    stop = StopRequest()
    with stop.installed(), rundir.RunLock(rundir.prepare(directory)[0]) as lock:
        _note_takeover(lock, log)
        checkpoint.remove_stale_temporaries(directory)
        return _run_or_stopped(
            lambda: _locked(Trainer.resume(directory, epochs, progress, log, threads, lr, stop), lock), stop)


def _locked(trainer: Trainer, lock: rundir.RunLock) -> Trainer:
    trainer.lock = lock
    return trainer


def _run_or_stopped(make: Callable[[], Trainer], stop: StopRequest) -> TrainResult:
    """Build the trainer and run it; a stop while it was still reading its data is a stopped result."""
    try:
        trainer = make()
    except Stopped:
        return TrainResult(None, None, interrupted=True, exit_code=stop.exit_code)
    return trainer.run()


def _leave_nothing(out: Path, lock: rundir.RunLock, created: bool) -> None:
    """Undo a run that ended before its first checkpoint: its token file, its lock, its directory."""
    (out / TOKENS_FILE).unlink(missing_ok=True)
    lock.release(remove=True)
    if created:
        _remove_if_empty(out)


def _remove_if_empty(out: Path) -> None:
    try:
        out.rmdir()  # only if empty: another run may have just come in
    except OSError:
        pass


def _note_takeover(lock: rundir.RunLock, log: Callable[[str], None]) -> None:
    if lock.took_over is not None:
        log(f"note: process {lock.took_over}, which held {lock.path.parent}, is no longer running; taking over")


def load_model(directory: str | Path, log: Callable[[str], None] | None = None) -> tuple[RNNLM, data.Vocabulary, dict]:
    """The trained model, its vocabulary and the checkpoint's metadata, for generation or evaluation."""
    loaded = checkpoint.load(Path(directory))
    for warning in loaded.warnings:
        if log is not None:
            log(f"warning: {warning}")
    manifest = Path(directory) / checkpoint.META_FILE
    # the gradient-norm log matters to a resumed run only: damage there never keeps good weights from use
    cfg = train_meta.check({k: v for k, v in loaded.meta.items() if k not in train_meta.ADDED_META}, manifest)
    vocab = data.Vocabulary(loaded.meta["vocabulary"])
    model = build_model(TrainConfig(**cfg), len(vocab)).eval()
    _finite(loaded.model, loaded.files["model"], "weight")
    try:
        model.load_state_dict(loaded.model)
    except (KeyError, ValueError) as e:
        raise checkpoint.CheckpointError(f"{directory}: {e}") from None
    return model, vocab, loaded.meta


def build_model(config: TrainConfig, vocab: int) -> RNNLM:
    """The configured model, with fresh weights from ``config.seed``."""
    return RNNLM(vocab, config.hidden, config.bptt_truncate, cell=config.cell, num_layers=config.layers,
                 dropout=config.dropout, dtype=np.dtype(config.dtype), seed=config.seed)


def _make_optimizer(config: TrainConfig, model: RNNLM) -> Optimizer:
    """PyTorch's update rules; momentum 0.9, and RMSprop with the series' decay of 0.9 (torch's default is 0.99)."""
    params, lr = model.parameters(), config.lr
    return {
        "sgd": lambda: SGD(params, lr=lr),
        "momentum": lambda: SGD(params, lr=lr, momentum=0.9),
        "adam": lambda: Adam(params, lr=lr),
        "adamw": lambda: AdamW(params, lr=lr),
        "rmsprop": lambda: RMSprop(params, lr=lr, alpha=0.9),
    }[config.optimizer]()


def _losses_csv(history: list[dict], grad_history: list[dict], names: list[str]) -> bytes:
    """One row per epoch evaluated or trained: the loss after ``epoch`` epochs (empty when it was not
    evaluated) and the gradient norms during that epoch, before clipping (empty for row 0)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["epoch", "sentences_seen", "loss", "lr", "grad_norm", "grad_norm_max",
                     *(f"grad_norm:{name}" for name in names)])
    losses = {h["epoch"]: h for h in history}
    grads = {g["epoch"]: g for g in grad_history}
    for epoch in sorted(losses.keys() | grads.keys()):
        h, g = losses.get(epoch), grads.get(epoch)
        first = h or g  # the evaluation's lr is the one in effect after it (halved or not)
        row = [epoch, first["sentences_seen"], repr(h["loss"]) if h else "", repr(first["lr"])]
        if g:
            row += [repr(g["grad_norm"]), repr(g["grad_norm_max"]), *(repr(g["params"][n]) for n in names)]
        else:
            row += [""] * (2 + len(names))
        writer.writerow(row)
    return buf.getvalue().encode()
