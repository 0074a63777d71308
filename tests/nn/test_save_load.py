"""Module.save / Module.load: one .npz (arrays + JSON metadata), atomic, no pickle, one clear error per problem."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinygrad_rnn import checkpoint
from tinygrad_rnn.checkpoint import CheckpointError
from tinygrad_rnn.models import RNNLM
from tinygrad_rnn.nn import LayerNorm, Linear, Module, ModuleList, Sequential


class Net(Module):
    def __init__(self, width=4, dtype=np.float64, seed=0):
        self.blocks = ModuleList([Linear(3, width, dtype=dtype, seed=seed), LayerNorm(width, dtype=dtype)])
        self.out = Sequential(Linear(width, 2, dtype=dtype, seed=seed + 1))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip_in_place(tmp_path, dtype):
    a, b = Net(dtype=dtype, seed=0), Net(dtype=dtype, seed=5)
    a.blocks[1].weight.data[...] = 3.0
    path = tmp_path / "net.npz"
    a.save(path)
    storage = b.blocks[0].weight.data
    assert b.load(path) is b
    assert b.blocks[0].weight.data is storage  # loaded into the live arrays: optimizers keep working
    for (n, p), (m, q) in zip(a.named_parameters(), b.named_parameters()):
        assert n == m and q.dtype == dtype
        np.testing.assert_array_equal(p.data, q.data, err_msg=n)


def test_the_file_is_plain_npz_with_json_metadata(tmp_path):
    path = tmp_path / "weights.bin"  # the path is used as given
    Net(dtype=np.float32).save(str(path))
    assert [p.name for p in tmp_path.iterdir()] == ["weights.bin"]  # no temporary file left behind
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(str(npz["__meta__"]))
        names = sorted(k for k in npz.files if k != "__meta__")
        assert npz["blocks.0.weight"].dtype == np.float32
    assert meta["format"] == "tinygrad_rnn.module" and meta["version"] == 1 and meta["class"] == "Net"
    assert meta["parameters"]["blocks.0.weight"] == {"shape": [4, 3], "dtype": "<f4"}
    assert names == sorted(n for n, _ in Net().named_parameters())


def test_rnnlm_round_trip(tmp_path):
    a, b = RNNLM(6, 3, seed=0), RNNLM(6, 3, seed=1)
    a.save(tmp_path / "lm.npz")
    b.load(tmp_path / "lm.npz")
    x = np.array([0, 2, 4])
    np.testing.assert_array_equal(a(x).data, b(x).data)


def assert_untouched(model, before):
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)


def test_wrong_shapes_names_and_dtypes_are_refused_and_nothing_is_written(tmp_path):
    path = tmp_path / "net.npz"
    Net(width=4).save(path)
    other = Net(width=5)
    before = other.state_dict()
    with pytest.raises(CheckpointError, match=r"net.npz: does not fit Net: 'blocks.0.weight' has shape \(4, 3\), "
                                              r"the model expects \(5, 3\)"):
        other.load(path)
    assert_untouched(other, before)
    with pytest.raises(CheckpointError, match="net.npz: does not fit Net: 'blocks.0.weight' has dtype float64, "
                                              "the model expects float32"):
        Net(dtype=np.float32).load(path)
    with pytest.raises(CheckpointError, match="net.npz: does not fit Linear: missing key 'bias' .*; the file was saved "
                                              "from Net"):
        Linear(3, 4).load(path)


def test_a_truncated_file_is_named(tmp_path):
    path = tmp_path / "net.npz"
    Net().save(path)
    raw = path.read_bytes()
    for cut in (len(raw) // 2, 40, 0):
        path.write_bytes(raw[:cut])
        with pytest.raises(CheckpointError, match=r"net.npz: unreadable"):
            Net().load(path)


def test_files_that_are_not_module_saves_are_named(tmp_path):
    with pytest.raises(CheckpointError, match="nothing.npz: missing"):
        Net().load(tmp_path / "nothing.npz")
    plain = tmp_path / "plain.npz"
    np.savez(plain, w=np.ones(2))
    with pytest.raises(CheckpointError, match="plain.npz: not a file written by Module.save"):
        Net().load(plain)
    bad_json = tmp_path / "bad.npz"
    np.savez(bad_json, __meta__=np.array("{not json"))
    with pytest.raises(CheckpointError, match="bad.npz: corrupted metadata"):
        Net().load(bad_json)
    newer = tmp_path / "newer.npz"
    np.savez(newer, __meta__=np.array(json.dumps({"format": "tinygrad_rnn.module", "version": 99})))
    with pytest.raises(CheckpointError, match="newer.npz: format version 99, this version reads 1"):
        Net().load(newer)
    damaged = tmp_path / "damaged.npz"
    Net().save(damaged)
    with np.load(damaged, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files if k != "out.0.bias"}
    np.savez(damaged, **arrays)
    with pytest.raises(CheckpointError, match="damaged.npz: the metadata and the arrays name different parameters"):
        Net().load(damaged)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, __meta__=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CheckpointError, match="pickled.npz: unreadable"):
        Net().load(pickled)


def test_a_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "net.npz"
    Net(seed=0).save(path)
    old = path.read_bytes()

    def full_disk(p, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint, "_write", full_disk)
    with pytest.raises(OSError, match="net.npz"):
        Net(seed=1).save(path)
    assert path.read_bytes() == old and [p.name for p in tmp_path.iterdir()] == ["net.npz"]


def test_a_reserved_parameter_name_is_refused(tmp_path):
    class Odd(Module):
        pass

    odd = Odd()
    odd.__meta__ = Linear(1, 1).weight
    with pytest.raises(CheckpointError, match="odd.npz: a parameter is named '__meta__'"):
        odd.save(tmp_path / "odd.npz")


def test_a_npy_pickle_or_text_file_is_one_clear_error(tmp_path):
    import pickle

    model = Linear(2, 2, seed=0)
    npy, pkl, txt = tmp_path / "w.npy", tmp_path / "w.pkl", tmp_path / "w.txt"
    np.save(npy, np.ones(3))
    pkl.write_bytes(pickle.dumps({"weight": np.ones((2, 2))}))
    txt.write_text("weights")
    for path in (npy, pkl, txt):
        with pytest.raises(CheckpointError, match=r"unreadable \(not an .npz archive\)"):
            model.load(path)
