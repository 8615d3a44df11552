"""`const`: tensors that are neither trained nor saved (masks, ones, position tables), so
that state dicts written elsewhere still load with strict=True."""
import torch

from specc.compile.report import render_table

from test_onnx_parity import parity

SPEC = """
network n {
    input x: f32[N, 3, 2]
    const mask: f32[3, 2] = [[1, 0], [0, 1], [1, 1]]
    const halves: f32[2] = constant(0.5)
    fixed scale: f32[2] = [2, 3]
    param bias: f32[2] = zeros
    output y = x * mask * halves * scale + bias
}"""


def test_a_constant_is_a_buffer_outside_the_state_dict(load_spec):
    net = load_spec(SPEC)
    module = net.to_torch()
    assert list(module.state_dict()) == ["bias", "scale"]
    buffers = dict(module.named_buffers())
    assert torch.equal(buffers["mask"], torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    assert torch.equal(buffers["halves"], torch.full((2,), 0.5))
    assert [n for n, _ in module.named_parameters()] == ["bias"]
    state = {"bias": torch.ones(2), "scale": torch.ones(2)}
    module.load_state_dict(state, strict=True)
    x = torch.ones(1, 3, 2)
    assert torch.equal(module(x), x * buffers["mask"] * 0.5 + 1.0)
    assert "(+2 fixed, +8 constant)" in render_table(net.graph)


def test_constants_export_and_agree(load_spec):
    err, tol = parity(load_spec(SPEC))
    assert err <= tol


def test_a_ragged_literal_is_an_error(spec_error):
    text = spec_error("""
network n {
    input x: f32[N, 4]
    const m: f32[2, 2] = [[1, 0], [1]]
    output y = x
}""")
    assert text.startswith("t.net:5:26: error: the literal is ragged: item 1 has shape [1], "
                           "item 0 has [2]")


def test_a_flat_literal_fills_any_shape(load_spec):
    module = load_spec("""
network n {
    input x: f32[N, 2, 2]
    const m: f32[2, 2] = [1, 2, 3, 4]
    output y = x * m
}""").to_torch()
    assert torch.equal(module.m, torch.tensor([[1.0, 2.0], [3.0, 4.0]]))


def test_a_name_torch_reserves_is_a_clear_error(load_spec):
    import pytest

    import specc
    net = load_spec("network n {\n input x: f32[N, 2]\n const half: f32[2] = ones\n"
                    " output y = x * half\n}")
    with pytest.raises(specc.SpeccError, match="'half' is an attribute of torch.nn.Module"):
        net.to_torch()
