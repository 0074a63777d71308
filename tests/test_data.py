"""Tokenizer, vocabulary, the tutorial's CSV format, the built-in corpus and batching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinygrad_rnn import data
from tinygrad_rnn.data import SENTENCE_END, SENTENCE_START, UNKNOWN_TOKEN, DataError, Vocabulary

from bad_inputs import BAD_CSVS

FIXTURE = Path(__file__).parent / "fixtures" / "comments.csv"


def test_tokenize_splits_contractions_numbers_and_punctuation():
    assert data.tokenize("I can't believe it's 3.5 o'clock, don't you?") == [
        "i", "ca", "n't", "believe", "it", "'s", "3.5", "o", "'", "clock", ",", "do", "n't", "you", "?"]
    assert data.tokenize("We'll see; they've, I'm, you're, he'd.") == [
        "we", "'ll", "see", ";", "they", "'ve", ",", "i", "'m", ",", "you", "'re", ",", "he", "'d", "."]
    assert data.tokenize("1,000 People") == ["1,000", "people"]


def test_split_sentences():
    text = "First one. Second one! Third? Yes\n\nA new paragraph"
    assert data.split_sentences(text) == ["First one.", "Second one!", "Third?", "Yes", "A new paragraph"]


def test_sentences_of_three_tokens_or_fewer_are_dropped():
    sentences = data.text_to_sentences(["Thanks. Ok ok. Yes it is. This one is long enough."])
    assert sentences == [[SENTENCE_START, "yes", "it", "is", ".", SENTENCE_END],
                         [SENTENCE_START, "this", "one", "is", "long", "enough", ".", SENTENCE_END]]


def test_vocabulary_keeps_most_common_and_maps_the_rest_to_unknown():
    sentences = [[SENTENCE_START, "a", "b", "a", SENTENCE_END], [SENTENCE_START, "c", "a", "b", SENTENCE_END]]
    vocab = Vocabulary.build(sentences, 5)
    assert vocab.index_to_word == ["a", SENTENCE_START, "b", SENTENCE_END, UNKNOWN_TOKEN]
    assert len(vocab) == 5
    np.testing.assert_array_equal(vocab.encode(["a", "c", "zzz"]), [0, 4, 4])
    assert vocab.decode([2, 4]) == ["b", UNKNOWN_TOKEN]
    assert Vocabulary.from_json(vocab.to_json()).index_to_word == vocab.index_to_word


def test_vocabulary_always_keeps_the_markers():
    sentences = [[SENTENCE_START, "x", "x", "x", "y", "y", SENTENCE_END]]
    vocab = Vocabulary.build(sentences, 4)
    assert vocab.index_to_word == ["x", SENTENCE_START, SENTENCE_END, UNKNOWN_TOKEN]
    with pytest.raises(ValueError, match="at least 4"):
        Vocabulary.build(sentences, 3)


def test_csv_fixture_with_quoted_multiline_cells():
    texts = data.read_csv_texts(FIXTURE)
    assert len(texts) == 8
    assert texts[3].startswith("This comment spans\nseveral lines") and '"quotes"' in texts[3]
    sentences = data.load_corpus(FIXTURE)
    assert all(s[0] == SENTENCE_START and s[-1] == SENTENCE_END and len(s) > 3 for s in sentences)
    assert all(s[1] != "thanks" for s in sentences)


def test_csv_cut_inside_its_last_cell_still_reads(tmp_path):
    path = tmp_path / "head.csv"
    path.write_text('body\n"A complete comment that is long enough."\n"A comment cut off in the mid', "utf-8")
    assert data.read_csv_texts(path)[-1] == "A comment cut off in the mid"


@pytest.mark.parametrize("content, message", BAD_CSVS)
def test_bad_csv_files_name_the_file_and_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as err:
        data.load_corpus(path)
    assert str(path) in str(err.value)


def test_missing_csv(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        data.read_csv_texts(tmp_path / "nope.csv")


def test_builtin_corpus_is_real_text_and_deterministic():
    a, b = data.load_corpus(None), data.load_corpus(None)
    assert a == b
    assert len(a) > 1000
    vocab = Vocabulary.build(a, 8000)
    assert {"the", "a", "module", "function"} <= set(vocab.index_to_word)


def test_encode_and_pad_batch():
    vocab = Vocabulary.build([[SENTENCE_START, "a", "b", SENTENCE_END]], 10)
    pairs = data.encode_sentences([[SENTENCE_START, "a", "b", SENTENCE_END], [SENTENCE_START, "b", SENTENCE_END]],
                                  vocab)
    np.testing.assert_array_equal(pairs[0][1][:-1], pairs[0][0][1:])  # y is x shifted by one
    x, y, mask = data.pad_batch(pairs)
    assert x.shape == y.shape == mask.shape == (2, 3)
    np.testing.assert_array_equal(mask, [[True, True, True], [True, True, False]])
