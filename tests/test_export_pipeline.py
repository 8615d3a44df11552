"""The export's overlapped stages compute what the sequential ones did: the background
initialisation draws the same weights as init_weights, the file written while it runs holds
them, an error in it reaches the caller with nothing left behind, and the spec files embedded
from the loaded modules are those a fresh read of the files finds."""
import threading

import pytest
import torch

import specc
from specc.backends import torch_module
from specc.backends.onnx_export import export
from specc.backends.torch_module import Filling, init_weights
from specc.compile.embed import module_files, spec_files
from specc.elab import Loader

from conftest import SPECS

# between them every init kind the bundled specs use: he_normal, default, ones, zeros (f32
# and i64) in resnet18; bipolar and fan_in_uniform in lenet5; glorot_uniform in elman;
# values in mp_and; he_uniform in squeezenet1_0
NETS = [("resnet.net", "resnet18"), ("lenet5.net", "lenet5"), ("elman.net", "elman"),
        ("mcculloch_pitts.net", "mp_and"), ("squeezenet.net", "squeezenet1_0")]


@pytest.mark.parametrize("spec,name", NETS, ids=[n for _, n in NETS])
def test_background_init_draws_what_init_weights_draws(spec, name):
    graph = specc.load(SPECS / spec, name).graph
    filling = Filling(graph, seed=5)
    filling.join()
    expected = init_weights(graph, seed=5)
    assert list(filling.tensors) == list(expected)
    for key, tensor in expected.items():
        assert filling.tensors[key].dtype == tensor.dtype, key
        assert torch.equal(filling.tensors[key], tensor), key
    assert any(t.is_floating_point() and t.numel() > 1 and t.std() > 0
               for t in expected.values()) or name == "mp_and"  # draws, not only constants


def test_file_written_during_init_holds_the_seeded_weights(tmp_path):
    """A fresh export (written while the weights are drawn) is byte for byte the export of
    the same seed's module passed as weights (drawn first, then written)."""
    net = specc.load(SPECS / "resnet.net", "resnet18")
    export(net, tmp_path / "fresh.onnx", seed=3, verify=False)
    state = net.to_torch(seed=3).state_dict()
    export(net, tmp_path / "given.onnx", weights=state, verify=False)
    fresh, given = (tmp_path / "fresh.onnx").read_bytes(), (tmp_path / "given.onnx").read_bytes()
    assert len(fresh) > 40_000_000  # resnet18: 11.7M float32 parameters
    assert fresh == given


def test_an_init_error_reaches_the_caller_and_leaves_nothing(tmp_path, monkeypatch):
    real, calls = torch_module.fill_tensor, []

    def failing(p, gen, out):
        calls.append(p.name)
        if len(calls) == 3:
            raise ValueError(f"unknown initialiser for {p.name}")
        return real(p, gen, out)
    monkeypatch.setattr(torch_module, "fill_tensor", failing)
    net = specc.load(SPECS / "lenet5.net")
    for verify in (False, True):
        calls.clear()
        with pytest.raises(ValueError, match="unknown initialiser"):
            export(net, tmp_path / "x.onnx", verify=verify)
        assert list(tmp_path.iterdir()) == []  # no output, no staging folder
        assert not background()


def background() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("specc-")]


def test_a_failing_export_stops_its_threads_before_the_error(tmp_path, monkeypatch):
    """The SNARC's sampling cannot be lowered: the error comes while the weights are still
    being drawn (slowly here, so that they are); a thread left inside torch at exit aborts
    the process ('terminate called without an active exception', exit -6 instead of 1)."""
    import time

    from specc.core.diagnostics import SpeccError
    real = torch_module.fill_tensor

    def slow(p, gen, out):
        time.sleep(0.2)
        return real(p, gen, out)
    monkeypatch.setattr(torch_module, "fill_tensor", slow)
    net = specc.load(SPECS / "snarc.net")
    assert len(net.graph.params) >= 2
    for verify in (False, True):
        with pytest.raises(SpeccError, match="cannot express transmit .fired. in ONNX"):
            export(net, tmp_path / "s.onnx", verify=verify)
        assert not background()
        assert list(tmp_path.iterdir()) == []


def test_embedded_files_are_those_a_fresh_read_finds(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "lib.net").write_text('specc 1\nimport "../top.net"\n'
                                              "block head(x, n: int) {\n"
                                              "    return linear(flatten(x), n)\n}\n")
    (tmp_path / "top.net").write_text("specc 1\nblock twice(x) {\n    return relu(x)\n}\n")
    (tmp_path / "net.net").write_text(
        'specc 1\nimport "sub/lib.net"\nimport "blocks.net"\nimport "top.net"\n'
        "network tiny {\n    input x: f32[N, 2, 4, 4]\n    y = twice(conv_relu(x, 4, 3))\n"
        "    output logits = head(y, 3)\n}\n")
    module = Loader().load_path(tmp_path / "net.net")
    files = module_files(module)
    assert files == spec_files(tmp_path / "net.net")
    # '../top.net' from sub/ is stored as top.net; the bundled blocks.net by its name
    assert set(files) == {"net.net", "sub/lib.net", "blocks.net", "top.net"}
    net = specc.load(tmp_path / "net.net")
    assert net.graph.meta["spec_files"] == files
