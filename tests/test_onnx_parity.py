"""torch <-> onnxruntime parity for every op (and ONNX shape inference against specc's)."""
import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import specc
from specc import passes
from specc.backends.onnx_build import build_model
from specc.backends.onnx_export import weights_from_module
from specc.backends.onnx_compare import sample_inputs, tolerance
from specc.compile.sizes import sample_sizes
from specc.backends.onnx_numbers import max_rel_error
from specc.backends.onnx_verify import check_inferred_shapes
from specc.ops.registry import Example, LoweringError, all_ops
from specc.backends.ort import open_session

from op_cases import CASES, case_spec


def parity(net, batch=3, seed=0, opset=17, sizes=None):
    module = net.to_torch(seed=seed).eval()
    with torch.no_grad():  # make batch-norm statistics non-trivial
        for name, buf in module.named_buffers():
            if name.endswith("running_mean"):
                buf.uniform_(-0.5, 0.5)
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 2.0)
    graph = passes.run(net.graph, passes.INFERENCE)
    model = build_model(graph, weights_from_module(module), opset=opset)
    check_inferred_shapes(model, graph)
    sizes = {**(sizes or sample_sizes(net.graph, batch)[0]),
             **{n: batch for n in net.graph.facts().batch}}
    feeds = sample_inputs(net.graph, batch, seed, sizes=sizes)
    with torch.no_grad():
        out = module(*[torch.from_numpy(feeds[n]) for n in net.graph.inputs])
    expected = [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]
    sess, _, _ = open_session(model.SerializeToString(), "cpu")
    actual = sess.run(list(net.graph.outputs), feeds)
    for e, a, (name, value) in zip(expected, actual, net.graph.outputs.items()):
        inferred = [d if isinstance(d, int) else d.evaluate(sizes)
                    for d in net.graph.values[value].type.shape]
        assert list(e.shape) == inferred == list(a.shape)
    return max_rel_error(expected, actual), tolerance(net.graph)


def test_every_op_has_a_parity_case():
    assert set(CASES) == set(all_ops())


@pytest.mark.parametrize("op", sorted(CASES))
def test_op_parity(op, write_spec):
    net = specc.load(write_spec(case_spec(op)))
    assert any(n.op == op for n in net.graph.nodes)
    err, tol = parity(net)
    assert err <= tol


@pytest.mark.parametrize("opset", [13, 17, 18, 21])
def test_opsets(opset, write_spec):
    net = specc.load(write_spec(case_spec("rbf")))
    err, tol = parity(net, opset=opset)
    assert err <= tol


def _symbolic(types: list[str]) -> list[str]:
    """The example's input types with their sizes left open: the spatial dims of [N, C, ...]
    inputs (S0, S1, ...) and the length of [N, T, F] sequences; inputs that share a size
    share its name."""
    names: dict[str, str] = {}
    out = []
    for t in types:
        dtype, dims = t.split("[", 1)
        dims = [d.strip() for d in dims.rstrip("]").split(",")]
        open_at = range(2, len(dims)) if len(dims) >= 4 else range(1, 2) if len(dims) == 3 \
            else range(0)
        for i in open_at:
            if dims[i].isdigit():
                dims[i] = names.setdefault(f"{i}:{dims[i]}", f"S{len(names)}")
        out.append(f"{dtype}[{', '.join(dims)}]")
    return out


SYMBOLIC = sorted(op for op, (types, _) in CASES.items() if _symbolic(types) != types)
# what a spec cannot do over open sizes (each refused with a located error), and what it can
# do in torch but not in ONNX (an export error that names the node)
REFUSED = {
    "einsum": "its example's labels tie an open size to a known one (j is 4 and S1)",
    "roll": "its ONNX form (Slice + Concat) cuts each rolled axis at a known size",
    "space_to_depth": "the block must divide H and W, which open sizes do not promise",
    "squeeze": "its example squeezes a dim that an open size need not make 1",
    "c_cell": "the Neocognitron's planes are square and of known size (its layer table)",
    "s_cell": "the Neocognitron's planes are square and of known size (its layer table)",
    "spp": "He et al.'s bins are cut from a known size",
    "reshape": "[N, 2, S0, S1] into [6, -1]: 6 need not divide 2*S0*S1",
    "slice": "end 7 of an open length: the spec must bound it (assert)",
    "matmul": "the example's inner size 4 is opened on one side only",
    "scaled_dot_product_attention": "the open variant opens the width too (its lengths are "
                                    "open in tests/test_symbolic.py)",
}
NO_ONNX = {"adaptive_avgpool", "adaptive_maxpool"}


@pytest.mark.parametrize("op", SYMBOLIC)
def test_op_with_open_sizes(op, write_spec):
    """Every op over inputs of open spatial or sequence sizes either compiles, and then
    torch and onnxruntime agree at the sizes export verification picks (and ONNX shape
    inference with specc's shapes), or is refused with a located error: never an internal
    error, never a model that only works at one size."""
    types, call = CASES[op]
    example = all_ops()[op].example
    spec = Example(tuple(_symbolic(types)), call, example.decls).spec("case")
    try:
        net = specc.load(write_spec(spec))
    except specc.SpeccError as e:
        assert all(x.span is not None for x in e.errors), e.render()
        assert op in REFUSED, f"{op} refuses open sizes: {e.render()}"
        return
    assert op not in REFUSED, f"{op} now takes open sizes: take it off REFUSED"
    for sizes in sample_sizes(net.graph, 3):
        try:
            err, tol = parity(net, sizes=sizes)
        except specc.SpeccError as e:  # torch runs it at any size; ONNX cannot, and says why
            text = e.render()  # located at the statement (LoweringError.at_nodes)
            assert op in NO_ONNX and "symbolic" in text and "t.net:" in text, text
            return
        assert err <= tol, sizes


