"""Training the RNNLM the tutorial's way: per-epoch loss, lr halving, checkpoints, exact resumption."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import checkpoint, data
from .grad_mode import no_grad
from .models import RNNLM
from .optim import SGD, Adam, HalveOnIncrease, Optimizer, clip_grad_norm_

LOSSES_FILE = "losses.csv"


class ConfigError(ValueError):
    """A training option is out of range; the message names the option and the value."""


@dataclass
class TrainConfig:
    """Everything that defines a training run; stored in every checkpoint."""

    data: str | None = None          # CSV in the tutorial's format; None for the built-in corpus
    vocab_size: int = 8000           # the largest vocabulary; the model's word_dim is the size built
    hidden: int = 100
    epochs: int = 10
    lr: float = 0.005
    batch_size: int = 1              # 1 is the tutorial's per-sentence SGD
    bptt_truncate: int | None = 4    # None is full BPTT
    optimizer: str = "sgd"           # "sgd" or "adam"
    clip: float | None = None        # max global gradient norm
    dtype: str = "float64"           # "float64" or "float32"
    seed: int = 0
    max_sentences: int | None = None  # train on the first N sentences (the vocabulary uses all)
    evaluate_every: int = 1          # evaluate the loss every N epochs; halve lr when it rose
    shuffle: bool = False            # the tutorial keeps the corpus order

    def check(self) -> None:
        def bad(name, value, rule):
            raise ConfigError(f"--{name.replace('_', '-')} must be {rule}, got {value}")

        if self.vocab_size < 4:
            bad("vocab_size", self.vocab_size, ">= 4 (the two markers, UNKNOWN_TOKEN and one word)")
        for name in ("hidden", "batch_size", "evaluate_every"):
            if getattr(self, name) < 1:
                bad(name, getattr(self, name), ">= 1")
        if self.epochs < 0:
            bad("epochs", self.epochs, ">= 0")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            bad("lr", self.lr, "a positive number")
        if self.bptt_truncate is not None and self.bptt_truncate < 0:
            bad("bptt_truncate", self.bptt_truncate, ">= 0 (or 'full')")
        if self.optimizer not in ("sgd", "adam"):
            bad("optimizer", self.optimizer, "'sgd' or 'adam'")
        if self.clip is not None and not self.clip > 0:
            bad("clip", self.clip, "a positive number")
        if self.dtype not in ("float32", "float64"):
            bad("dtype", self.dtype, "'float32' or 'float64'")
        if self.max_sentences is not None and self.max_sentences < 1:
            bad("max_sentences", self.max_sentences, ">= 1")


@dataclass
class TrainResult:
    model: RNNLM
    vocab: data.Vocabulary
    history: list[dict] = field(default_factory=list)
    interrupted: bool = False
    out_dir: Path | None = None


def evaluate(model: RNNLM, pairs, batch_size: int = 64) -> float:
    """Mean cross-entropy per real token over all (x, y) pairs: the tutorial's ``calculate_loss``."""
    total, tokens = 0.0, 0
    with no_grad():
        for i in range(0, len(pairs), batch_size):
            x, y, mask = data.pad_batch(pairs[i:i + batch_size])
            total += float(model.loss(x, y, mask, reduction="sum").item())
            tokens += int(mask.sum())
    return total / max(tokens, 1)


