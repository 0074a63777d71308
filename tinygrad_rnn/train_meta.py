"""The metadata of a training checkpoint, checked as a whole against one schema before anything is used.

A ``checkpoint.json`` edited by hand (a string for a number, a missing key, an epoch past the
run's end, a broken RNG state) is refused with one line naming the file and the field, instead of
failing somewhere later with a traceback.
"""

from __future__ import annotations

import copy
import math
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from .checkpoint import CheckpointError

_MARKERS = ("SENTENCE_START", "SENTENCE_END", "UNKNOWN_TOKEN")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "rmsprop")
CELLS = ("rnn", "gru", "lstm")


_BIG = 2**62  # any count or seed a run can have fits in an int64, with room


def _is_int(v) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool) and -_BIG < v < _BIG


def _is_real(v) -> bool:
    if not isinstance(v, Real) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:  # an integer too large for a float
        return False


def _is_text(v) -> bool:
    """A string that can be written back as UTF-8 (no lone surrogates)."""
    if not isinstance(v, str):
        return False
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# One entry per TrainConfig field: the JSON value's check and what the message calls it.
CONFIG_SCHEMA = {
    "data": (lambda v: v is None or (_is_text(v) and v != ""), "null or a path"),
    "column": (lambda v: _is_text(v) and v != "", "a column name"),
    "vocab_size": (lambda v: _is_int(v) and v >= 4, "an integer >= 4"),
    "vocab_sentences": (lambda v: v is None or v == "all" or (_is_int(v) and v >= 1), "null, 'all' or an integer >= 1"),
    "hidden": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "epochs": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "lr": (lambda v: _is_real(v) and v > 0, "a positive number"),
    "batch_size": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "bptt_truncate": (lambda v: v is None or (_is_int(v) and v >= 0), "null or an integer >= 0"),
    "optimizer": (lambda v: v in OPTIMIZERS, "one of " + ", ".join(map(repr, OPTIMIZERS))),
    "clip": (lambda v: v is None or (_is_real(v) and v > 0), "null or a positive number"),
    "dtype": (lambda v: v in ("float32", "float64"), "'float32' or 'float64'"),
    "seed": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "max_sentences": (lambda v: v is None or (_is_int(v) and v >= 1), "null or an integer >= 1"),
    "evaluate_every": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "shuffle": (lambda v: isinstance(v, bool), "true or false"),
    "cell": (lambda v: v in CELLS, "one of " + ", ".join(map(repr, CELLS))),
    "layers": (lambda v: _is_int(v) and 1 <= v <= 64, "an integer from 1 to 64"),
    "dropout": (lambda v: _is_real(v) and 0 <= v < 1, "a number in [0, 1)"),
}
OPTIONAL_CONFIG = {"column": "body", "vocab_sentences": "all"}  # absent from format 1: its behaviour then
ADDED_CONFIG = {"cell": "rnn", "layers": 1, "dropout": 0.0}  # absent from runs older than these options
# Absent from runs older than the gradient norms: no epoch recorded, nothing counted of the one in progress.
ADDED_META = {"grad_history": [],
              "grad_running": {"steps": 0, "grad_norm_sum": 0.0, "grad_norm_max": 0.0, "param_norm_sums": {}}}


def with_added_fields(meta: dict) -> dict:
    """``meta`` with the fields a run of an older version did not write, at their defaults."""
    return {**copy.deepcopy(ADDED_META), **meta}


def config_clash(config: dict) -> str | None:
    """Options valid alone that do not go together: what is wrong, in one line, or None."""
    if config["dropout"] and config["layers"] < 2:
        return (f"--dropout {config['dropout']:g} needs --layers 2 or more: dropout acts between recurrent "
                "layers, and with one layer it would do nothing")
    return None


