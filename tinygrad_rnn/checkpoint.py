"""Checkpoints on disk: generations of float arrays in .npz and metadata in JSON, each published by one
atomic rename, read without pickle.

A directory holds, for the latest generation ``g``, ``model.g.npz`` and ``optimizer.g.npz`` and
``checkpoint.json``, which names them with their SHA-256; and the previous generation's files with
``checkpoint.previous.json``. A save writes the new arrays under new names, keeps the current
manifest as the previous one, then renames the new ``checkpoint.json`` into place: that rename
publishes the whole generation at once, and only then are files of older generations removed. A
crash or a full disk at any point leaves a manifest whose files are complete. A reader that finds
the latest generation damaged (a file missing or not matching its hash) falls back to the
previous one and says so. Files get the user's umask; stale temporary files are cleaned up.

The file operations go through ``_write``, ``_rename`` and ``_remove``, so tests can inject a crash
or an error at each of them.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

META_FILE = "checkpoint.json"
PREVIOUS_FILE = "checkpoint.previous.json"
LEGACY_FILES = {"model": "model.npz", "optimizer": "optimizer.npz"}  # format 1: one generation, fixed names
FORMAT_VERSION = 2
_GENERATION = re.compile(r"^(?:model|optimizer)\.(\d+)\.npz$")


class CheckpointError(ValueError):
    """A checkpoint is missing, truncated, corrupted or of another model; the message names the file."""


# --- the file operations (seams for fault injection) ------------------------------------
def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _rename(src: Path, dst: Path) -> None:
    os.replace(src, dst)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes) -> None:
    """Write bytes to ``path`` through a temporary file in the same directory and an atomic rename.

    A symbolic link is written through (its target is replaced); anything at ``path`` that is not a
    regular file — a device, a pipe, a directory — is refused, never replaced. The file gets the
    permissions the user's umask gives a new file. On any failure the temporary file is removed and
    the old ``path``, if any, is untouched; the error names ``path``.
    """
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    if path.exists() and not path.is_file():
        raise IsADirectoryError(errno.EISDIR, "exists and is not a regular file; refusing to replace it", str(path)) \
            if path.is_dir() else OSError(errno.EEXIST, "exists and is not a regular file; refusing to replace it",
                                          str(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path.parent}/: no such directory") from None
    except OSError as e:
        raise type(e)(e.errno, e.strerror or str(e), str(path)) from None
    os.close(fd)
    tmp = Path(tmp)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        _write(tmp, data)
        _rename(tmp, path)
    except OSError as e:  # a full disk, a file too large: named by the file the user knows
        tmp.unlink(missing_ok=True)
        raise type(e)(e.errno, e.strerror or str(e), str(path)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
        if path.exists() and not path.is_file():
            raise CheckpointError(f"{path}: not a regular file")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing") from None
    except OSError as e:
        raise CheckpointError(f"{path}: unreadable ({e.strerror})") from None
    if expected_sha256 is not None and hashlib.sha256(raw).hexdigest() != expected_sha256:
        raise CheckpointError(f"{path}: does not match its manifest (truncated or corrupted)")
    if not raw.startswith(b"PK"):  # an .npz is a zip archive; a .npy, a pickle or text is not
        raise CheckpointError(f"{path}: unreadable ({'empty' if not raw else 'not an .npz archive'})")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except ValueError as e:
        why = "holds pickled objects, which are never loaded" if "pickle" in str(e) else str(e)
        raise CheckpointError(f"{path}: unreadable ({why})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"{path}: unreadable ({e})") from None


@dataclass
class Loaded:
    """A checkpoint read back: metadata, arrays, which generation, and what was skipped to get it."""

    meta: dict
    model: dict[str, np.ndarray]
    optimizer: dict[str, np.ndarray]
    generation: int
    files: dict[str, Path] = field(default_factory=dict)  # where the model and optimizer arrays were read
    warnings: list[str] = field(default_factory=list)


def save(directory: Path, model_arrays: dict, optimizer_arrays: dict, meta: dict,
         extra_files: dict[str, bytes] | None = None) -> int:
    """Publish a new generation in ``directory`` (created if needed); returns its number.

    ``extra_files`` (name → bytes, e.g. ``losses.csv``) are written after the publication.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(directory)
    generation = max(_generations_on_disk(directory), default=0) + 1
    model_raw, optim_raw = npz_bytes(model_arrays), npz_bytes(optimizer_arrays)
    files = {"model": f"model.{generation}.npz", "optimizer": f"optimizer.{generation}.npz"}
    meta = dict(meta, format=FORMAT_VERSION, generation=generation, files=files,
                sha256={"model": hashlib.sha256(model_raw).hexdigest(),
                        "optimizer": hashlib.sha256(optim_raw).hexdigest()})
    atomic_write(directory / files["model"], model_raw)
    atomic_write(directory / files["optimizer"], optim_raw)
    current = _intact_manifest(directory / META_FILE)
    if current is not None:  # the generation being replaced stays, as the fallback
        atomic_write(directory / PREVIOUS_FILE, current)
    atomic_write(directory / META_FILE, json.dumps(meta, indent=1, ensure_ascii=False).encode("utf-8"))
    for name, data in (extra_files or {}).items():
        atomic_write(directory / name, data)
    _remove_unreferenced(directory)
    return generation


