"""Checkpoints on disk: float arrays in .npz, metadata in JSON, written atomically, read without pickle.

A checkpoint directory holds ``model.npz`` (one float array per parameter), ``optimizer.npz``
(the optimizer's arrays, possibly none) and ``checkpoint.json`` (configuration, vocabulary,
progress, learning rate, loss history, RNG state, and the SHA-256 of both .npz files). Every
file is written to a temporary name in the same directory and renamed over the old one, and the
JSON goes last: a reader sees the old checkpoint or the new one, and a file that does not match
its recorded hash is reported as corrupted instead of being loaded.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

MODEL_FILE = "model.npz"
OPTIMIZER_FILE = "optimizer.npz"
META_FILE = "checkpoint.json"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint is missing, truncated, corrupted or of another model; the message names the file."""


def atomic_write(path: Path, data: bytes) -> None:
    """Write bytes to ``path`` through a temporary file in the same directory and an atomic rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An uncompressed .npz of numeric arrays; object arrays are refused."""
    for name, a in arrays.items():
        if np.asarray(a).dtype.hasobject:
            raise CheckpointError(f"refusing to save {name!r}: object arrays would need pickle")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def read_npz(path: Path, expected_sha256: str | None = None) -> dict[str, np.ndarray]:
    """Arrays of an .npz, loaded with ``allow_pickle=False``, checked against the recorded hash."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing") from None
    if expected_sha256 is not None and hashlib.sha256(raw).hexdigest() != expected_sha256:
        raise CheckpointError(f"{path}: does not match {META_FILE} (truncated or corrupted)")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"{path}: unreadable ({e})") from None


def save(directory: Path, model_arrays: dict, optimizer_arrays: dict, meta: dict) -> None:
    """Write a complete checkpoint into ``directory`` (created if needed)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model_raw, optim_raw = npz_bytes(model_arrays), npz_bytes(optimizer_arrays)
    meta = dict(meta, format=FORMAT_VERSION,
                model_sha256=hashlib.sha256(model_raw).hexdigest(),
                optimizer_sha256=hashlib.sha256(optim_raw).hexdigest())
    text = json.dumps(meta, indent=1, ensure_ascii=False)
    atomic_write(directory / MODEL_FILE, model_raw)
    atomic_write(directory / OPTIMIZER_FILE, optim_raw)
    atomic_write(directory / META_FILE, text.encode("utf-8"))


def exists(directory: Path) -> bool:
    return (Path(directory) / META_FILE).exists()


def load(directory: Path) -> tuple[dict, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(metadata, model arrays, optimizer arrays) of a checkpoint directory, every file verified."""
    directory = Path(directory)
    if not directory.exists():
        raise CheckpointError(f"{directory}: no such directory")
    meta_path = directory / META_FILE
    try:
        meta = json.loads(meta_path.read_text("utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{directory}: not a checkpoint directory ({META_FILE} not found)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{meta_path}: corrupted ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{meta_path}: not a checkpoint of format {FORMAT_VERSION}")
    model = read_npz(directory / MODEL_FILE, meta.get("model_sha256"))
    optimizer = read_npz(directory / OPTIMIZER_FILE, meta.get("optimizer_sha256"))
    return meta, model, optimizer
