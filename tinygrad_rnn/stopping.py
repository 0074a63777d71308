"""Polite stops: Ctrl-C, SIGTERM and SIGHUP ask a run to save and stop; none interrupts a save.

``docker stop``, systemd, Slurm and a closed SSH session send SIGTERM or SIGHUP; a user presses
Ctrl-C. The first such signal sets the request; the run finishes the batch (or abandons the
evaluation) it is in, saves and exits with 128 + the signal's number. A second Ctrl-C aborts at
once — unless a save is being written, in which case the abort waits until the save is complete.
"""

from __future__ import annotations

import contextlib
import signal
import threading

POLITE = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None),
                           getattr(signal, "SIGHUP", None)) if s is not None)


class Stopped(Exception):
    """A polite stop arrived before a run had anything to save (while it was reading its data)."""


class StopRequest:
    """Set by the first polite signal (or by code: ``request()``); read by the training loop."""

    def __init__(self):
        self.event = threading.Event()
        self.signum: int | None = None
        self._saving = False
        self._abort_after_save = False

    def is_set(self) -> bool:
        return self.event.is_set()

    def check(self) -> None:
        """Raise ``Stopped`` if a stop was requested: for work that has nothing to save yet."""
        if self.event.is_set():
            raise Stopped(self.name)

    def request(self, signum: int = signal.SIGINT) -> None:
        if not self.event.is_set():
            self.signum = signum
        self.event.set()

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as shells report a process stopped by it (130 for Ctrl-C)."""
        return 128 + int(self.signum or signal.SIGINT)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum or signal.SIGINT).name

    def _handler(self, signum, frame):
        if self.event.is_set() and signum == signal.SIGINT:  # a second Ctrl-C: abort now
            if self._saving:
                self._abort_after_save = True
                return
            raise KeyboardInterrupt
        self.request(signum)

    @contextlib.contextmanager
    def saving(self):
        """A block during which a second Ctrl-C only marks the abort; it happens when the block ends."""
        self._saving = True
        try:
            yield
        finally:
            self._saving = False
        if self._abort_after_save:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self):
        """Route the polite signals to this request while the block runs (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        # a signal the caller ignores (nohup, a background job) stays ignored
        previous = {s: signal.signal(s, self._handler) for s in POLITE if signal.getsignal(s) is not signal.SIG_IGN}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