def exists(directory: Path) -> bool:
    """Whether ``directory`` holds a checkpoint (of any generation, intact or not)."""
    directory = Path(directory)
    return (directory / META_FILE).exists() or (directory / PREVIOUS_FILE).exists()


def load(directory: Path) -> Loaded:
    """The newest intact generation of a checkpoint directory, every file verified against its hash."""
    directory = Path(directory)
    if not directory.exists():
        raise CheckpointError(f"{directory}: no such directory")
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: not a directory")
    problems = []
    for name in (META_FILE, PREVIOUS_FILE):
        path = directory / name
        if not path.exists():
            continue
        try:
            meta, model, optimizer = _read_generation(directory, path)
        except CheckpointError as e:
            problems.append(str(e))
            continue
        files = {k: directory / name for k, name in _files_of(meta, path)[0].items()}
        return Loaded(meta, model, optimizer, _generation_of(meta) or 0, files,
                      [f"{p}; using the previous generation" for p in problems])
    if problems:
        raise CheckpointError(problems[0])
    raise CheckpointError(f"{directory}: not a checkpoint directory ({META_FILE} not found)")


_OWN_TEMPORARY = re.compile(r"^\.(?:(?:model|optimizer)\.\d+\.npz|checkpoint\.json|checkpoint\.previous\.json"
                            r"|losses\.csv|tokens\.npz)\..+\.tmp$")


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Delete temporary files a crashed save left (``.<one of our files>.*.tmp``, nothing else)."""
    stale = [p for p in Path(directory).iterdir() if _OWN_TEMPORARY.match(p.name) and p.is_file()]
    for p in stale:
        _remove_quietly(p)
    return stale


def _remove_quietly(path: Path) -> None:
    """Cleaning up is best effort: a file that cannot be removed now is removed by a later save."""
    try:
        _remove(path)
    except OSError:
        pass


def _read_generation(directory: Path, manifest: Path) -> tuple[dict, dict, dict]:
    meta = _read_manifest(manifest)
    if not isinstance(meta, dict) or meta.get("format") not in (1, FORMAT_VERSION):
        raise CheckpointError(f"{manifest}: not a checkpoint manifest of format 1 or {FORMAT_VERSION}")
    if meta["format"] != 1 and _generation_of(meta) is None:
        raise CheckpointError(f"{manifest}: 'generation' must be an integer >= 1")
    files, hashes = _files_of(meta, manifest)
    model = read_npz(directory / files["model"], hashes["model"])
    optimizer = read_npz(directory / files["optimizer"], hashes["optimizer"])
    return meta, model, optimizer


def _read_manifest(manifest: Path):
    """A manifest's JSON; only a regular file is read (a pipe would block, a device would be wrong)."""
    if not manifest.is_file():
        raise CheckpointError(f"{manifest}: not a regular file")
    try:
        return json.loads(manifest.read_text("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:  # ValueError: bad JSON, or an integer of thousands of digits
        raise CheckpointError(f"{manifest}: corrupted ({str(e)[:100]})") from None
    except OSError as e:
        raise CheckpointError(f"{manifest}: unreadable ({e.strerror})") from None


_MAX_GENERATION = 10**9


def _generation_of(meta) -> int | None:
    """A manifest's generation number, if it is a sane one."""
    g = meta.get("generation", 0) if isinstance(meta, dict) else None
    return g if isinstance(g, int) and not isinstance(g, bool) and 0 <= g < _MAX_GENERATION else None


def _files_of(meta: dict, manifest: Path) -> tuple[dict, dict]:
    """The file names and hashes a manifest records (format 1 had fixed names and flat hash keys)."""
    if meta["format"] == 1:
        return LEGACY_FILES, {"model": meta.get("model_sha256"), "optimizer": meta.get("optimizer_sha256")}
    files, hashes = meta.get("files"), meta.get("sha256")
    ok = all(isinstance(d, dict) and all(isinstance(d.get(k), str) for k in ("model", "optimizer"))
             for d in (files, hashes))
    if not ok or any("/" in f or "\\" in f or f.startswith(".") for f in files.values()):
        raise CheckpointError(f"{manifest}: 'files' and 'sha256' must name the model and optimizer files")
    return files, hashes


def _intact_manifest(path: Path) -> bytes | None:
    """A manifest's bytes if it and the files it names are intact, else None."""
    try:
        _read_generation(path.parent, path)
        return path.read_bytes()
    except (OSError, CheckpointError, KeyError):
        return None


def _generations_on_disk(directory: Path) -> list[int]:
    found = []
    for p in directory.iterdir():
        m = _GENERATION.match(p.name)
        if m:
            found.append(int(m.group(1)))
    for name in (META_FILE, PREVIOUS_FILE):  # a manifest may name a generation whose files are gone
        try:
            g = _generation_of(_read_manifest(directory / name))
        except CheckpointError:
            continue
        if g is not None:
            found.append(g)
    return [g for g in found if g < _MAX_GENERATION]


def _remove_unreferenced(directory: Path) -> None:
    """Delete array files that neither manifest names (older generations, orphans of a crash)."""
    keep = set()
    for name in (META_FILE, PREVIOUS_FILE):
        try:
            meta = _read_manifest(directory / name)
            keep.update(_files_of(meta, directory / name)[0].values())
        except (KeyError, TypeError, AttributeError, CheckpointError):
            continue
    for p in directory.iterdir():
        if (_GENERATION.match(p.name) or p.name in LEGACY_FILES.values()) and p.name not in keep:
            _remove_quietly(p)
