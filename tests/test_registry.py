"""Every op is defined once, completely: a registry entry lacking any field fails here."""
import ast
import dataclasses
import inspect
import sys
from pathlib import Path

import pytest

from specc.ir.graph import TensorType
from specc.ops import registry
from specc.ops.registry import (ATTR_KINDS, TENSOR_KINDS, TRAITS, Arg, OpDef, Trait, all_ops,
                                no_macs, no_params)

PACKAGE = Path(registry.__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from op_cases import CASES, case_spec  # noqa: E402

OPS = sorted(all_ops())
HISTORICAL = {"conv", "table_conv", "linear", "matmul", "add", "sub", "mul", "div", "relu", "tanh",
              "scaled_tanh", "sigmoid", "prelu", "softmax", "step", "maxpool", "avgpool",
              "adaptive_avgpool", "global_avgpool", "spp", "lrn", "batchnorm", "dropout", "concat",
              "flatten", "reshape", "transpose", "pad", "slice", "rbf", "subsample", "identity"}


def test_the_op_set_covers_the_historical_zoo():
    assert HISTORICAL <= set(OPS)


@pytest.mark.parametrize("name", OPS)
def test_entry_is_complete(name):
    op = all_ops()[name]
    assert op.name == name
    assert op.doc and len(op.doc) > 10, "a one-line description"
    for field in ("infer", "params", "macs", "torch", "onnx"):
        fn = getattr(op, field)
        assert callable(fn), f"{name} lacks {field}"
    assert len(inspect.signature(op.torch).parameters) == 4
    assert len(inspect.signature(op.onnx).parameters) == 4
    assert isinstance(op.tolerance, float) and 0 < op.tolerance <= 1e-3
    for arg in op.args:
        assert arg.kind in TENSOR_KINDS + ATTR_KINDS, f"{name}.{arg.name}: kind {arg.kind}"
    assert op.min_opset >= 13
    assert isinstance(op.traits, frozenset) and op.traits <= set(Trait), op.traits
    if Trait.WEIGHTED in op.traits:  # a layer that learns weights counts its work
        assert op.params is not no_params and op.macs is not no_macs


def test_no_field_has_a_silent_default():
    """Parameter rule, MAC rule, tolerance and traits must be stated by every op."""
    required = {f.name for f in dataclasses.fields(OpDef)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    assert {"params", "macs", "tolerance", "traits", "infer", "torch", "onnx"} <= required
    relu = all_ops()["relu"]
    partial = {f: getattr(relu, f) for f in required - {"tolerance"}}
    with pytest.raises(TypeError, match="tolerance"):
        OpDef(**partial)


def test_traits_are_a_closed_set():
    relu = all_ops()["relu"]
    assert set(TRAITS) == set(Trait) and all(t.doc for t in Trait)
    bad = dataclasses.replace(relu, name="relu_typo", traits=frozenset({"elementwise"}))
    with pytest.raises(RuntimeError, match="unknown traits"):
        registry.register(bad)
    assert "relu_typo" not in registry.REGISTRY
    bad_kind = dataclasses.replace(relu, name="relu_kind", args=(Arg("x", "tensr"),))
    with pytest.raises(RuntimeError, match="unknown kinds"):
        registry.register(bad_kind)


@pytest.mark.parametrize("trait", list(Trait), ids=lambda t: t.value)
def test_every_trait_is_used_by_the_code(trait):
    """A trait nobody asks about is decoration: some module outside specc/ops/ must test it."""
    users = [p for p in PACKAGE.rglob("*.py") if "ops" not in p.relative_to(PACKAGE).parts
             and f"Trait.{trait.name}" in p.read_text()]
    assert users, f"trait {trait!r} is not used outside the op definitions"
    assert any(op for op in all_ops().values() if trait in op.traits)


def test_no_table_keyed_by_op_name_outside_the_registry():
    """The backend's old `_SAFE_TO_OVERWRITE` and the report's `op == "constant"` are traits."""
    for p in PACKAGE.rglob("*.py"):
        if "ops" in p.relative_to(PACKAGE).parts:
            continue
        text = p.read_text()
        assert '.op == "constant"' not in text and '.op != "constant"' not in text, p
        assert "_SAFE_TO_OVERWRITE" not in text, p


def test_conv_rule_by_hand():
    conv = all_ops()["conv"]
    attrs = {"channels": 8, "kernel": 3, "stride": 2, "padding": 1, "dilation": 1, "groups": 1,
             "bias": True, "init": None, "bias_init": None}
    x = TensorType("f32", ("N", 3, 32, 32))
    # (32 + 2*1 - 3) // 2 + 1 = 16; MACs = 8 maps * 16 * 16 positions * 3 channels * 3*3
    assert conv.infer(attrs, [x]) == [TensorType("f32", ("N", 8, 16, 16))]
    assert conv.macs(attrs, [x], conv.infer(attrs, [x])) == 8 * 16 * 16 * 3 * 9


@pytest.mark.parametrize("name", sorted(CASES))
def test_shape_rules_are_pure_functions(name, tmp_path):
    """Called again on a node of an elaborated network, a rule gives the type recorded during
    elaboration and leaves its arguments as they were."""
    import copy

    import specc
    path = tmp_path / "case.net"
    path.write_text(case_spec(name))
    graph = specc.load(path).graph
    node = next(n for n in graph.nodes if n.op == name)
    op = all_ops()[name]
    types = [graph.values[i].type for i in node.inputs]
    attrs = copy.deepcopy(node.attrs)
    assert op.infer(attrs, list(types)) == [graph.values[node.outputs[0]].type]
    assert attrs == node.attrs and types == [graph.values[i].type for i in node.inputs]
    assert op.macs(attrs, types, op.infer(attrs, types)) == node.macs


# Strings outside specc/ops/ that equal an op's name but name something else, each with what
# it is: a newcomer's `node.op == "softmax"` is not among them, and fails below.
NOT_OP_NAMES = {
    ("backends/torch_init.py", "constant"): "an initialiser's kind (Init), not the constant op",
    ("backends/torch_init.py", "normal"): "an initialiser's kind (Init), not the normal op",
    ("elab/builder.py", "constant"): "an initialiser's kind (Init), not the constant op",
    ("importer/view.py", "constant"): "an initialiser's kind (Init), not the constant op",
    ("ir/graph.py", "constant"): "an initialiser's kind (Init.__str__), not the constant op",
    ("runtime/model.py", "mean"): "a preprocessing key of an exported model's metadata",
}


def _strings(node):
    """The string constants of a comparison operand: itself, or the items of a literal
    tuple, list or set."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        for item in node.elts:
            yield from _strings(item)


def _docstrings(tree) -> set[int]:
    return {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and n.body and isinstance(n.body[0], ast.Expr)
            and isinstance(n.body[0].value, ast.Constant)}


def name_uses(source: str, where: str) -> list[str]:
    """Every op name compared as a string (==, !=, in, not in) and every trait written as a
    string (anywhere but a docstring) in one module's source."""
    names, traits = set(all_ops()), {t.value for t in Trait}
    tree = ast.parse(source)
    docs, found = _docstrings(tree), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for text in (t for side in [node.left, *node.comparators] for t in _strings(side)):
                if text in names and (where, text) not in NOT_OP_NAMES:
                    found.append(f"{where}:{node.lineno}: op name {text!r} compared as a string")
        if isinstance(node, ast.Constant) and node.value in traits and id(node) not in docs:
            found.append(f"{where}:{node.lineno}: trait {node.value!r} written as a string")
    return found


def test_no_op_name_or_trait_as_a_string_outside_the_registry():
    """Outside specc/ops/ code asks an op's traits (`Trait.X in op.traits`); a string that
    names an op or a trait is a second table of op facts that the registry does not see."""
    found = []
    for p in sorted(PACKAGE.rglob("*.py")):
        rel = p.relative_to(PACKAGE)
        if rel.parts[0] != "ops":
            found += name_uses(p.read_text(encoding="utf-8"), rel.as_posix())
    assert not found, "\n".join(found)
    assert all(text in all_ops() for _, text in NOT_OP_NAMES)  # no stale entry


@pytest.mark.parametrize("line", ['if node.op == "softmax": pass',
                                  'x = n.op in ("concat", "relu")',
                                  'ok = "stochastic" in op.traits',
                                  'kinds = {"internal", "declaration"} & op.traits'])
def test_the_string_check_catches_what_it_names(line):
    assert name_uses(line, "backends/x.py")
