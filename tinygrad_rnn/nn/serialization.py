"""Module.save / Module.load: one .npz holding the state dict and a JSON string of metadata.

One file, so weights and metadata cannot be separated; written by one atomic rename, so a crash
leaves the old file or the new one; read with ``allow_pickle=False``. Every failure is a
``CheckpointError`` naming the file and the problem, and nothing is written into the model
unless every name, shape and dtype matches.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..checkpoint import CheckpointError, atomic_write, npz_bytes, read_npz

META_KEY = "__meta__"  # save refuses a parameter of this name
FORMAT = "tinygrad_rnn.module"
VERSION = 1


def save_module(module, path: Path) -> None:
    """Write ``module``'s parameters and metadata to ``path`` (used as given: no suffix is added)."""
    state = module.state_dict()
    if META_KEY in state:
        raise CheckpointError(f"{path}: a parameter is named {META_KEY!r}, which the file format reserves")
    meta = {"format": FORMAT, "version": VERSION, "class": type(module).__name__,
            "parameters": {name: {"shape": list(a.shape), "dtype": a.dtype.str} for name, a in state.items()}}
    arrays = dict(state)
    arrays[META_KEY] = np.array(json.dumps(meta, ensure_ascii=False))  # a unicode array: no pickle needed
    atomic_write(path, npz_bytes(arrays))


def read_module_file(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The metadata and the arrays of a file written by ``save_module``, checked for being one."""
    arrays = read_npz(path)  # missing, truncated, not a zip: CheckpointError naming the file
    raw = arrays.pop(META_KEY, None)
    if raw is None or raw.dtype.kind != "U" or raw.shape != ():
        raise CheckpointError(f"{path}: not a file written by Module.save (no {META_KEY!r} entry)")
    try:
        meta = json.loads(str(raw))
    except ValueError as e:
        raise CheckpointError(f"{path}: corrupted metadata ({str(e)[:100]})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a file written by Module.save (format {meta.get('format')!r})"
                              if isinstance(meta, dict) else f"{path}: corrupted metadata (not an object)")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path}: format version {meta.get('version')!r}, this version reads {VERSION}")
    listed = meta.get("parameters")
    if not isinstance(listed, dict) or set(listed) != set(arrays):
        raise CheckpointError(f"{path}: the metadata and the arrays name different parameters (damaged file)")
    return meta, arrays


def load_module(module, path: Path) -> None:
    """Copy the weights in ``path`` into ``module`` in place, after checking every name, shape and dtype."""
    meta, arrays = read_module_file(path)
    try:
        module.load_state_dict(arrays)
    except (KeyError, ValueError) as e:
        message = e.args[0] if e.args else str(e)
        saved = meta.get("class")
        origin = f"; the file was saved from {saved}" if saved != type(module).__name__ else ""
        raise CheckpointError(f"{path}: does not fit {type(module).__name__}: "
                              f"{message.removeprefix('load_state_dict: ')}{origin}") from None
