"""One row per registry op: its example network (OpDef.example in specc/ops), which the
parity tests run through torch and onnxruntime and the fuzz tests mutate."""
from specc.ops.registry import all_ops

CASES = {name: (list(op.example.inputs), op.example.call) for name, op in all_ops().items()}


def case_spec(op: str) -> str:
    return all_ops()[op].example.spec("case")
