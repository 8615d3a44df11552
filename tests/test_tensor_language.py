"""The language as torchvision's newer families need it: declared tensors that nothing reads
are kept, labels with any module-name character, integer tensors (cast, arithmetic,
comparisons), indexing by an index tensor, roll, stochastic depth, the width-rule builtins,
keywords named in errors, and two `fmt` layouts."""
import numpy as np
import onnx
import pytest
import torch

import specc
from specc.tools.fmt import format_text

from test_onnx_parity import parity


def test_declared_tensors_are_kept_whether_or_not_an_op_reads_them(load_spec, tmp_path):
    net = load_spec("network t {\n input x: f32[N, 4]\n fixed table: f32[3] = [1.0, 2.0, 3.0]\n"
                    " const ones: f32[2] = [1.0, 1.0]\n param spare: f32[2, 2] = zeros\n"
                    " output y = linear(x, 2)\n}\n")
    assert {"table", "ones", "spare"} <= set(net.graph.params)
    module = net.to_torch()
    assert list(module.state_dict()) == ["spare", "table", "y.weight", "y.bias"]
    assert module.table.tolist() == [1.0, 2.0, 3.0] and module.ones.tolist() == [1.0, 1.0]
    assert [n for n, _ in module.named_parameters()] == ["spare", "y.weight", "y.bias"]
    state = {k: v + 1 for k, v in module.state_dict().items()}
    module.load_state_dict(state, strict=True)  # the same keys load back strictly
    assert module.table.tolist() == [2.0, 3.0, 4.0]
    net.to_onnx(tmp_path / "t.onnx")  # an exported model has no use for unread tensors
    model = onnx.load(tmp_path / "t.onnx")
    assert {i.name for i in model.graph.initializer} == {"y.weight", "y.bias"}


def test_check_shows_declared_tensors(write_spec):
    from conftest import run_main
    path = write_spec("network t {\n input x: f32[N, 4]\n fixed table: f32[3] = [1.0, 2.0, 3.0]\n"
                      " output y = linear(x, 2)\n}\n")
    r = run_main("check", path)
    assert r.returncode == 0 and "table" in r.stdout and "(+3 fixed)" in r.stdout


def test_labels_take_any_module_name_character(load_spec, tmp_path):
    net = load_spec('network t {\n input x: f32[N, 4]\n h = x |> linear(4) |> relu as '
                    '"trunk_output.block1.block1-0"\n g = linear(h, 4) as "a"\n'
                    ' output y = linear(g, 2) as "a/Gemm"\n}\n')
    keys = list(net.to_torch().state_dict())
    assert "trunk_output.block1.block1-0.0.weight" in keys and "a/Gemm.weight" in keys
    result = net.to_onnx(tmp_path / "t.onnx")  # a '/' in a label cannot clash with ONNX names
    assert result.max_rel_error <= 1e-5
    onnx.checker.check_model(str(tmp_path / "t.onnx"), full_check=True)


@pytest.mark.parametrize("label, problem", [
    ('"a\\nb"', "a control character '\\n' cannot be part of a module name"),
    ('"a..b"', "a segment is empty"), ('"a."', "a segment is empty"),
    ('"say \\"hi\\""', "'\"' cannot be part of a module name"),
])
def test_a_label_that_cannot_be_a_module_name_is_a_located_error(label, problem, spec_error):
    text = spec_error(f"network t {{\n input x: f32[N, 4]\n output y = linear(x, 2) as {label}\n}}\n")
    assert problem in text and "t.net:4:" in text


INTEGERS = """network t {
    input k: i64[N, 6]
    input x: f32[N, 6]
    a = abs(k) * 3 // 2 - k % 4
    b = cast(k >= 0, "f32") + cast(k != 2, "f32") * 2.0 + cast(-k < 1, "f32")
    output y = cast(a, "f32") * x + b
}
"""


def test_integer_arithmetic_and_comparisons_follow_python(load_spec):
    net = load_spec(INTEGERS)
    k = torch.tensor([[-7, -2, 0, 2, 5, 9]] * 2)
    x = torch.ones(2, 6)
    got = net.to_torch()(k, x)[0].tolist()
    want = []
    for v in k[0].tolist():
        a = abs(v) * 3 // 2 - v % 4
        b = float(v >= 0) + float(v != 2) * 2.0 + float(-v < 1)
        want.append(a + b)
    assert got == want
    err, tol = parity(net)
    assert err <= tol


def test_numbers_beside_a_condition_alone_are_f32(load_spec):
    """where(c, -1.0, 0.0): the numbers took the condition's bool type (a bool result, then
    exit 3 when onnxruntime found no bool Where); a number is never a truth value."""
    net = load_spec("network w {\n input x: f32[N, 4]\n"
                    " output y = where(gt(x, 0.0), -1.0, 0.5)\n}\n")
    assert str(net.graph.values[net.graph.outputs["y"]].type) == "f32[N, 4]"
    x = torch.tensor([[-1.0, 2.0, 0.0, 3.0]])
    assert net.to_torch()(x).tolist() == [[0.5, -1.0, 0.5, -1.0]]
    err, tol = parity(net)
    assert err <= tol


