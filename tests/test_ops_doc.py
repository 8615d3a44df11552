"""The language reference comes from the registry: `specc ops`, and docs/ops.md kept current."""
import pytest

from specc.tools import opsdoc
from specc.ops.registry import all_ops

from conftest import ROOT, run_main


def test_docs_ops_md_is_current():
    """Regenerate with: specc ops --markdown > docs/ops.md"""
    assert (ROOT / "docs" / "ops.md").read_text() == opsdoc.markdown()


@pytest.mark.parametrize("name", sorted(all_ops()))
def test_every_entry_states_its_shape_rule_and_a_working_example(name):
    op = all_ops()[name]
    assert len(op.shape) > 5 and op.example.call
    facts = opsdoc.example_facts(op)  # compiles the example and lowers it at every opset
    assert facts["node"].startswith(("f32[", "f64[", "i64[", "bool["))
    assert facts["onnx"] and all(ops != "not expressible" for _, ops in facts["onnx"])


def test_the_reference_shows_signature_defaults_shape_and_onnx():
    text = opsdoc.describe(all_ops()["layernorm"])
    assert text.startswith("layernorm(x, dims=1, eps=1e-05, affine=true, axis=-1, init=ones, "
                           "bias_init=zeros)")
    assert "x0: f32[N, 5, 8] -> f32[N, 5, 8]" in text and "owns: weight [8], bias [8]" in text
    assert "opset 13-16: ReduceMean, Sub, Mul, Add, Sqrt, Div; opset 17-21: " \
           "LayerNormalization" in text


def test_cli_lists_and_describes_ops():
    r = run_main("ops")
    assert r.returncode == 0 and "scaled_dot_product_attention" in r.stdout
    assert "parameter" not in r.stdout.split()  # declarations are not called by name
    r = run_main("ops", "gelu")
    assert r.returncode == 0 and r.stdout.startswith('gelu(x, approximate="none")')
    assert "opset 20-21: Gelu" in r.stdout
    r = run_main("ops", "layernrm")
    assert r.returncode == 1 and "no op 'layernrm'" in r.stderr
    assert "did you mean 'layernorm'?" in r.stderr
