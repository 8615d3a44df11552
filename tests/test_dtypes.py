"""One table of dtypes (specc/core/dtypes.py) and one of image suffixes (specc/core/images.py),
each checked against the libraries that define the other side's names."""
import numpy as np
import onnx
import pytest
import torch
from onnx import helper
from PIL import Image

from specc.core import dtypes
from specc.core.images import IMAGE_EXTS, IMAGE_SUFFIXES, is_image


@pytest.mark.parametrize("d", dtypes.TABLE, ids=lambda d: d.name)
def test_every_dtype_names_the_same_type_in_onnx_numpy_and_torch(d):
    assert helper.tensor_dtype_to_np_dtype(d.onnx) == dtypes.numpy_dtype(d.name)
    assert dtypes.numpy_dtype(d.name).itemsize == d.bytes
    assert torch.empty((), dtype=dtypes.torch_dtype(d.name)).element_size() == d.bytes
    assert torch.empty((), dtype=dtypes.torch_dtype(d.name)).is_floating_point() == d.floating
    assert dtypes.from_onnx(d.onnx) == d.name == dtypes.from_numpy(dtypes.numpy_dtype(d.name))


def test_bf16_reaches_onnx_as_bfloat16():
    assert dtypes.onnx_type("bf16") == onnx.TensorProto.BFLOAT16
    arr = np.ones(3, dtypes.numpy_dtype("bf16"))
    t = onnx.numpy_helper.from_array(arr, "w")
    assert t.data_type == onnx.TensorProto.BFLOAT16


def test_the_front_half_reads_the_table_without_torch_or_onnx():
    import subprocess
    import sys
    code = ("import sys, specc.core.dtypes as d; d.NAMES; "
            "print('torch' in sys.modules, 'onnx' in sys.modules, 'ml_dtypes' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    # numpy is the front half's (the ops' import rules compute folded constants with it);
    # torch, onnx and ml_dtypes (bf16's numpy type) load only when a stage asks for them
    assert out.split() == ["False", "False", "False"]


@pytest.mark.parametrize("suffix", IMAGE_SUFFIXES)
def test_every_image_suffix_is_one_pil_writes_and_reads(tmp_path, suffix):
    path = tmp_path / f"a{suffix.upper()}"
    Image.new("RGB", (5, 4), (200, 10, 30)).save(path)
    assert is_image(str(path))
    with Image.open(path) as img:
        assert img.size == (5, 4)
    assert Image.registered_extensions()[suffix] == Image.open(path).format


def test_image_readers_share_the_suffixes(tmp_path):
    """An image folder finds a file of every suffix; shards and `specc run` read the same
    table (webdataset names the extension without its dot)."""
    from specc.data.folder import scan
    (tmp_path / "cat").mkdir()
    for i, suffix in enumerate(IMAGE_SUFFIXES):
        Image.new("RGB", (4, 4)).save(tmp_path / "cat" / f"{i}{suffix}")
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    assert len(scan(tmp_path, ["cat"]).paths) == len(IMAGE_SUFFIXES)
    assert IMAGE_EXTS == tuple(s.lstrip(".") for s in IMAGE_SUFFIXES)
