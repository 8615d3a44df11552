"""ONNX's own conformance tests run against specc's import: the node tests that the installed
`onnx` generates (and its nine `light` models), through `onnx.backend.test.BackendTest`, with
specc as the backend (torch, or re-exported to ONNX and run in onnxruntime). The results
become docs/conformance.md: per ONNX op, tests passed, failed and skipped, and why."""
from __future__ import annotations

import os
import re
import tempfile
import time
import unittest
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field

VARIANTS = ("torch", "onnxruntime")


@dataclass
class Outcome:
    test: str
    op: str
    status: str  # passed, failed (wrong result, or an error), refused (a mapped op will
    # not read the node as it is: an attribute value or form specc does not have), skipped
    # (an op specc does not map, or a type it does not have)
    why: str = ""


@dataclass
class Report:
    onnx_version: str
    variant: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    mapped: set = field(default_factory=set)


def run(variant: str = "torch", pattern: str | None = None, models: bool = True) -> Report:
    """Every node test (those whose names match `pattern`) and, with `models`, the nine
    light models, run on one variant of the backend."""
    import onnx
    import onnx.backend.test

    from ..ops import registry
    from .backend import SpeccBackend, SpeccOnnxBackend
    base = SpeccBackend if variant == "torch" else SpeccOnnxBackend
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="specc-conformance-") as home, \
            _environ(ONNX_HOME=home), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = onnx.backend.test.BackendTest(_recording(base), __name__)
        test.include(r"_cpu$")
        kinds = ["OnnxBackendNodeModelTest"] + (["OnnxBackendRealModelTest"] if models else [])
        suite = unittest.TestSuite()
        for key in kinds:
            for case in unittest.defaultTestLoader.loadTestsFromTestCase(test.test_cases[key]):
                if case.id().endswith("_cpu") and (pattern is None or
                                                   re.search(pattern, _name(case))):
                    suite.addTest(case)
        result = _Result()
        suite.run(result)
    report = Report(onnx.__version__, variant, seconds=time.perf_counter() - start,
                    mapped=set(registry.IMPORTS))
    ops = _ops(test, result.names)
    failed = {_name(c): _reason(tb) for c, tb in result.failures + result.errors}
    for name in result.names:
        why = _NOT_RUN.get(name)
        if name in failed:
            outcome = Outcome(name, ops[name], "failed", failed[name])
        elif why is not None:
            status = "refused" if why.startswith("refused: ") else "skipped"
            if why.startswith(("refused: ", "not in specc: ")):
                why = why.split(": ", 1)[1]
            outcome = Outcome(name, ops[name], status, _first(why))
        else:
            outcome = Outcome(name, ops[name], "passed")
        report.outcomes.append(outcome)
    _NOT_RUN.clear()
    report.outcomes.sort(key=lambda o: (o.op, o.test))
    return report


def _ops(test, names: list[str]) -> dict[str, str]:
    """Test -> the ONNX op it tests (its model's most frequent op; an `_expanded` test, which
    writes the op as its function body, counts for the op it expands; a light model is
    '(model)'), from the models onnx's runner handed the backend."""
    items = {}
    for category, entries in test._test_items.items():
        for key, item in entries.items():
            items[key] = (category, item.proto[0] if item.proto else None)
    ops = {}
    for name in names:
        category, model = items.get(name + "_cpu", ("", None))
        if "Real" in category:
            ops[name] = "(model)"
        elif model is not None and hasattr(model, "graph") and model.graph.node:
            types = [n.op_type for n in model.graph.node]
            ops[name] = Counter(types).most_common(1)[0][0]
        else:
            ops[name] = "?"
    for name in names:
        base = re.sub(r"_expanded(_ver\d+)?$", "", name)
        if base != name and ops.get(base, "?") != "?":
            ops[name] = ops[base]
    return ops


# onnx's runner swallows BackendIsNotSupposedToImplementIt (the test then "passes"): the
# backend below records the reason under the test that is running.
_NOT_RUN: dict[str, str] = {}
_CURRENT = [""]


