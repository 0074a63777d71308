"""A corpus streamed into training data: any cell size, the column by name, early stops, bounded memory,
and a resumed run that checks bytes instead of tokenizing again."""

from __future__ import annotations

import csv
import io
import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from tinygrad_rnn import corpus, data, train
from tinygrad_rnn.data import DataError

FIXTURE = Path(__file__).parent / "fixtures" / "comments.csv"


def write_csv(path: Path, rows: list[list[str]], header=("body",)) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buf.getvalue(), "utf-8")
    return path


def test_the_stream_gives_what_the_whole_read_gives():
    streamed = corpus.load(FIXTURE, 60)
    sentences = data.load_corpus(FIXTURE)
    vocab = data.Vocabulary.build(sentences, 60)
    pairs = data.encode_sentences(sentences, vocab)
    assert streamed.vocab.index_to_word == vocab.index_to_word and len(streamed.pairs) == len(pairs)
    for (x, y), (a, b) in zip(streamed.pairs, pairs):
        np.testing.assert_array_equal(x, a)
        np.testing.assert_array_equal(y, b)
    assert streamed.complete and streamed.bytes_read == FIXTURE.stat().st_size
    assert streamed.digest == corpus.digest_of_prefix(FIXTURE, streamed.bytes_read)


def test_a_cell_over_128_kib_is_read(tmp_path):
    long = " ".join(f"Sentence number {i} has a few more words." for i in range(6000))
    assert len(long) > 128 * 1024
    loaded = corpus.load(write_csv(tmp_path / "long.csv", [[long], ["A short one with five words."]]), 100)
    assert len(loaded.pairs) == 6001


def test_the_text_column_is_found_by_name(tmp_path):
    path = write_csv(tmp_path / "two.csv", [["1", "The first comment has words."], ["2", "And so does the second."]],
                     header=("id", "text"))
    assert len(corpus.load(path, 50, column="text").pairs) == 2
    with pytest.raises(DataError, match=r"two.csv: no column 'body' in the header \(columns: 'id', 'text'\); "
                                        "name the text column with --column"):
        corpus.load(path, 50)


def test_a_bad_byte_deep_in_the_file_is_reported_with_the_file(tmp_path):
    good = "".join(f"Comment {i} is a line of plain words.\n" for i in range(5000)).encode()
    path = tmp_path / "bad.csv"
    path.write_bytes(b"body\n" + good + b"broken \xff\xfe here\n")
    with pytest.raises(DataError, match=r"bad.csv: not UTF-8 text \(a bad byte b'\\xff'"):
        corpus.load(path, 100)


def test_max_sentences_stops_reading_and_memory_stays_bounded(tmp_path):
    rows = [[f"Comment {i} says something about topic {i % 97} in plain words. " * 20] for i in range(8_000)]
    path = write_csv(tmp_path / "big.csv", rows)
    size = path.stat().st_size
    assert size > 6 * 2**20
    tracemalloc.start()
    loaded = corpus.load(path, 8000, max_sentences=200)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(loaded.pairs) == 200 and not loaded.complete
    assert loaded.bytes_read < size / 100 and peak < 2 * 2**20  # a sliver of the file, a few MiB at most
    tracemalloc.start()
    whole = corpus.load(path, 8000, max_sentences=200, vocab_sentences="all")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert whole.complete and whole.bytes_read == size
    assert peak < size / 4  # the words are counted as they stream by: memory is not the text's


def test_token_pairs_behave_like_a_list_of_pairs():
    pairs = corpus.TokenPairs(np.arange(10, dtype=np.int32), np.array([0, 4, 7, 10]))
    assert len(pairs) == 3 and list(pairs.lengths()) == [3, 2, 2]
    x, y = pairs[-1]
    np.testing.assert_array_equal(x, [7, 8])
    np.testing.assert_array_equal(y, [8, 9])
    assert [len(b) for _, b in pairs[:2]] == [3, 2]
    with pytest.raises(IndexError):
        pairs[3]


QUIET = dict(progress=False, log=lambda line: None)


def test_a_resumed_run_reads_its_token_file_instead_of_tokenizing(tmp_path, monkeypatch):
    config = train.TrainConfig(data=str(FIXTURE), vocab_size=60, hidden=8, epochs=1, lr=0.05)
    train.fit(config, tmp_path / "run", **QUIET)
    monkeypatch.setattr(corpus, "load", lambda *a, **k: pytest.fail("the corpus was tokenized again"))
    assert train.resume(tmp_path / "run", epochs=2, **QUIET).history[-1]["epoch"] == 2
    monkeypatch.undo()
    (tmp_path / "run" / train.TOKENS_FILE).unlink()  # gone: the corpus is read again, and checked
    assert train.resume(tmp_path / "run", epochs=3, **QUIET).history[-1]["epoch"] == 3


def test_a_changed_corpus_is_refused_but_text_past_an_early_stop_does_not_matter(tmp_path):
    whole, part = tmp_path / "whole.csv", tmp_path / "part.csv"
    rows = FIXTURE.read_text("utf-8").splitlines()[1:]
    for path in (whole, part):
        path.write_text("body\n" + "\n".join(rows * 100) + "\n", "utf-8")
    train.fit(train.TrainConfig(data=str(whole), vocab_size=60, hidden=8, epochs=1), tmp_path / "a", **QUIET)
    train.fit(train.TrainConfig(data=str(part), vocab_size=60, hidden=8, epochs=1, max_sentences=3),
              tmp_path / "b", **QUIET)
    for path in (whole, part):
        with open(path, "a", encoding="utf-8") as f:
            f.write('"A brand new comment, with several new words in it."\n')
    with pytest.raises(DataError, match="the file changed since the run started"):
        train.resume(tmp_path / "a", epochs=2, **QUIET)
    assert train.resume(tmp_path / "b", epochs=2, **QUIET).history[-1]["epoch"] == 2
    shutil.copy(FIXTURE, part)  # the part that was read changed
    with pytest.raises(DataError, match="the file changed since the run started"):
        train.resume(tmp_path / "b", epochs=3, **QUIET)


def test_a_lost_token_file_is_written_again_by_the_resumed_run(tmp_path):
    config = train.TrainConfig(data=str(FIXTURE), vocab_size=60, hidden=8, epochs=1, lr=0.05)
    train.fit(config, tmp_path / "run", **QUIET)
    (tmp_path / "run" / train.TOKENS_FILE).write_bytes(b"damaged")
    train.resume(tmp_path / "run", epochs=2, **QUIET)
    meta = train.checkpoint.load(tmp_path / "run").meta
    import hashlib

    written = (tmp_path / "run" / train.TOKENS_FILE).read_bytes()
    assert hashlib.sha256(written).hexdigest() == meta["data"]["tokens_sha256"]
