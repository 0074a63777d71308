"""Text to training data: tokenizer, vocabulary, the tutorial's CSV format, a built-in corpus, batches."""

from __future__ import annotations

import csv
import hashlib
import html
import importlib
import inspect
import io
import json
import os
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

UNKNOWN_TOKEN = "UNKNOWN_TOKEN"
SENTENCE_START = "SENTENCE_START"
SENTENCE_END = "SENTENCE_END"
MIN_SENTENCE_TOKENS = 4  # sentences of 3 tokens or fewer (markers not counted) are dropped


class DataError(ValueError):
    """The input text cannot be used; the message names the file and the problem."""


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*[-*#>])")
_TOKEN = re.compile(
    r"n't"                      # the negation of a contraction: do|n't, ca|n't
    r"|'(?:s|m|re|ll|ve|d)\b"   # the other contractions: it|'s, i|'m, we|'re, ...
    r"|\w+(?=n't)"              # the word before n't
    r"|\d+(?:[.,]\d+)*"         # numbers, with decimal or thousands separators
    r"|\w+"                     # words
    r"|[^\w\s]",                # any other character is punctuation, one token each
)


def split_sentences(text: str) -> list[str]:
    """Split at ., ! or ? followed by white space, and at blank lines and list items."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def tokenize(sentence: str) -> list[str]:
    """Lowercased words, numbers and punctuation, with contractions split (``don't`` → ``do``, ``n't``)."""
    return _TOKEN.findall(sentence.lower().replace("’", "'"))


def iter_sentences(texts: Iterable[str]) -> Iterator[list[str]]:
    """Tokenized sentences wrapped in SENTENCE_START … SENTENCE_END, one at a time; those of 3 tokens or
    fewer dropped."""
    for text in texts:
        for sentence in split_sentences(text):
            tokens = tokenize(sentence)
            if len(tokens) >= MIN_SENTENCE_TOKENS:
                yield [SENTENCE_START, *tokens, SENTENCE_END]


def text_to_sentences(texts: Iterable[str]) -> list[list[str]]:
    """All of ``iter_sentences(texts)``."""
    return list(iter_sentences(texts))


class Vocabulary:
    """The ``size - 1`` most common words plus UNKNOWN_TOKEN; ids both ways."""

    def __init__(self, words: Sequence[str]):
        if len(set(words)) != len(words):
            raise ValueError("Vocabulary: words must be unique")
        self.index_to_word = list(words)
        self.word_to_index = {w: i for i, w in enumerate(self.index_to_word)}
        for required in (UNKNOWN_TOKEN, SENTENCE_START, SENTENCE_END):
            if required not in self.word_to_index:
                raise ValueError(f"Vocabulary: {required} is missing")

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], size: int) -> Vocabulary:
        """Most common first; ties broken by first appearance, so the result is deterministic."""
        return cls.from_counts(Counter(w for s in sentences for w in s), size)

    @classmethod
    def from_counts(cls, counts: Counter, size: int) -> Vocabulary:
        """The vocabulary of word counts (a Counter filled in reading order, which breaks ties)."""
        if size < 4:
            raise ValueError(f"vocabulary size must be at least 4 (the markers, UNKNOWN_TOKEN and a word), got {size}")
        counts = Counter(counts)
        counts.pop(UNKNOWN_TOKEN, None)
        ranked = [w for w, _ in counts.most_common()]  # Counter keeps first-seen order for ties
        markers = {SENTENCE_START, SENTENCE_END}
        keep = markers | set([w for w in ranked if w not in markers][: size - 3])
        common = [w for w in ranked if w in keep] + [m for m in (SENTENCE_START, SENTENCE_END) if m not in counts]
        return cls(common + [UNKNOWN_TOKEN])

    def __len__(self) -> int:
        return len(self.index_to_word)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        unknown = self.word_to_index[UNKNOWN_TOKEN]
        return np.array([self.word_to_index.get(w, unknown) for w in tokens], dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.index_to_word[int(i)] for i in ids]

    def to_json(self) -> str:
        return json.dumps({"index_to_word": self.index_to_word}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("index_to_word"), list):
            raise ValueError("Vocabulary: JSON must be an object with an 'index_to_word' list")
        return cls([str(w) for w in data["index_to_word"]])


def read_csv_texts(path: str | Path, column: str = "body") -> list[str]:
    """Every non-empty cell of ``column`` after the header, as the tutorial's CSV of comments holds them."""
    return list(iter_csv_texts(path, column))


_MAX_FIELD = 2**31 - 1  # cells of any size (Python's csv refuses those over 128 KiB by default)


class _HashingReader(io.RawIOBase):
    """A binary file that hashes and counts what is read through it."""

    def __init__(self, f):
        self.f, self.sha, self.count = f, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.f.readinto(buffer)
        if n:
            self.sha.update(memoryview(buffer)[:n])
            self.count += n
        return n


def iter_csv_texts(path: str | Path, column: str = "body", progress: bool | None = False,
                   reader_out: list | None = None) -> Iterator[str]:
    """The cells of ``column`` (found by name in the header), HTML entities decoded, one row at a time.

    Streamed: memory does not grow with the file. ``reader_out`` receives the reader that hashes and
    counts the bytes read (its ``sha`` and ``count``).
    """
    path = Path(path)
    if path.exists() and not path.is_file() and not path.is_dir():
        raise DataError(f"{path}: not a regular file (a pipe or a device); give a CSV file")
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed in finally, when the generator is done
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a CSV file") from None
    except PermissionError:
        raise DataError(f"{path}: permission denied") from None
    hashing = _HashingReader(raw)
    if reader_out is not None:
        reader_out.append(hashing)
    text = io.TextIOWrapper(io.BufferedReader(hashing), encoding="utf-8-sig", newline="")
    bar = tqdm(total=os.fstat(raw.fileno()).st_size, unit="B", unit_scale=True, leave=False,
               desc=f"reading {path.name}", disable=(not progress) if progress is not None else None)
    old_limit = csv.field_size_limit(_MAX_FIELD)
    try:
        yield from _cells(csv.reader(text), path, column, hashing, bar)
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (a bad byte {e.object[e.start:e.start + 1]!r} "
                        f"within the first {hashing.count:,} bytes)") from None
    except csv.Error as e:
        raise DataError(f"{path}: malformed CSV: {e}") from None
    finally:
        csv.field_size_limit(old_limit)
        bar.close()
        raw.close()


def _cells(rows, path: Path, column: str, hashing: _HashingReader, bar) -> Iterator[str]:
    header = next(rows, None)
    if header is None:
        raise DataError(f"{path}: the file is empty")
    if column not in header:
        found = ", ".join(repr(h) for h in header) or "none"
        raise DataError(f"{path}: no column {column!r} in the header (columns: {found}); "
                        "name the text column with --column")
    at = header.index(column)
    any_row = False
    for row in rows:
        any_row = True
        bar.update(hashing.count - bar.n)
        if len(row) > at and row[at].strip():
            if "\x00" in row[at]:
                raise DataError(f"{path}: malformed CSV: it contains NUL bytes, so it is not text")
            yield html.unescape(row[at])
    if not any_row:
        raise DataError(f"{path}: no rows after the header")


# Modules whose docstrings make the built-in corpus: pure Python, present in every CPython.
_CORPUS_MODULES = (
    "argparse", "ast", "base64", "bisect", "calendar", "cmd", "codecs", "collections", "configparser",
    "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "difflib", "doctest", "email",
    "enum", "fileinput", "fnmatch", "fractions", "ftplib", "functools", "getopt", "gettext", "glob",
    "gzip", "heapq", "hmac", "html", "http.client", "imaplib", "inspect", "ipaddress", "json",
    "locale", "logging", "mailbox", "numbers", "operator", "optparse", "os", "pathlib", "pdb",
    "pickle", "pprint", "queue", "random", "re", "sched", "secrets", "selectors", "shlex", "shutil",
    "smtplib", "socket", "statistics", "string", "subprocess", "tarfile", "tempfile", "textwrap",
    "threading", "timeit", "tokenize", "trace", "traceback", "typing", "unittest", "urllib.parse",
    "uuid", "warnings", "wave", "weakref", "zipfile",
)


def builtin_texts() -> list[str]:
    """Real English with no download: docstrings of standard-library modules, their classes and functions.

    Deterministic for a given Python version (modules and members in sorted order).
    """
    texts = []
    with warnings.catch_warnings():  # some modules warn when a deprecated member is touched
        warnings.simplefilter("ignore")
        for name in _CORPUS_MODULES:
            texts.extend(_module_docs(name))
    return texts


def _module_docs(name: str) -> list[str]:
    """The prose of a module's docstring and of its own classes' and functions' docstrings."""
    try:
        module = importlib.import_module(name)
    except ImportError:  # a stripped-down Python may lack one; the rest still makes a corpus
        return []
    docs = [inspect.getdoc(module)]
    for attr in sorted(vars(module)):
        member = vars(module)[attr]
        if (inspect.isclass(member) or inspect.isfunction(member)) and member.__module__ == module.__name__:
            docs.append(inspect.getdoc(member))
    return [_prose(d) for d in docs if d]


def _prose(doc: str) -> str:
    """Keep paragraphs of prose: drop code examples, signatures and indented blocks."""
    keep = []
    for para in doc.split("\n\n"):
        lines = para.splitlines()
        if not lines or any(ln.startswith((">>>", "...", " ", "\t")) for ln in lines):
            continue
        keep.append(" ".join(ln.strip() for ln in lines))
    return "\n\n".join(keep)


def load_corpus(path: str | Path | None, column: str = "body") -> list[list[str]]:
    """Tokenized sentences from a CSV in the tutorial's format, or from the built-in corpus when path is None."""
    texts = builtin_texts() if path is None else read_csv_texts(path, column)
    sentences = text_to_sentences(texts)
    if not sentences:
        where = "the built-in corpus" if path is None else str(path)
        raise DataError(f"{where}: no usable sentences (each needs more than 3 tokens)")
    return sentences


def encode_sentences(sentences: Sequence[Sequence[str]], vocab: Vocabulary) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each sentence as (x, y): x its ids without the last, y the ids shifted by one (the next words)."""
    out = []
    for s in sentences:
        ids = vocab.encode(s)
        out.append((ids[:-1], ids[1:]))
    return out


def pad_batch(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Right-pad (x, y) pairs to the longest: x (B, T), y (B, T), mask (B, T) True on real tokens."""
    steps = max(len(x) for x, _ in pairs)
    xs = np.zeros((len(pairs), steps), np.int64)
    ys = np.zeros((len(pairs), steps), np.int64)
    mask = np.zeros((len(pairs), steps), bool)
    for i, (x, y) in enumerate(pairs):
        xs[i, : len(x)], ys[i, : len(y)], mask[i, : len(x)] = x, y, True
    return xs, ys, mask
