"""The readers of files a user hands to `specc run`/`bench`/`export`, fuzzed: mutated and
invented .npy, .npz, images, ONNX metadata and checkpoints give arrays or the compiler's own
error, never another exception (and never a huge allocation: headers are checked first).

CI runs SPECC_FUZZ_EXAMPLES (150) cases each; `pytest --fuzz-long -m fuzz_long` 10,000."""
import io
import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import specc
from specc.runtime.model import load_inputs, metadata, read_arrays, read_model
from specc.core.diagnostics import SpeccError
from specc.backends.torch_module import load_model_weights
from specc.core.weights import read_checkpoint

EXAMPLES = int(os.environ.get("SPECC_FUZZ_EXAMPLES", "150"))
TINY = "network tiny {\n input x: f32[N, 2]\n output y = linear(x, 2)\n}\n"


def _npy(arr, **kw) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, **kw)
    return buf.getvalue()


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _png() -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3)).save(buf, format="PNG")
    return buf.getvalue()


SEEDS = {".npy": _npy(np.ones((3, 2), np.float32)), ".npz": _npz(x=np.ones((3, 2), np.float32)),
         ".png": _png()}
# a valid PNG (IHDR, an empty IDAT, IEND) that declares 100,000 x 100,000 pixels
BOMB = bytes.fromhex("89504e470d0a1a0a0000000d49484452000186a0000186a0080200000027309c9f00000008494441"
                     "54789c030000000001480689d20000000049454e44ae426082")
DESCRS = ["<f4", "<f8", "<i8", "|b1", "|O", "<U3", "|V8", ">f4", "<c8", "nonsense", "<f2"]


@st.composite
def headers(draw) -> bytes:
    """A .npy file with an invented header: any dtype, any shape, any amount of data."""
    shape = draw(st.lists(st.integers(-3, 2 ** 40), max_size=5))
    text = (f"{{'descr': '{draw(st.sampled_from(DESCRS))}', 'fortran_order': "
            f"{draw(st.booleans())}, 'shape': ({', '.join(map(str, shape))}{',' if len(shape) == 1 else ''}), }}")
    text = text.ljust(118) + "\n"
    body = draw(st.binary(max_size=256))
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode() + body


@st.composite
def mutated(draw):
    suffix = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[suffix])
    for kind, pos, value in draw(st.lists(st.tuples(
            st.sampled_from(["flip", "cut", "insert", "zero"]), st.integers(0, len(data)),
            st.binary(min_size=1, max_size=8)), min_size=1, max_size=4)):
        pos = min(pos, len(data))
        if kind == "flip" and pos < len(data):
            data[pos] ^= value[0] or 1
        elif kind == "cut":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = value
        elif pos < len(data):
            data[pos:pos + len(value)] = bytes(len(value[:len(data) - pos]))
    return suffix, bytes(data)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    (root / "tiny.net").write_text("specc 1\n" + TINY)
    specc.load(root / "tiny.net").to_onnx(root / "tiny.onnx", verify=False)
    return root, read_model(str(root / "tiny.onnx"))


def _read(path, model) -> None:
    try:
        arrays = read_arrays(str(path)) if path.suffix != ".png" else None
        if isinstance(arrays, np.ndarray):
            assert arrays.nbytes <= path.stat().st_size
        load_inputs([str(path)], model)
    except SpeccError as e:
        assert e.render()


def _settings(n):
    return settings(max_examples=n, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


def _fuzz_files(n):
    @_settings(n)
    @given(case=st.one_of(mutated(), headers().map(lambda b: (".npy", b))))
    def run(model, case):
        root, proto = model
        suffix, data = case
        path = root / f"case{suffix}"
        path.write_bytes(data)
        _read(path, proto)
    return run


def _fuzz_metadata(n):
    values = st.one_of(st.text(max_size=40), st.sampled_from(
        ['{"mean": "x"}', '{"pixel_range": [0, 1e999]}', '[1, 2]', '{"std": [0, -1]}',
         '["a", 1]', '"[' * 3000, '{"mean": [1, 2], "std": []}', 'null', '{}']))

    @_settings(n)
    @given(props=st.lists(st.tuples(st.sampled_from(["specc.preprocessing", "specc.labels",
                                                     "specc.spec", "other"]), values),
                          max_size=4))
    def run(model, props):
        _, proto = model
        m = type(proto)()
        m.CopyFrom(proto)
        del m.metadata_props[:]
        for key, value in props:
            m.metadata_props.add(key=key, value=value)
        meta = metadata(m)
        assert isinstance(meta["specc.preprocessing"], dict)
        assert all(isinstance(x, str) for x in meta["specc.labels"])
    return run


def _fuzz_checkpoints(n):
    from safetensors.torch import save_file

    @_settings(n)
    @given(cuts=st.lists(st.tuples(st.integers(0, 400), st.binary(min_size=1, max_size=6)),
                         min_size=1, max_size=3), header=st.text(max_size=60))
    def run(model, cuts, header):
        root, _ = model
        good = root / "good.safetensors"
        if not good.exists():
            save_file({"model/y.weight": torch.ones(2, 2), "model/y.bias": torch.ones(2)},
                      str(good))
        data = bytearray(good.read_bytes())
        for pos, value in cuts:
            pos = min(pos, len(data))
            data[pos:pos + len(value)] = value
        if header:
            text = header.encode()
            data = bytearray(len(text).to_bytes(8, "little")) + text + data[8:]
        case = root / "case.safetensors"
        case.write_bytes(bytes(data))
        net = specc.load(root / "tiny.net")
        try:
            read_checkpoint(case)
            load_model_weights(net.to_torch(seed=0), case)
        except SpeccError as e:
            assert e.render()
    return run


test_input_files_fuzz = _fuzz_files(EXAMPLES)
test_input_files_fuzz_long = pytest.mark.fuzz_long(_fuzz_files(10_000))
test_model_metadata_fuzz = _fuzz_metadata(EXAMPLES)
test_model_metadata_fuzz_long = pytest.mark.fuzz_long(_fuzz_metadata(10_000))
test_checkpoint_fuzz = _fuzz_checkpoints(EXAMPLES)
test_checkpoint_fuzz_long = pytest.mark.fuzz_long(_fuzz_checkpoints(10_000))


@pytest.mark.parametrize("data, message", [
    (b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': "
     b"(100000000000, 4), }" + b" " * 52 + b"\n" + b"\0" * 64,
     "header claims shape [100000000000, 4] (1,600,000,000,000 bytes) but the file holds"),
    (_npy(np.array([{"a": 1}], dtype=object), allow_pickle=True), "holds Python objects"),
    (b"PK\x03\x04" + b"\0" * 40, "cannot read"),
    (b"hello", "is neither a .npy nor a .npz file"),
    (_npy(np.ones((3, 2), np.float32))[:-4], "truncated"),
])
def test_bad_array_files_are_named(model, data, message):
    root, proto = model
    path = root / "bad.npy"
    path.write_bytes(data)
    with pytest.raises(SpeccError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        load_inputs([str(path)], proto)


def test_decompression_bomb_image_is_refused(model):
    root, proto = model
    path = root / "bomb.png"  # a PNG header that claims 100,000 x 100,000 pixels
    path.write_bytes(BOMB)
    with pytest.raises(SpeccError, match="more pixels than Pillow's decompression-bomb limit"):
        load_inputs([str(path)], proto)
