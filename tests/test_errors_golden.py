"""Golden diagnostics: each tests/errors/*.net with the exact message in its *.err file.
A file named export_*.net checks cleanly and fails when lowered to ONNX: its error is the
export's. Regenerate after an intended change with SPECC_UPDATE_GOLDEN=1 and review the diff."""
import os
import tempfile
from pathlib import Path

import pytest

import specc
from specc.core.resources import specs_dir

ERRORS = Path(__file__).parent / "errors"
CASES = sorted(p.stem for p in ERRORS.glob("*.net") if p.stem != "cycle_a")


def rendered(name: str) -> str:
    cwd = os.getcwd()
    os.chdir(ERRORS)
    try:
        specc.load_all(f"{name}.net")
        if name.startswith("export_"):
            with tempfile.TemporaryDirectory() as tmp:
                specc.load(f"{name}.net").to_onnx(Path(tmp) / "m.onnx", verify=False)
    except specc.SpeccError as e:  # bundled specs are shown as <specs>/...
        return e.render().replace(str(specs_dir()) + os.sep, "<specs>/") + "\n"
    finally:
        os.chdir(cwd)
    raise AssertionError(f"{name}.net raised no error")


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", CASES)
def test_golden_error(name):
    text = rendered(name)
    golden = ERRORS / f"{name}.err"
    if os.environ.get("SPECC_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()
    assert "Traceback" not in text
