"""A training run's output directory: checked before any work, and held by one writer at a time."""

from __future__ import annotations

import errno
import os
import tempfile
import time
from pathlib import Path

LOCK_FILE = ".lock"


class RunDirError(OSError):
    """The output directory cannot be used (not creatable, not writable, held by another run)."""


def prepare(path: str | Path) -> tuple[Path, bool]:
    """Create ``path`` if needed and prove it writable, before data are read or a model is built.

    Returns the path and whether this call created it (then a run that fails before its first
    checkpoint may remove it again).
    """
    if str(path).strip() == "":
        raise RunDirError("--out: an empty path; name a directory")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{path}: exists and is not a directory")
    created = False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir()
            created = True
        except FileExistsError:
            if not path.is_dir():
                raise RunDirError(f"{path}: exists and is not a directory") from None
        fd, probe = tempfile.mkstemp(prefix=".write-test.", suffix=".tmp", dir=path)
        os.close(fd)
        os.unlink(probe)
    except RunDirError:
        raise
    except OSError as e:
        raise RunDirError(f"{path}: cannot write there ({_reason(e)})") from None
    return path, created


def new_directory(base: str | Path) -> Path:
    """A directory that did not exist, named ``base`` or ``base-2``, ``base-3``, …: runs started in the
    same second get their own."""
    base = Path(base)
    base.parent.mkdir(parents=True, exist_ok=True)
    for k in range(1, 10_000):
        candidate = base if k == 1 else base.with_name(f"{base.name}-{k}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RunDirError(f"{base}: too many runs of that name")


def foreign_entries(path: Path) -> list[str]:
    """What a directory holds besides a run's lock: a new run refuses to write among other files."""
    return sorted(p.name for p in Path(path).iterdir() if p.name != LOCK_FILE)


def _reason(e: OSError) -> str:
    if e.errno == errno.EROFS:
        return "read-only file system"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if e.errno == errno.ENOSPC:
        return "no space left on the device"
    if e.errno == errno.ENOTDIR:
        return "a part of the path is a file"
    return e.strerror or str(e)


class RunLock:
    """An exclusive lock on a run directory for as long as a run uses it (``with RunLock(dir):``).

    The lock is ``fcntl.flock`` on ``DIR/.lock``, so the kernel releases it when the process dies,
    however it dies; the file holds the holder's PID for the message a second process gets. A lock
    file left by a process that is gone is taken over, and ``took_over`` says from whom.
    """

    def __init__(self, directory: str | Path):
        self.path = Path(directory) / LOCK_FILE
        self.fd: int | None = None
        self.took_over: int | None = None

    def __enter__(self) -> RunLock:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"process {holder}" if holder else "another process"
            raise RunDirError(f"{self.path.parent}: in use by {who} (another train or --resume of this "
                              "directory); wait for it to finish or use another --out") from None
        previous = _read_pid(fd)
        if previous and previous != os.getpid() and not _alive(previous):
            self.took_over = previous
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
        self.fd = fd
        return self

    def verify(self) -> None:
        """Raise if ``.lock`` was removed or replaced while this run held it: another process may
        then be writing here too, so the run stops before it writes."""
        try:
            same = os.stat(self.path).st_ino == os.fstat(self.fd).st_ino
        except OSError:
            same = False
        if not same:
            raise RunDirError(f"{self.path}: removed or replaced while this run held it; stopping before writing, "
                              "as another process may be writing here")

    def release(self, remove: bool = False) -> None:
        """Let go; with ``remove``, delete the lock file first (a run that leaves nothing behind)."""
        if self.fd is None:
            return
        import fcntl

        if remove:
            try:
                os.unlink(self.path)
            except OSError:
                pass
        else:
            os.ftruncate(self.fd, 0)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None

    def __exit__(self, *exc) -> bool:
        self.release()
        return False


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").split()
        return int(text[0]) if text else None
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
