"""Robustness: mutated specs and random text raise only the compiler's own error type."""
import os

import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import specc
from specc.core.diagnostics import SpeccError
from specc.elab import Loader, elaborate_network, missing_params
from specc.lang.parse import parse_module
from specc.core.source import SourceFile
from specc.lang.values import NetworkRef

from conftest import SPECS

SEEDS = [(SPECS / n).read_text() for n in ("lenet5.net", "resnet.net", "googlenet.net")]
SEEDS.append("""specc 1
block unit(x, w: int = 4) {
    y = x |> conv(w, 3, padding=1) |> relu
    return concat([y, x])
}
network small(depth: int = 2) {
    input x: f32[N, 2, 8, 8]
    for i in range(depth) {
        x = unit(x) as "u" + str(i)
    }
    output out = linear(flatten(global_avgpool(x)), 3)
}
""")
TOKENS = ["(", ")", "[", "]", "{", "}", ",", "=", "|>", "?", ":", "+", "*", "-", "//", "0", "1",
          "-1", "999999", "x", "N", "conv", "relu", "for", "if", "else", "return", "input",
          "output", "block", "network", "true", "none", '"s"', "\n", "and", "not", "as", "2.5"]
SETTINGS = settings(max_examples=int(os.environ.get("SPECC_FUZZ_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def compile_text(text: str) -> None:
    """Parse and elaborate every complete network of the text, as `specc check` does."""
    loader = Loader()
    module = loader.load_text(text, "fuzz.net")
    for name in module.local:
        ref = module.names[name]
        if isinstance(ref, NetworkRef) and not missing_params(ref):
            elaborate_network(ref, max_params=50_000_000)


def mutate(text: str, data) -> str:
    ops = data.draw(st.lists(st.tuples(st.sampled_from(["delete", "insert", "replace", "swap"]),
                                       st.integers(0, max(0, len(text) - 1)),
                                       st.sampled_from(TOKENS)), min_size=1, max_size=4))
    for kind, pos, tok in ops:
        pos = min(pos, len(text))
        if kind == "delete":
            text = text[:pos] + text[pos + len(tok):]
        elif kind == "insert":
            text = text[:pos] + tok + text[pos:]
        elif kind == "replace":
            end = text.find(" ", pos + 1)
            text = text[:pos] + tok + text[end if end > 0 else len(text):]
        else:
            lines = text.split("\n")
            i = pos % len(lines)
            j = (i + 1) % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
    return text


def _mutated(examples):
    @settings(SETTINGS, max_examples=examples)
    @given(seed=st.sampled_from(range(len(SEEDS))), data=st.data())
    def run(seed, data):
        text = mutate(SEEDS[seed], data)
        try:
            compile_text(text)
        except SpeccError as e:
            assert e.render()  # every error renders
    return run


test_mutated_specs_raise_only_compiler_errors = _mutated(SETTINGS.max_examples)
test_mutated_specs_raise_only_compiler_errors_long = pytest.mark.fuzz_long(_mutated(10_000))


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_token_soup_raises_only_compiler_errors(tokens):
    text = "specc 1\n" + " ".join(tokens)
    try:
        compile_text(text)
    except SpeccError:
        pass


@SETTINGS
@given(st.text(max_size=200))
def test_arbitrary_unicode_raises_only_compiler_errors(text):
    try:
        parse_module(SourceFile("u.net", text))
    except SpeccError:
        pass


@pytest.mark.parametrize("open_,close", [("(", ")"), ("[", "]"), ("-", ""), ("not ", "")])
@pytest.mark.parametrize("depth", [50, 20_000])
def test_deep_nesting_compiles_or_is_a_clean_error(open_, close, depth):
    atom = "true" if open_ == "not " else "1"
    text = ("specc 1\nnetwork n {\n input x: f32[N, 2]\n y = " + open_ * depth + atom +
            close * depth + "\n output o = x |> relu\n}\n")
    try:
        compile_text(text)
    except SpeccError as e:  # located at the expression (the one depth rule, test_nesting.py)
        assert depth > 50 and "nests too deeply" in e.message and e.span.line == 4
