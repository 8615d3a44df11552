"""One row per registry op: a tiny network exercising it (input shapes, the call).
The parity tests run every row through torch and onnxruntime."""

CASES = {
    "conv": (["f32[N, 4, 9, 9]"], "conv(x0, 6, 3, stride=2, padding=1, groups=2)"),
    "table_conv": (["f32[N, 3, 8, 8]"], "table_conv(x0, [[0, 1], [1, 2], [0, 2], [0, 1, 2]], 3)"),
    "linear": (["f32[N, 7]"], "linear(x0, 5)"),
    "matmul": (["f32[N, 3, 4]", "f32[N, 4, 5]"], "matmul(x0, x1)"),
    "add": (["f32[N, 3, 4]", "f32[N, 3, 4]"], "x0 + x1"),
    "sub": (["f32[N, 3, 4]", "f32[N, 3, 4]"], "x0 - x1"),
    "mul": (["f32[N, 3, 4]", "f32[N, 3, 4]"], "x0 * x1"),
    "div": (["f32[N, 3, 4]"], "x0 / 3.0"),
    "constant": (["f32[N, 3]"], "x0 + 1.5"),
    "parameter": (["f32[N, 3]"], "matmul(x0, w)"),
    "relu": (["f32[N, 3, 4]"], "relu(x0)"),
    "tanh": (["f32[N, 3, 4]"], "tanh(x0)"),
    "sigmoid": (["f32[N, 3, 4]"], "sigmoid(x0)"),
    "identity": (["f32[N, 3, 4]"], "identity(x0) |> relu"),
    "scaled_tanh": (["f32[N, 3, 4]"], "scaled_tanh(x0)"),
    "step": (["f32[N, 6]"], "step(x0, threshold=0.25)"),
    "softmax": (["f32[N, 3, 4]"], "softmax(x0, axis=2)"),
    "log_softmax": (["f32[N, 5]"], "log_softmax(x0)"),
    "prelu": (["f32[N, 3, 4, 4]"], "prelu(x0)"),
    "maxpool": (["f32[N, 2, 13, 13]"], "maxpool(x0, 3, stride=2, ceil=true)"),
    "avgpool": (["f32[N, 2, 9, 9]"], "avgpool(x0, 3, stride=2, padding=1)"),
    "adaptive_avgpool": (["f32[N, 2, 12, 12]"], "adaptive_avgpool(x0, 4)"),
    "adaptive_maxpool": (["f32[N, 2, 12, 12]"], "adaptive_maxpool(x0, [3, 2])"),
    "global_avgpool": (["f32[N, 3, 5, 5]"], "global_avgpool(x0)"),
    "spp": (["f32[N, 2, 13, 13]"], "spp(x0, [3, 2, 1])"),
    "lrn": (["f32[N, 7, 4, 4]"], "lrn(x0, 5, alpha=0.0001, beta=0.75, k=2.0)"),
    "batchnorm": (["f32[N, 3, 4, 4]"], "batchnorm(x0)"),
    "dropout": (["f32[N, 6]"], "dropout(x0, 0.5) |> relu"),
    "concat": (["f32[N, 2, 3]", "f32[N, 4, 3]"], "concat([x0, x1])"),
    "flatten": (["f32[N, 2, 3, 4]"], "flatten(x0)"),
    "reshape": (["f32[N, 2, 3, 4]"], "reshape(x0, [6, -1])"),
    "transpose": (["f32[N, 2, 3, 4]"], "transpose(x0, [0, 3, 1, 2])"),
    "pad": (["f32[N, 2, 3, 3]"], "pad(x0, [0, 2, 1, 0, 0, 1])"),
    "slice": (["f32[N, 8, 3]"], "slice(x0, 1, 1, 7, 2)"),
    "rbf": (["f32[N, 6]"], "rbf(x0, 4)"),
    "subsample": (["f32[N, 3, 8, 8]"], "subsample(x0, 2)"),
    "expand": (["f32[N, 3, 4]"], "concat([expand(w, [x0.shape[0], 1, -1]), x0], axis=1)"),
    "tile": (["f32[N, 3, 2]"], "tile(x0, [1, 2, 3])"),
}

# declarations a case needs besides its inputs
PARAMS = {
    "parameter": "param w: f32[3, 2] = uniform(-1, 1)",
    "expand": "param w: f32[1, 1, 4] = uniform(-1, 1)",
}


def case_spec(op: str) -> str:
    inputs, call = CASES[op]
    lines = ["specc 1", "network case {"]
    lines += [f"    input x{i}: {t}" for i, t in enumerate(inputs)]
    if op in PARAMS:
        lines.append("    " + PARAMS[op])
    lines.append(f"    output y = {call}")
    lines.append("}")
    return "\n".join(lines) + "\n"