class Trainer:
    """One run's state; ``run()`` trains to ``config.epochs``, saving after every epoch and on Ctrl-C."""

    def __init__(self, config: TrainConfig, out_dir: Path | None = None,
                 progress: bool | None = None, log: Callable[[str], None] = print):
        config.check()
        self.config, self.out_dir, self.progress, self.log = config, out_dir, progress, log
        sentences = data.load_corpus(config.data)
        self.vocab = data.Vocabulary.build(sentences, config.vocab_size)
        self.pairs = data.encode_sentences(sentences[: config.max_sentences], self.vocab)
        self.model = RNNLM(len(self.vocab), config.hidden, config.bptt_truncate,
                           dtype=np.dtype(config.dtype), seed=config.seed)
        self.optimizer = _make_optimizer(config, self.model)
        self.schedule = HalveOnIncrease(self.optimizer, every=config.evaluate_every)
        self.rng = np.random.default_rng(config.seed)
        self.epoch_rng_state = self.rng.bit_generator.state
        self.epoch, self.position, self.evaluated_epoch = 0, 0, -1
        self.history: list[dict] = []
        self.sentences_seen = 0
        self._stop = threading.Event()

    # --- checkpoints -------------------------------------------------------------------
    def data_digest(self) -> str:
        h = hashlib.sha256()
        for x, y in self.pairs:
            h.update(x.tobytes() + b"|" + y[-1:].tobytes() + b";")
        return h.hexdigest()

    def save(self) -> None:
        if self.out_dir is None:
            return
        meta = {
            "config": dataclasses.asdict(self.config),
            "vocabulary": self.vocab.index_to_word,
            "epoch": self.epoch, "position": self.position, "evaluated_epoch": self.evaluated_epoch,
            "sentences_seen": self.sentences_seen, "lr": self.optimizer.lr, "loss_history": self.history,
            "epoch_rng_state": self.epoch_rng_state, "data_sha256": self.data_digest(),
        }
        checkpoint.save(self.out_dir, self.model.state_dict(), self.optimizer.state_dict(), meta)
        checkpoint.atomic_write(self.out_dir / LOSSES_FILE, _losses_csv(self.history))

    @classmethod
    def resume(cls, directory: Path, epochs: int | None = None, progress: bool | None = None,
               log: Callable[[str], None] = print) -> Trainer:
        """Rebuild a run from its checkpoint; ``epochs`` may extend it."""
        meta, model_arrays, optim_arrays = checkpoint.load(directory)
        try:
            config = TrainConfig(**meta["config"])
        except (KeyError, TypeError) as e:
            raise checkpoint.CheckpointError(f"{directory}: configuration unreadable ({e})") from None
        if epochs is not None:
            if epochs < meta["epoch"]:
                raise ConfigError(f"--epochs {epochs} is fewer than the {meta['epoch']} epochs already done")
            config.epochs = epochs
        self = cls(config, Path(directory), progress, log)
        if self.vocab.index_to_word != meta["vocabulary"] or self.data_digest() != meta["data_sha256"]:
            source = config.data or "the built-in corpus"
            raise data.DataError(f"{source}: the training data differ from those of the checkpoint in {directory}")
        try:
            self.model.load_state_dict(model_arrays)
            self.optimizer.load_state_dict(optim_arrays)
        except (KeyError, ValueError) as e:
            raise checkpoint.CheckpointError(f"{directory}: {e}") from None
        self.optimizer.lr = float(meta["lr"])
        self.history = list(meta["loss_history"])
        self.schedule.history = [h["loss"] for h in self.history]
        self.epoch, self.position = int(meta["epoch"]), int(meta["position"])
        self.evaluated_epoch, self.sentences_seen = int(meta["evaluated_epoch"]), int(meta["sentences_seen"])
        self.epoch_rng_state = meta["epoch_rng_state"]
        self.rng.bit_generator.state = self.epoch_rng_state
        return self

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
        loss.backward()
        if self.config.clip is not None:
            clip_grad_norm_(self.optimizer.params, self.config.clip)
        self.optimizer.step()
        return float(loss.item()), tokens

    def maybe_evaluate(self) -> None:
        if self.schedule.due(self.epoch) and self.evaluated_epoch != self.epoch:
            loss = evaluate(self.model, self.pairs)
            halved = self.schedule.record(loss)
            self.history.append({"epoch": self.epoch, "sentences_seen": self.sentences_seen,
                                 "loss": loss, "lr": self.optimizer.lr})
            self.evaluated_epoch = self.epoch
            note = f"; loss rose, lr halved to {self.optimizer.lr:g}" if halved else ""
            self.log(f"epoch {self.epoch}/{self.config.epochs}: loss {loss:.4f} per token, "
                     f"lr {self.optimizer.lr:g}{note}")

    def run(self) -> TrainResult:
        """Train to ``config.epochs``. Ctrl-C stops after the current batch and saves; nothing is lost."""
        with _stop_on_sigint(self._stop):
            while self.epoch < self.config.epochs and not self._stop.is_set():
                self.maybe_evaluate()
                if self._stop.is_set():
                    break
                self._run_epoch()
            if not self._stop.is_set():
                self.maybe_evaluate()  # the loss after the last epoch
        self.save()
        return TrainResult(self.model, self.vocab, self.history, self._stop.is_set(), self.out_dir)

    def _run_epoch(self) -> None:
        self.rng.bit_generator.state = self.epoch_rng_state
        batches = self.batches()
        lengths = np.array([len(y) for _, y in self.pairs])
        total = int(sum(lengths[b].sum() for b in batches))
        done = int(sum(lengths[b].sum() for b in batches[: self.position]))
        bar = tqdm(total=total, initial=done, unit="tok", unit_scale=True, leave=False,
                   desc=f"epoch {self.epoch + 1}/{self.config.epochs}",
                   disable=(not self.progress) if self.progress is not None else None)
        loss_sum, tokens, start = 0.0, 0, time.perf_counter()
        with bar:
            while self.position < len(batches):
                batch_loss, n = self.train_step(batches[self.position])
                self.position += 1
                self.sentences_seen += len(batches[self.position - 1])
                loss_sum, tokens = loss_sum + batch_loss, tokens + n
                bar.update(n)
                bar.set_postfix(loss=f"{loss_sum / tokens:.3f}", refresh=False)
                if self._stop.is_set():
                    return
        elapsed = time.perf_counter() - start
        self.log(f"  trained epoch {self.epoch + 1}: {tokens:,} tokens in {elapsed:.1f} s "
                 f"({tokens / max(elapsed, 1e-9):,.0f} tokens/s), running loss {loss_sum / max(tokens, 1):.4f}")
        self.epoch, self.position = self.epoch + 1, 0
        self.epoch_rng_state = self.rng.bit_generator.state
        self.save()


