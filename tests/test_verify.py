"""Export verification can fail: on non-finite outputs, on a wrong lowering hidden behind
outputs that carry no signal (then every intermediate value is compared), and it says what it
compared."""
import dataclasses

import numpy as np
import pytest

from specc.backends.onnx_numbers import has_signal, max_rel_error
from specc.core.diagnostics import SpeccError
from specc.ops import registry

DEEP = """network deep {
    input x: f32[N, 8]
    for i in range(12) {
        h = linear(x, 8, init=normal(std=0.01)) as "l" + str(i)
        x = sigmoid(h) as "s" + str(i)
    }
    output logits = linear(x, 3)
}
"""


def test_nan_never_passes_as_small():
    e = np.ones((2, 3), np.float32)
    assert max_rel_error([e], [e]) == 0.0
    assert max_rel_error([e], [e + 1e-3]) == pytest.approx(1e-3, rel=1e-3)  # f32 rounding
    for bad in (np.nan, np.inf):
        a = e.copy()
        a[1, 2] = bad
        assert max_rel_error([e], [a]) == float("inf")
        assert max_rel_error([a], [e]) == float("inf")
    assert max_rel_error([e], [e[:1]]) == float("inf")  # shapes differ


def test_signal_means_the_samples_differ_beyond_the_tolerance():
    assert has_signal(np.array([[1.0, 2.0], [3.0, -1.0]]), 1e-4)
    assert not has_signal(np.array([[5.0, 5.0], [5.0, 5.0]]), 1e-4)
    assert not has_signal(np.array([[5.0, 5.0], [5.0, 5.004]]), 1e-4)  # 0.08 % of the scale
    assert has_signal(np.array([[5.0, 5.0], [5.0, 5.006]]), 1e-4)  # 0.12 %
    assert not has_signal(np.zeros((2, 3)), 1e-4)


def test_non_finite_outputs_fail(load_spec, tmp_path):
    net = load_spec("network n {\n input x: f32[N, 4]\n"
                    " output y = x |> linear(4, init=constant(1e30)) |> linear(4, init=constant(1e30))\n}")
    with pytest.raises(SpeccError, match="non-finite values"):
        net.to_onnx(tmp_path / "n.onnx")
    assert not (tmp_path / "n.onnx").exists()
    assert net.to_onnx(tmp_path / "n.onnx", verify=False).max_rel_error is None


def test_outputs_without_signal_are_checked_through_intermediates(load_spec, tmp_path):
    net = load_spec(DEEP)
    result = net.to_onnx(tmp_path / "d.onnx")
    # 12 linear + 12 sigmoid + the last linear (source: the spec above)
    assert result.compared == ("25 intermediate values on 2 seeded samples, as logits barely "
                               "varies with the input")
    assert result.max_rel_error <= 1e-4


def test_a_wrong_lowering_behind_silent_outputs_is_caught(load_spec, tmp_path, monkeypatch):
    """sigmoid(2x) for the first sigmoid: its error fades by ~100x a layer, so the logits of
    this deep network stay within 1e-7 and comparing outputs alone would pass; the
    intermediate values expose it."""
    sigmoid = registry.get("sigmoid")

    def lower(b, node, xs, ps):
        doubled = [b.op("Add", [xs[0], xs[0]])] if node.name == "s0" else xs
        return b.op("Sigmoid", doubled)
    wrong = dataclasses.replace(sigmoid, onnx=lower)
    monkeypatch.setitem(registry.REGISTRY, "sigmoid", wrong)
    net = load_spec(DEEP)
    with pytest.raises(SpeccError, match=r"disagree on 's0': max relative error"):
        net.to_onnx(tmp_path / "d.onnx")
    assert not (tmp_path / "d.onnx").exists()


def test_a_network_whose_values_ignore_the_input_cannot_be_verified(load_spec, tmp_path):
    net = load_spec("network c {\n input x: f32[N, 4]\n output y = linear(x * 0.0, 3)\n}")
    with pytest.raises(SpeccError, match="no value of the network varies with its input"):
        net.to_onnx(tmp_path / "c.onnx")
    assert not (tmp_path / "c.onnx").exists()


def test_weights_that_make_every_value_constant_are_filled_to_verify(load_spec, tmp_path):
    """A memory that has learnt nothing (all zeros) computes constants; its translation is
    checked on a copy whose all-zero weights are filled, and the summary says so."""
    net = load_spec("network z {\n input x: f32[N, 4]\n"
                    " output y = linear(x, 3, init=zeros, bias_init=zeros) |> sigmoid\n}")
    result = net.to_onnx(tmp_path / "z.onnx")
    assert result.compared == ("2 intermediate values on 2 seeded samples with its 2 all-zero "
                               "weight tensors filled at random (with its own weights every "
                               "value is constant)")


def test_ordinary_outputs_say_what_was_compared(load_spec, tmp_path):
    net = load_spec("network o {\n input x: f32[N, 4]\n output y = linear(relu(x), 3)\n}")
    result = net.to_onnx(tmp_path / "o.onnx")
    assert result.compared == ("y on 1 seeded sample, after checking on 2 that they vary "
                               "with the input") and result.max_rel_error <= 1e-5
