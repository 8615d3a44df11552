"""docs/conformance.md is current: made with the installed (pinned) onnx and today's registry,
and a sample of ONNX's node tests, run again here through specc's backend, end as the
document says. `python tools/conformance.py` runs them all (both variants, ~5 minutes)."""
import importlib
import re
import warnings

import numpy as np
import onnx
import pytest
from onnx.backend.test.runner import BackendIsNotSupposedToImplementIt

from conftest import ROOT
from specc.importer.backend import SpeccBackend
from specc.ops import registry

DOC = ROOT / "docs" / "conformance.md"
# ONNX's own test modules for a few ops: passes, refusals (training mode, dilations) and skips
# (types specc does not have) among them
SAMPLE = ["relu", "gemm", "conv", "maxpool", "dropout", "add", "reshape", "slice", "einsum",
          "layernormalization", "where", "argmax"]


def _doc_statuses(variant: str) -> dict[str, str]:
    text = DOC.read_text()
    section = text.split(f"### {variant}\n", 1)[1].split("\n### ", 1)[0]
    return {m.group(1): m.group(2)
            for m in re.finditer(r"`(test_\w+)` (failed|refused|skipped):", section)}


def test_the_document_is_for_the_pinned_onnx_and_the_registry():
    text = DOC.read_text()
    assert f"onnx {onnx.__version__})" in text
    listed = re.search(r"Ops the import maps \(\d+\): (.*)\.\n", text).group(1)
    assert set(re.findall(r"`(\w+)`", listed)) == set(registry.IMPORTS)
    pinned = (ROOT / "pyproject.toml").read_text()
    assert f'"onnx=={onnx.__version__}"' in pinned


def _cases(module: str) -> list:
    from onnx.backend.test.case import node
    before = len(node._NodeTestCases)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        importlib.import_module(f"onnx.backend.test.case.node.{module}")
    return node._NodeTestCases[before:]


def _status(case) -> str:
    """What onnx's runner makes of one node test with specc's backend (its comparison:
    numpy's allclose with the case's tolerances)."""
    try:
        rep = SpeccBackend.prepare(case.model)
        for inputs, outputs in case.data_sets:
            got = rep.run(inputs)
            for want, have in zip(outputs, got):
                np.testing.assert_allclose(np.asarray(have, dtype=np.asarray(want).dtype),
                                           want, rtol=case.rtol, atol=case.atol)
    except BackendIsNotSupposedToImplementIt as e:
        return "refused" if str(e).startswith("refused: ") else "skipped"
    except Exception:  # noqa: BLE001 - any failure is a failed test, as in onnx's runner
        return "failed"
    return "passed"


@pytest.mark.parametrize("module", SAMPLE)
def test_a_sample_ends_as_the_document_says(module):
    documented = _doc_statuses("torch")
    cases = [c for c in _cases(module) if "_expanded" not in c.name]
    assert cases
    for case in cases:
        assert _status(case) == documented.get(case.name, "passed"), case.name