def fit(config: TrainConfig | None = None, out_dir: str | Path | None = None, progress: bool | None = None,
        log: Callable[[str], None] = print) -> TrainResult:
    """Train an RNNLM from scratch. With ``out_dir``, checkpoints go there (it must not hold one yet)."""
    config = config or TrainConfig()
    out = Path(out_dir) if out_dir is not None else None
    if out is not None and checkpoint.exists(out):
        raise ConfigError(f"{out} already holds a checkpoint; resume it with --resume {out} or choose another --out")
    return Trainer(config, out, progress, log).run()


def resume(directory: str | Path, epochs: int | None = None, progress: bool | None = None,
           log: Callable[[str], None] = print) -> TrainResult:
    """Continue the run saved in ``directory`` exactly where it stopped, writing into the same directory."""
    return Trainer.resume(Path(directory), epochs, progress, log).run()


def load_model(directory: str | Path) -> tuple[RNNLM, data.Vocabulary, dict]:
    """The trained model, its vocabulary and the checkpoint's metadata, for generation or evaluation."""
    meta, arrays, _ = checkpoint.load(Path(directory))
    try:
        cfg = meta["config"]
        vocab = data.Vocabulary(meta["vocabulary"])
        model = RNNLM(len(vocab), int(cfg["hidden"]), cfg["bptt_truncate"], dtype=np.dtype(cfg["dtype"]))
        model.load_state_dict(arrays)
    except (KeyError, TypeError, ValueError) as e:
        raise checkpoint.CheckpointError(f"{directory}: {e}") from None
    return model, vocab, meta


def _make_optimizer(config: TrainConfig, model: RNNLM) -> Optimizer:
    if config.optimizer == "adam":
        return Adam(model.parameters(), lr=config.lr)
    return SGD(model.parameters(), lr=config.lr)


def _losses_csv(history: list[dict]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["epoch", "sentences_seen", "loss", "lr"])
    for h in history:
        writer.writerow([h["epoch"], h["sentences_seen"], repr(h["loss"]), repr(h["lr"])])
    return buf.getvalue().encode()


class _stop_on_sigint:
    """While active, the first Ctrl-C sets ``stop`` (the loop ends after its batch); a second one aborts."""

    def __init__(self, stop: threading.Event):
        self.stop, self.previous = stop, None

    def _handler(self, signum, frame):
        if self.stop.is_set():
            raise KeyboardInterrupt
        self.stop.set()

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False
