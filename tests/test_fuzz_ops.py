"""Every argument kind of every op is checked: any value of any kind, in any argument, gives
a result or the compiler's own error, never another exception (hypothesis)."""
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specc.core.diagnostics import SpeccError
from specc.elab.expr import callable_by_name
from specc.ops.registry import TENSOR_KINDS, all_ops

from op_cases import CASES
from test_fuzz import compile_text

EXAMPLES = int(os.environ.get("SPECC_FUZZ_EXAMPLES", "150"))
OPS = sorted(n for n, op in all_ops().items() if callable_by_name(op))

ints = st.one_of(st.integers(-3, 12), st.sampled_from([0, -1, 2 ** 31, 2 ** 62, -2 ** 63]))
atoms = st.one_of(ints.map(str), st.sampled_from(
    ["1.5", "-0.0", "1e308", "0.0001", "true", "false", "none", '"a"', '""', "relu", "x0",
     "he_normal", "uniform(-1, 1)", "range(3)"]))
literals = st.recursive(atoms, lambda inner: st.lists(inner, max_size=4).map(
    lambda xs: "[" + ", ".join(xs) + "]"), max_leaves=8)


def _spec(op: str, values: dict) -> str:
    inputs, _ = CASES[op]
    args = all_ops()[op].args
    tensors = [a for a in args if a.kind in TENSOR_KINDS]
    call = []
    for i, a in enumerate(tensors):
        call.append("[" + ", ".join(f"x{j}" for j in range(len(inputs))) + "]"
                    if a.kind == "tensors" else f"x{min(i, len(inputs) - 1)}")
    call += [f"{name}={value}" for name, value in values.items()]
    lines = ["specc 1", "network case {"]
    lines += [f"    input x{i}: {t}" for i, t in enumerate(inputs)]
    lines.append(f"    output y = {op}({', '.join(call)})")
    return "\n".join(lines + ["}"]) + "\n"


@st.composite
def op_calls(draw):
    op = draw(st.sampled_from(OPS))
    attrs = [a.name for a in all_ops()[op].args if a.kind not in TENSOR_KINDS]
    chosen = draw(st.lists(st.sampled_from(attrs), unique=True)) if attrs else []
    return op, {name: draw(literals) for name in chosen}


def _fuzz(examples):
    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(call=op_calls())
    def run(call):
        op, values = call
        try:
            compile_text(_spec(op, values))
        except SpeccError as e:
            assert e.render()
    return run


test_any_value_in_any_argument_is_a_result_or_a_compiler_error = _fuzz(EXAMPLES)
test_any_value_in_any_argument_long = pytest.mark.fuzz_long(_fuzz(10_000))


@pytest.mark.parametrize("text, message", [
    ('slice(x0, 1, 0, "a")', "argument 'end' of slice must be an int or a dim such as "
                             "x.shape[1], got str \"a\""),
    ("maxpool(x0, none)", "argument 'kernel' of maxpool must be an int or a list of ints, "
                          "got none"),
    ("conv(x0, none, 3)", "argument 'channels' of conv must be an int, got none"),
    ("slice(x0, 1, 0, none)", None),  # `end` defaults to none: accepted
])
def test_none_only_where_the_default_is_none(text, message, load_spec):
    spec = f"network n {{\n input x0: f32[N, 2, 8, 8]\n output y = {text}\n}}\n"
    if message is None:
        assert load_spec(spec).outputs()[0]["shape"] == ["N", 2, 8, 8]
        return
    with pytest.raises(SpeccError) as info:
        load_spec(spec)
    assert message in info.value.render()


def _fuzz_export(examples):
    @settings(max_examples=examples, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(call=op_calls())
    def run(call, tmp_path_factory):
        """What check accepts, export writes and verifies, or refuses with a message."""
        import specc
        op, values = call
        path = tmp_path_factory.mktemp("exp") / "case.net"
        path.write_text(_spec(op, values))
        try:
            net = specc.load(path, max_params=1_000_000, max_activations=1_000_000)
        except SpeccError:
            return
        try:
            net.to_onnx(path.with_suffix(".onnx"))
        except SpeccError as e:
            assert e.render()
    return run


test_accepted_calls_export_or_refuse = _fuzz_export(max(10, EXAMPLES // 3))
test_accepted_calls_export_or_refuse_long = pytest.mark.fuzz_long(_fuzz_export(10_000))