def check(meta: dict, manifest: Path) -> dict:
    """The checkpoint's config as a dict of valid values; raises CheckpointError naming the bad field."""
    def bad(field: str, rule: str, value=...) -> CheckpointError:
        got = "" if value is ... else f", got {value!r}"[:120]
        return CheckpointError(f"{manifest}: {field} must be {rule}{got}")

    meta = with_added_fields(meta)
    config = meta.get("config")
    if not isinstance(config, dict):
        raise bad("'config'", "an object")
    if meta.get("format") == 1:
        config = {**OPTIONAL_CONFIG, **config}
    config = {**ADDED_CONFIG, **config}
    unknown = sorted(set(config) - set(CONFIG_SCHEMA))
    if unknown:
        raise CheckpointError(f"{manifest}: unknown config field {unknown[0]!r}")
    for name, (ok, rule) in CONFIG_SCHEMA.items():
        if name not in config:
            raise bad(f"config.{name}", f"present ({rule})")
        if not ok(config[name]):
            raise bad(f"config.{name}", rule, config[name])
    clash = config_clash(config)
    if clash:
        raise CheckpointError(f"{manifest}: {clash.replace('--', 'config.')}")
    vocab = meta.get("vocabulary")
    if not (isinstance(vocab, list) and all(_is_text(w) for w in vocab) and len(set(vocab)) == len(vocab)
            and all(m in vocab for m in _MARKERS) and 4 <= len(vocab) <= config["vocab_size"]):
        raise bad("'vocabulary'", f"a list of unique words holding {', '.join(_MARKERS)}, "
                  f"at most config.vocab_size ({config['vocab_size']}) long")
    for name, ok, rule in (
        ("epoch", lambda v: _is_int(v) and 0 <= v <= config["epochs"], f"an integer in [0, {config['epochs']}]"),
        ("position", lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
        ("evaluated_epoch", lambda v: _is_int(v) and -1 <= v <= config["epochs"], "an integer >= -1"),
        ("sentences_seen", lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
        ("lr", lambda v: _is_real(v) and v > 0, "a positive number"),
    ):
        if not ok(meta.get(name)):
            raise bad(f"'{name}'", rule, meta.get(name))
    _check_history(meta.get("loss_history"), bad)
    _check_grad_history(meta["grad_history"], meta["epoch"], bad)
    _check_grad_running(meta["grad_running"], meta["position"], bad)
    _check_rng_state(meta.get("epoch_rng_state"), bad)
    if config["dropout"]:  # without it a resumed run would drop other units than one never stopped
        if "dropout_rng_state" not in meta:
            raise bad("'dropout_rng_state'", "present when config.dropout is not 0 (a PCG64 state)")
        _check_rng_state(meta["dropout_rng_state"], bad, "'dropout_rng_state'")
    if meta.get("format") != 1:
        _check_data(meta.get("data"), bad)
    return config


def _check_history(history, bad) -> None:
    fields = {"epoch": _is_int, "sentences_seen": _is_int, "loss": _is_real, "lr": _is_real}
    if not isinstance(history, list) or not all(
            isinstance(h, dict) and set(h) == set(fields) and all(ok(h[k]) for k, ok in fields.items())
            for h in history):
        raise bad("'loss_history'", "a list of {epoch, sentences_seen, loss, lr} with finite numbers")


def _is_norm(v) -> bool:
    return _is_real(v) and v >= 0


def _are_norms(v) -> bool:
    """A parameter name → norm mapping."""
    return isinstance(v, dict) and all(_is_text(k) and _is_norm(n) for k, n in v.items())


def _check_grad_history(history, epoch: int, bad) -> None:
    fields = {"epoch": lambda v: _is_int(v) and 1 <= v <= epoch, "sentences_seen": lambda v: _is_int(v) and v >= 0,
              "lr": lambda v: _is_real(v) and v > 0, "steps": lambda v: _is_int(v) and v >= 1,
              "grad_norm": _is_norm, "grad_norm_max": _is_norm, "params": _are_norms}
    ok = isinstance(history, list) and all(
        isinstance(h, dict) and set(h) == set(fields) and all(check(h[k]) for k, check in fields.items())
        for h in history)
    if not ok or any(a["epoch"] >= b["epoch"] for a, b in zip(history, history[1:])):
        raise bad("'grad_history'", "a list of {epoch, sentences_seen, lr, steps, grad_norm, grad_norm_max, "
                  "params}, one per epoch trained (up to 'epoch'), in order, with finite norms >= 0")


def _check_grad_running(running, position: int, bad) -> None:
    fields = {"steps": lambda v: _is_int(v) and 0 <= v <= position, "grad_norm_sum": _is_norm,
              "grad_norm_max": _is_norm, "param_norm_sums": _are_norms}
    if not (isinstance(running, dict) and set(running) == set(fields)
            and all(check(running[k]) for k, check in fields.items())):
        raise bad("'grad_running'", "{steps, grad_norm_sum, grad_norm_max, param_norm_sums} with steps "
                  "at most 'position' and finite norms >= 0")


def _check_rng_state(state, bad, field: str = "'epoch_rng_state'") -> None:
    try:
        if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
            raise ValueError
        inner = state.get("state")
        if not (isinstance(inner, dict) and all(_in_range(inner.get(k), 2**128) for k in ("state", "inc"))
                and all(_in_range(state.get(k), 2**32) for k in ("has_uint32", "uinteger"))):
            raise ValueError
        np.random.default_rng().bit_generator.state = state
    except (ValueError, TypeError, KeyError, OverflowError):
        raise bad(field, "a PCG64 state as numpy writes it") from None


def _in_range(v, end: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < end


def _check_data(data, bad) -> None:
    ok = (isinstance(data, dict) and _is_text(data.get("source")) and _is_text(data.get("sha256"))
          and _is_int(data.get("bytes")) and data["bytes"] >= 0 and isinstance(data.get("complete"), bool)
          and (data.get("tokens_sha256") is None or _is_text(data.get("tokens_sha256"))))
    if not ok:
        raise bad("'data'", "{source, sha256, bytes, complete, tokens_sha256} as a run writes them")
