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


def test_dump_is_stable_across_loads():
    path = GOLDEN / "residual.net"
    assert specc.load(path).dump() == specc.load(path).dump()
