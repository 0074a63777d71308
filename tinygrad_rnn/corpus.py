"""A corpus streamed into training data: memory bounded by the vocabulary and the token ids, not the text.

The CSV is read row by row (a cell of any size; the text column found by name), each sentence
tokenized once and kept only as ids of a provisional vocabulary; words are counted as they come.
Reading stops once the sentences asked for are in (``max_sentences``, and ``vocab_sentences``
for the vocabulary), and the digest is the SHA-256 of the bytes read — so a resumed run checks the
data by hashing bytes, not by tokenizing them again.
"""

from __future__ import annotations

import hashlib
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import DataError, Vocabulary, builtin_texts, iter_csv_texts, iter_sentences

BUILTIN = "the built-in corpus"


@dataclass
class Corpus:
    """Training pairs and their vocabulary, and what identifies the data they came from."""

    vocab: Vocabulary
    pairs: TokenPairs
    source: str          # the CSV's absolute path, or BUILTIN
    digest: str          # SHA-256 of the bytes read (of the built-in texts' UTF-8)
    bytes_read: int      # how far into the file reading went
    complete: bool = True  # whether reading went to the end


def load(path: str | Path | None, vocab_size: int, max_sentences: int | None = None,
         vocab_sentences: int | str | None = None, column: str = "body", progress: bool | None = False,
         log: Callable[[str], None] | None = None, stop=None) -> Corpus:
    """Stream a corpus into training pairs.

    ``max_sentences``: train on the first N sentences, and stop reading there. ``vocab_sentences``:
    the vocabulary's words are counted over the first N sentences, or over ``"all"`` of them
    (reading on to the end); None counts over the training sentences. ``stop`` (a
    ``StopRequest``) is checked as reading goes: a stop while reading raises ``Stopped``.
    """
    hashing: list = []
    if path is None:
        texts = builtin_texts()
        digest = hashlib.sha256("\n\x00".join(texts).encode("utf-8")).hexdigest()
        source = BUILTIN
    else:
        path = Path(path).absolute()
        if path.exists() and not path.is_file() and not path.is_dir():
            raise DataError(f"{path}: not a regular file (a pipe or a device); give a CSV file")
        if log is not None and path.is_file():
            log(f"reading {path.name} ({path.stat().st_size / 2**20:,.1f} MiB)")
        texts = iter_csv_texts(path, column, progress, hashing)
        source = str(path)
    vocab_limit = None if vocab_sentences == "all" else (vocab_sentences or max_sentences)
    stop_at = None if max_sentences is None or vocab_sentences == "all" else max(max_sentences, vocab_sentences or 0)
    provisional: dict[str, int] = {}
    counts: Counter = Counter()
    flat, offsets = array("i"), array("q", [0])  # the kept sentences' ids, end to end: 4 bytes a token
    read, complete = 0, True
    sentences = iter_sentences(texts)
    for tokens in sentences:
        if vocab_limit is None or read < vocab_limit:
            counts.update(tokens)
        if max_sentences is None or read < max_sentences:
            flat.extend([provisional.setdefault(w, len(provisional)) for w in tokens])
            offsets.append(len(flat))
        read += 1
        if stop is not None and read % 1000 == 0:
            stop.check()
        if stop_at is not None and read >= stop_at:
            complete = False
            break
    sentences.close()  # stops the file reader early, closing the file
    if len(offsets) == 1:
        raise DataError(f"{source}: no usable sentences (each needs more than 3 tokens)")
    vocab = Vocabulary.from_counts(counts, vocab_size)
    remap = np.full(max(len(provisional), 1), vocab.word_to_index["UNKNOWN_TOKEN"], np.int32)
    for word, i in provisional.items():
        j = vocab.word_to_index.get(word)
        if j is not None:
            remap[i] = j
    pairs = TokenPairs(remap[np.frombuffer(flat, np.int32)], np.frombuffer(offsets, np.int64).copy())
    if hashing:
        digest, bytes_read = hashing[0].sha.hexdigest(), hashing[0].count
    else:
        bytes_read = 0
    return Corpus(vocab, pairs, source, digest, bytes_read, complete)


class TokenPairs(Sequence):
    """Sentences as (x, y) pairs — x the ids but the last, y the next ids — over one flat id array."""

    def __init__(self, ids: np.ndarray, offsets: np.ndarray):
        self.ids, self.offsets = ids, offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"sentence {i} of {len(self)}")
        ids = self.ids[self.offsets[i]:self.offsets[i + 1]]
        return ids[:-1], ids[1:]

    def lengths(self) -> np.ndarray:
        """Tokens each pair trains on (its length minus one)."""
        return np.diff(self.offsets) - 1


def digest_of_prefix(path: str | Path, size: int) -> str:
    """SHA-256 of the first ``size`` bytes of a file: what a resumed run compares with its record."""
    sha = hashlib.sha256()
    left = size
    try:
        with open(path, "rb") as f:
            while left > 0:
                chunk = f.read(min(left, 1 << 20))
                if not chunk:
                    break
                sha.update(chunk)
                left -= len(chunk)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (the run was trained on it)") from None
    return sha.hexdigest()