class _Result(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.names: list[str] = []

    def startTest(self, test):
        _CURRENT[0] = _name(test)
        self.names.append(_CURRENT[0])
        super().startTest(test)


def _recording(base):
    """The backend, noting why a test is not run (in prepare, or in a run that binds
    inputs and imports then)."""
    from onnx.backend.test.runner import BackendIsNotSupposedToImplementIt

    class Recording(base):
        @classmethod
        def prepare(cls, model, device="CPU", **kwargs):
            try:
                rep = super().prepare(model, device, **kwargs)
            except BackendIsNotSupposedToImplementIt as e:
                _NOT_RUN[_CURRENT[0]] = str(e)
                raise
            run = rep.run

            def recorded(inputs, **kw):
                try:
                    return run(inputs, **kw)
                except BackendIsNotSupposedToImplementIt as e:
                    _NOT_RUN[_CURRENT[0]] = str(e)
                    raise
            rep.run = recorded
            return rep

    return Recording


def _name(case) -> str:
    return re.sub(r"_cpu$", "", case.id().rsplit(".", 1)[-1])


def _first(text: str) -> str:
    return text.strip().splitlines()[0][:200] if text.strip() else ""


def _reason(tb: str) -> str:
    """The line of a failure that says why: specc's note, or the assertion's message."""
    lines = [ln.strip() for ln in tb.strip().splitlines() if ln.strip()]
    notes = [ln[len("note: "):] for ln in lines if ln.startswith("note: ")]
    if notes:
        return notes[0][:200]
    for ln in lines:
        if ln.startswith(("AssertionError", "Mismatched elements", "Max absolute difference")):
            return ln[:200]
    return lines[-1][:200] if lines else ""


class _environ:
    def __init__(self, **values):
        self.values, self.old = values, {}

    def __enter__(self):
        for k, v in self.values.items():
            self.old[k] = os.environ.get(k)
            os.environ[k] = v

    def __exit__(self, *exc):
        for k, v in self.old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ------------------------------------------------------------------------ report
def is_expanded(test: str) -> bool:
    return "_expanded" in test


def summary(report: Report) -> dict:
    """Counts over the node tests (not `_expanded`) of the ops the import maps: `rate` over
    the tests run (as ONNX's backend scoreboard counts), `rate_all` counting refusals as
    failures too."""
    mine = [o for o in report.outcomes if o.op in report.mapped and not is_expanded(o.test)]
    c = Counter(o.status for o in mine)
    run = c["passed"] + c["failed"]
    return {"ops": len({o.op for o in mine}), "tests": len(mine), "passed": c["passed"],
            "failed": c["failed"], "refused": c["refused"], "skipped": c["skipped"],
            "rate": c["passed"] / run if run else 0.0,
            "rate_all": c["passed"] / (run + c["refused"]) if run + c["refused"] else 0.0}


def to_json(r: Report) -> dict:
    return {"onnx_version": r.onnx_version, "variant": r.variant, "seconds": r.seconds,
            "mapped": sorted(r.mapped), "outcomes": [o.__dict__ for o in r.outcomes]}


def from_json(d: dict) -> Report:
    return Report(d["onnx_version"], d["variant"], [Outcome(**o) for o in d["outcomes"]],
                  d["seconds"], set(d["mapped"]))


def markdown(reports: list[Report], seconds: float = 0.0) -> str:
    first = reports[0]
    lines = ["# ONNX conformance", "",
             "Generated by `python tools/conformance.py` from ONNX's own backend tests "
             f"(`onnx.backend.test`, onnx {first.onnx_version}): every node test the installed "
             "onnx generates, and its nine `light` models, run with specc as the backend. "
             "`prepare` imports the model into specc's IR; the **torch** variant lowers it to "
             "a PyTorch module, the **onnxruntime** variant writes it back to ONNX and runs "
             "it. A test is *skipped* when its model uses an op specc does not map or a "
             "type specc does not have (the reason is given), and *failed* when specc maps "
             "every op but cannot read a node as it is, or computes another result.", ""]
    for r in reports:
        s = summary(r)
        lines.append(f"- **{r.variant}**: {s['ops']} mapped ONNX ops have node tests; of their "
                     f"{s['tests']} node tests {s['passed']} passed, {s['failed']} failed, "
                     f"{s['refused']} were refused (a form the mapped op does not take: an "
                     f"attribute value, a training-mode output) and {s['skipped']} skipped "
                     f"(a type specc does not have): **{100 * s['rate']:.1f} %** of those run "
                     f"passed, {100 * s['rate_all']:.1f} % counting the refused as failed.")
        models = [o for o in r.outcomes if o.op == "(model)"]
        if models:
            ok = sum(o.status == "passed" for o in models)
            lines.append(f"  The light models (AlexNet ... ZFNet-512, opset 9): {ok} of "
                         f"{len(models)} give the stored outputs within the stored tolerances.")
    if seconds:
        lines += ["", f"The whole run took {seconds:.0f} s (both variants at once, "
                  f"`python tools/conformance.py`)."]
    lines += ["", f"Ops the import maps ({len(first.mapped)}): "
              + ", ".join(f"`{op}`" for op in sorted(first.mapped)) + ".", ""]
    lines += _op_table(reports) + [""] + _details(reports)
    return "\n".join(lines) + "\n"


def _op_table(reports: list[Report]) -> list[str]:
    head = "| ONNX op | mapped | " + " | ".join(
        f"{r.variant}: passed / failed / refused / skipped" for r in reports) + " |"
    lines = ["## Per op (node tests, `_expanded` ones counted apart)", "", head,
             "|" + "---|" * (2 + len(reports))]
    ops = sorted({o.op for o in reports[0].outcomes})
    for op in ops:
        cells = []
        for r in reports:
            c = Counter(o.status for o in r.outcomes if o.op == op and not is_expanded(o.test))
            e = Counter(o.status for o in r.outcomes if o.op == op and is_expanded(o.test))
            cell = f"{c['passed']} / {c['failed']} / {c['refused']} / {c['skipped']}"
            if sum(e.values()):
                cell += (f" (expanded {e['passed']} / {e['failed']} / {e['refused']} / "
                         f"{e['skipped']})")
            cells.append(cell)
        mapped = "yes" if op in reports[0].mapped else ("model" if op == "(model)" else "no")
        lines.append(f"| {op} | {mapped} | " + " | ".join(cells) + " |")
    return lines


def _details(reports: list[Report]) -> list[str]:
    lines = ["## Every test that did not pass", ""]
    for r in reports:
        lines += [f"### {r.variant}", ""]
        by_op = defaultdict(list)
        for o in r.outcomes:
            if o.status != "passed":
                by_op[o.op].append(o)
        for op in sorted(by_op):
            lines.append(f"- **{op}**: " + "; ".join(
                f"`{o.test}` {o.status}: {o.why}" for o in by_op[op]))
        lines.append("")
    return lines
