"""Sampling sentences from a trained RNNLM, as the tutorial's follow-up did."""

from __future__ import annotations

import numpy as np

from .data import SENTENCE_END, SENTENCE_START, UNKNOWN_TOKEN, Vocabulary
from .models import RNNLM

_ATTACH = {".", ",", "!", "?", ":", ";", ")", "%", "n't", "'s", "'m", "'re", "'ll", "'ve", "'d"}


def sample_sentence(model: RNNLM, vocab: Vocabulary, rng: np.random.Generator, temperature: float = 1.0,
                    max_length: int = 50) -> list[str]:
    """Words sampled one at a time from SENTENCE_START until SENTENCE_END (or ``max_length`` words).

    UNKNOWN_TOKEN and SENTENCE_START are never emitted: their probability is set to zero and the
    rest renormalised, which is what resampling until another word comes up amounts to.
    """
    banned = [vocab.word_to_index[UNKNOWN_TOKEN], vocab.word_to_index[SENTENCE_START]]
    end = vocab.word_to_index[SENTENCE_END]
    ids, h = [vocab.word_to_index[SENTENCE_START]], None
    while len(ids) - 1 < max_length:
        logits, h = model.step(np.array(ids[-1:]), h)
        scores = logits[0].astype(np.float64)
        scores[banned] = -np.inf
        with np.errstate(over="ignore", invalid="ignore"):
            z = scores / temperature
        if np.isfinite(z.max()):
            p = np.exp(z - z.max())
            word = int(rng.choice(len(p), p=p / p.sum()))
        else:  # a temperature so small the scores overflow: its limit, the most likely word
            word = int(np.argmax(scores))
        if word == end:
            break
        ids.append(word)
    return vocab.decode(ids[1:])


def generate(model: RNNLM, vocab: Vocabulary, n: int, temperature: float = 1.0, seed: int | None = None,
             min_length: int = 1, max_length: int = 50, max_tries: int = 1000) -> list[list[str]]:
    """``n`` sentences; one shorter than ``min_length`` words is drawn again, one longer is cut."""
    if not (temperature > 0 and np.isfinite(temperature)):
        raise ValueError(f"temperature must be a positive finite number, got {temperature}")
    if n < 0 or min_length < 1 or max_length < 1:
        raise ValueError(f"n must be >= 0 and the lengths >= 1, got n={n}, min_length={min_length}, "
                         f"max_length={max_length}")
    if min_length > max_length:
        raise ValueError(f"min_length {min_length} is greater than max_length {max_length}")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        for _ in range(max_tries):
            words = sample_sentence(model, vocab, rng, temperature, max_length)
            if len(words) >= min_length:
                break
        else:
            raise ValueError(f"no sentence of at least {min_length} words in {max_tries} tries; lower --min-length")
        out.append(words)
    return out


def detokenize(words: list[str]) -> str:
    """Join tokens into readable text: no space before punctuation and contraction suffixes."""
    text = ""
    for w in words:
        text += w if (not text or w in _ATTACH or text.endswith(("(", "$"))) else " " + w
    return text