def test_onnx_integer_ops_match_on_negative_numbers(load_spec):
    """ONNX's Div truncates and its Mod follows the divisor only with fmod=0: the lowerings
    give Python's floor division and remainder on negative numbers too."""
    from specc import passes
    from specc.backends.onnx_build import build_model
    from specc.backends.ort import open_session
    net = load_spec("network t {\n input a: i64[N, 8]\n input b: i64[N, 8]\n"
                    " output y = concat([a // b, a % b, abs(a), -a], axis=1)\n}\n")
    a = np.array([[-7, -7, 7, 7, -1, 0, 9, -9]])
    b = np.array([[2, -2, 2, -2, 3, 5, -4, 4]])
    want = np.concatenate([a // b, a % b, np.abs(a), -a], axis=1)
    got = net.to_torch()(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    model = build_model(passes.run(net.graph, passes.INFERENCE), {})
    sess, _, _ = open_session(model.SerializeToString(), "cpu")
    assert (got == want).all() and (sess.run(None, {"a": a, "b": b})[0] == want).all()


def test_take_indexes_a_table_by_an_index_tensor(load_spec, tmp_path):
    net = load_spec("network t {\n input x: f32[N, 3]\n input k: i64[N, 2]\n"
                    " param table: f32[5, 3] = uniform(-1, 1)\n"
                    " fixed index: i64[2, 3] = [[0, 4, 2], [1, 1, 3]]\n"
                    " a = table[index]\n b = take(table, k)\n"
                    " const cols: i64[2] = [2, 0]\n c = take(x, cols, axis=1)\n"
                    " output y = sum(a, [0, 1]) * x + sum(b, [1]) + sum(c, [1], keepdims=true)"
                    "\n}\n")
    shapes = {v: str(net.graph.values[v].type) for v in ("a", "b", "c")}
    assert shapes == {"a": "f32[2, 3, 3]", "b": "f32[N, 2, 3]", "c": "f32[N, 2]"}
    module = net.to_torch()
    x, k = torch.randn(1, 3), torch.tensor([[0, 4]])
    t, index = module.table, module.index
    want = t[index].sum((0, 1)) * x + t[k].sum(1) + x[:, [2, 0]].sum(1, keepdim=True)
    assert torch.allclose(module(x, k), want)
    err, tol = parity(net)
    assert err <= tol


@pytest.mark.parametrize("k", [[[0, -1]], [[0, 5]]])
def test_take_refuses_an_index_out_of_range_when_it_runs(load_spec, tmp_path, k):
    """Never a silent wrap: the torch module names the op, onnxruntime's Gather refuses it
    (a negative index is sent out of range first)."""
    net = load_spec("network t {\n input k: i64[N, 2]\n param table: f32[5, 3] = ones\n"
                    " output y = take(table, k)\n}\n")
    with pytest.raises(specc.SpeccError, match="take at 'y': index (-1|5) is out of range for "
                                               "axis 0 of size 5"):
        net.to_torch()(torch.tensor(k))
    net.to_onnx(tmp_path / "t.onnx", verify=False)
    from specc.backends.ort import open_session
    sess, _, _ = open_session((tmp_path / "t.onnx").read_bytes(), "cpu")
    with pytest.raises(Exception, match="out of data bounds"):
        sess.run(None, {"k": np.array(k)})


def test_embedding_refuses_a_negative_index_in_torch_and_onnx(load_spec, tmp_path):
    """torch's embedding refuses index -1; ONNX's Gather would count it from the end and
    answer the last row: the export sends it past the table, so onnxruntime refuses it too."""
    net = load_spec("network t {\n input k: i64[N, 2]\n output y = embedding(k, 5, 3)\n}\n")
    with pytest.raises(IndexError):
        net.to_torch()(torch.tensor([[0, -1]]))
    net.to_onnx(tmp_path / "e.onnx")
    from specc.backends.ort import open_session
    sess, _, _ = open_session((tmp_path / "e.onnx").read_bytes(), "cpu")
    assert sess.run(None, {"k": np.array([[0, 4]])})[0].shape == (1, 2, 3)
    with pytest.raises(Exception, match="out of data bounds"):
        sess.run(None, {"k": np.array([[0, -1]])})


def test_take_refuses_to_mix_samples(spec_error):
    text = spec_error("network t {\n input x: f32[N, 3]\n input k: i64[N, 2]\n"
                      " output y = take(x, k, axis=1)\n}\n")
    assert "would mix the samples of the batch" in text


def test_roll_is_torch_roll(load_spec):
    net = load_spec("network t {\n input x: f32[N, 5, 4, 3]\n"
                    " output y = roll(x, [-2, 1, 7], [1, 2, -1])\n}\n")
    x = torch.randn(2, 5, 4, 3)
    assert torch.equal(net.to_torch()(x), torch.roll(x, (-2, 1, 7), (1, 2, 3)))
    err, tol = parity(net)
    assert err == 0.0 and tol > 0


def test_stochastic_depth_drops_rows_or_the_batch_while_training_only(load_spec, tmp_path):
    torch.manual_seed(0)
    for mode in ("row", "batch"):
        net = load_spec("network t {\n input x: f32[N, 4]\n"
                        f' output y = stochastic_depth(x, 0.25, mode="{mode}")\n}}\n')
        module = net.to_torch()
        x = torch.ones(4000, 4)
        module.train()
        y = module(x)
        kept = (y != 0).all(1)
        assert torch.equal(kept, (y != 0).any(1))  # a whole row is dropped or kept
        assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.75))
        if mode == "row":
            assert 0.7 < kept.float().mean() < 0.8
        else:
            assert kept.all() or not kept.any()
        module.eval()
        assert torch.equal(module(x), x)
    net.to_onnx(tmp_path / "sd.onnx")  # dropped on export, like dropout
    assert [n.op_type for n in onnx.load(tmp_path / "sd.onnx").graph.node] == ["Identity"]


def test_width_rule_builtins(load_spec):
    text = ('network t {\n input x: f32[N, 4]\n'
            ' assert round(2.5) == 2 and round(3.5) == 4 and round(0.125, 2) == 0.12, "round"\n'
            ' assert round(log(8, 2)) == 3 and log(exp(1.0)) == 1.0 and sqrt(16) == 4.0, "log"\n'
            ' output y = log(exp(sqrt(abs(x) + 1.0)))\n}\n')
    assert load_spec(text).graph.outputs


@pytest.mark.parametrize("call, message", [
    ("log(0)", "log() of 0.0: the logarithm needs a positive number"),
    ("log(8, 1)", "log() base 1.0 must be positive and not 1"),
    ("sqrt(-1)", "sqrt() of -1.0: the square root needs a number >= 0"),
    ("exp(1000)", "exp() of 1000.0 is out of range"),
    ('round("a")', "round() takes numbers, got str"),
])
def test_builtin_misuse_is_located(call, message, spec_error):
    text = spec_error(f"network t {{\n input x: f32[N, 4]\n v = {call}\n output y = x\n}}\n")
    assert message in text and "t.net:4:" in text


def test_every_builtin_has_a_signature_in_the_reference():
    from specc.elab import builtins
    from specc.tools import opsdoc
    assert set(builtins.SIGNATURES) == set(builtins.names())
    text = opsdoc.markdown()
    for sig, _ in builtins.SIGNATURES.values():
        assert f"`{sig}`" in text


@pytest.mark.parametrize("stmt, word", [
    ("block = linear(x, 4)", "block"), ("input = 3", "input"), ("y = train", "train"),
    ("for in in range(2) {\n }", "in"), ("a, output = 1, 2", "output"),
])
def test_a_keyword_where_a_name_goes_is_named_as_such(stmt, word, spec_error):
    text = spec_error(f"network t {{\n input x: f32[N, 4]\n {stmt}\n output y = x\n}}\n")
    assert f"'{word}' is a keyword, so it cannot be a name" in text


def test_fmt_keeps_small_calls_whole_and_moves_a_long_label_below():
    src = ('network t(s: int = 3) {\n    input x: f32[N, 4]\n    y = linear(x, 2) as '
           '"layer_with_a_very_long_name_for_testing_purposes_" + str(2 * s + 1) + "_and_more"\n'
           '    output z = y\n}\n')
    lines = format_text(src).splitlines()
    assert lines[2:4] == [
        "    y = linear(x, 2)",
        '        as "layer_with_a_very_long_name_for_testing_purposes_" + str(2 * s + 1) + '
        '"_and_more"']


def test_fmt_keeps_a_continued_list_whole_when_a_label_follows():
    """A label that cannot break after a list: the label moves below instead of splitting the
    list before its last item and exploding str(i + 1) over three lines."""
    src = ("network t {\n    input x: f32[N, 4]\n    for i in range(2) {\n"
           "        y = stage(x, widths=[64, 128, 256, 512, 1024, 2048, 4096],\n"
           "            strides=[1, 2, 2, 2, 1, 2, 1, 2, 2, 1]) as \"trunk_output.block\" + "
           "str(i + 1) + \".block\" + str(i + 1) + \"-\" + str(i) + \".f\"\n"
           "    }\n    output z = y\n}\n")
    out = format_text(src)
    assert out.splitlines()[3:6] == [
        "        y = stage(x, widths=[64, 128, 256, 512, 1024, 2048, 4096],",
        "                  strides=[1, 2, 2, 2, 1, 2, 1, 2, 2, 1])",
        '            as "trunk_output.block" + str(i + 1) + ".block" + str(i + 1) + "-" + str(i) '
        '+ ".f"']
    assert format_text(out) == out