HYPOTHESIS = settings(max_examples=int(os.environ.get("SPECC_HYPOTHESIS_EXAMPLES", "25")),
                      deadline=None)


def window_case(tmp_path_factory, channels: int, height: int, width: int, call: str,
                fits: bool):
    """A one-op network over an input [N, channels, height, width]: None when the shape rule
    refuses it as a window that does not fit (checked against `fits`), else the parity
    (max relative error, tolerance) of torch, ONNX shape inference and onnxruntime."""
    path = tmp_path_factory.mktemp("case") / "c.net"
    path.write_text(f"specc 1\nnetwork c {{\n input x: f32[N, {channels}, {height}, {width}]\n"
                    f" output y = {call}\n}}\n")
    try:
        net = specc.load(path)
    except specc.SpeccError as e:
        assert "does not fit" in str(e) and not fits
        return None
    return parity(net, batch=2)


@HYPOTHESIS
@given(size=st.integers(5, 14), kernel=st.integers(1, 5), stride=st.integers(1, 3),
       padding=st.integers(0, 2), dilation=st.integers(1, 2), groups=st.sampled_from([1, 2]),
       channels=st.sampled_from([2, 4]))
def test_conv_shapes_and_parity(tmp_path_factory, size, kernel, stride, padding, dilation,
                                groups, channels):
    call = (f"conv(x, {channels}, {kernel}, stride={stride}, padding={padding}, "
            f"dilation={dilation}, groups={groups})")
    fits = dilation * (kernel - 1) + 1 <= size + 2 * padding
    result = window_case(tmp_path_factory, 4, size, size + 1, call, fits)
    assert (result is not None) == fits
    assert result is None or result[0] <= result[1]


@HYPOTHESIS
@given(size=st.integers(3, 15), kernel=st.integers(1, 4), stride=st.integers(1, 3),
       ceil=st.booleans(), kind=st.sampled_from(["maxpool", "avgpool"]), data=st.data())
def test_pool_shapes_and_parity(tmp_path_factory, size, kernel, stride, ceil, kind, data):
    padding = data.draw(st.integers(0, kernel // 2))
    call = (f"{kind}(x, {kernel}, stride={stride}, padding={padding}, "
            f"ceil={'true' if ceil else 'false'})")
    fits = kernel <= size + 2 * padding
    result = window_case(tmp_path_factory, 2, size, size, call, fits)
    assert (result is not None) == fits
    assert result is None or result[0] <= result[1]


@HYPOTHESIS
@given(dims=st.lists(st.integers(1, 5), min_size=3, max_size=4), data=st.data())
def test_structural_ops_shapes_and_parity(tmp_path_factory, dims, data):
    """pad, slice, transpose, softmax and lrn over random shapes and attributes."""
    rank = len(dims) + 1
    kind = data.draw(st.sampled_from(["pad", "slice", "transpose", "softmax", "lrn"]))
    if kind == "pad":
        pads = data.draw(st.lists(st.integers(0, 2), min_size=2 * len(dims), max_size=2 * len(dims)))
        call = f"pad(x, {pads}, value={data.draw(st.floats(-2, 2, width=32))})"
    elif kind == "slice":
        axis = data.draw(st.integers(1, len(dims)))
        start = data.draw(st.integers(0, dims[axis - 1] - 1))
        call = f"slice(x, {axis}, {start}, {dims[axis - 1]}, {data.draw(st.integers(1, 3))})"
    elif kind == "transpose":
        perm = [0] + data.draw(st.permutations(list(range(1, rank))))
        call = f"transpose(x, {perm})"
    elif kind == "softmax":
        call = f"softmax(x, axis={data.draw(st.integers(-rank, rank - 1))})"
    else:
        dims = dims[:3] + [2] * (3 - len(dims[:3]))
        call = f"lrn(x, {data.draw(st.sampled_from([1, 3, 5]))}, alpha=0.01, beta=0.75, k=1.0)"
    shape = ", ".join(str(d) for d in dims)
    path = tmp_path_factory.mktemp("op") / "o.net"
    path.write_text(f"specc 1\nnetwork o {{\n input x: f32[N, {shape}]\n output y = {call}\n}}\n")
    err, tol = parity(specc.load(path), batch=2)
    assert err <= tol


def test_external_data_model_runs(tmp_path):
    from conftest import SPECS, run_main
    net = specc.load(SPECS / "lenet5.net")
    net.to_onnx(tmp_path / "ext.onnx", external_data=True)
    net.to_onnx(tmp_path / "inline.onnx")
    accuracy = []
    for model in ("ext.onnx", "inline.onnx"):
        r = run_main("run", tmp_path / model, "--data", "digits", "--json")
        assert r.returncode == 0, r.stderr
        accuracy.append(__import__("json").loads(r.stdout)["accuracy"])
    # the same weights, read from beside the model or from inside it: the same predictions on
    # the 359 test digits (a multiple of 1/359)
    assert accuracy[0] == accuracy[1] and round(accuracy[0] * 359, 6).is_integer()
