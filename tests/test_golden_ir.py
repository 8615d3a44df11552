"""Golden IR dumps (a shape on every line). Regenerate with SPECC_UPDATE_GOLDEN=1."""
import os
from pathlib import Path

import pytest

import specc

from conftest import SPECS

GOLDEN = Path(__file__).parent / "golden"
CASES = {"lenet5": (SPECS / "lenet5.net", None), "residual": (GOLDEN / "residual.net", None)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_ir_dump(name):
    path, net = CASES[name]
    dump = specc.load(path, net).dump() + "\n"
    golden = GOLDEN / f"{name}.ir"
    if os.environ.get("SPECC_UPDATE_GOLDEN"):
        golden.write_text(dump)
    assert dump == golden.read_text()


@pytest.mark.parametrize("hash_seed", ["1", "2"])
def test_dump_is_stable_across_processes(hash_seed):
    """The dump may not depend on set or dict order that changes between interpreters."""
    import subprocess
    import sys
    code = f"import specc; print(specc.load({str(GOLDEN / 'residual.net')!r}).dump())"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONHASHSEED": hash_seed}, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (GOLDEN / "residual.ir").read_text()
