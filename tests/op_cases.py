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
    "pow": (["f32[N, 3, 4]"], "(abs(x0) + 0.5) ** 1.5"),
    "gelu": (["f32[N, 3, 4]"], "gelu(x0)"),
    "silu": (["f32[N, 3, 4]"], "silu(x0)"),
    "hardswish": (["f32[N, 3, 4]"], "hardswish(x0 * 4.0)"),
    "hardsigmoid": (["f32[N, 3, 4]"], "hardsigmoid(x0 * 4.0)"),
    "relu6": (["f32[N, 3, 4]"], "relu6(x0 * 8.0)"),
    "clip": (["f32[N, 3, 4]"], "clip(x0, -0.5, 0.25)"),
    "leaky_relu": (["f32[N, 3, 4]"], "leaky_relu(x0, 0.2)"),
    "elu": (["f32[N, 3, 4]"], "elu(x0, 0.7)"),
    "softplus": (["f32[N, 3, 4]"], "softplus(x0, beta=2.0)"),
    "mish": (["f32[N, 3, 4]"], "mish(x0)"),
    "sqrt": (["f32[N, 3, 4]"], "sqrt(abs(x0) + 0.1)"),
    "exp": (["f32[N, 3, 4]"], "exp(x0)"),
    "log": (["f32[N, 3, 4]"], "log(abs(x0) + 0.1)"),
    "abs": (["f32[N, 3, 4]"], "abs(x0)"),
    "neg": (["f32[N, 3, 4]"], "neg(x0)"),
    "reciprocal": (["f32[N, 3, 4]"], "reciprocal(abs(x0) + 0.5)"),
    "erf": (["f32[N, 3, 4]"], "erf(x0)"),
    "mean": (["f32[N, 3, 4, 5]"], "mean(x0, [1, 2])"),
    "sum": (["f32[N, 3, 4]"], "sum(x0, [2], keepdims=true)"),
    "max": (["f32[N, 3, 4]"], "max(x0, [1])"),
    "min": (["f32[N, 3, 4, 2]"], "min(x0, [-1, 1])"),
    "layernorm": (["f32[N, 5, 8]"], "layernorm(x0)"),
    "groupnorm": (["f32[N, 6, 4, 4]"], "groupnorm(x0, 3)"),
    "instancenorm": (["f32[N, 3, 4, 4]"], "instancenorm(x0, affine=true)"),
    "embedding": (["i64[N, 5]"], "embedding(x0, 7, 4)"),
    "upsample": (["f32[N, 2, 3, 4]"], "upsample(x0, 2)"),
    "resize": (["f32[N, 2, 5, 6]"], "resize(x0, [7, 3], mode=\"bilinear\")"),
    "pixel_shuffle": (["f32[N, 8, 3, 3]"], "pixel_shuffle(x0, 2)"),
    "scaled_dot_product_attention": (["f32[N, 2, 5, 4]", "f32[N, 2, 6, 4]", "f32[N, 2, 6, 3]"],
                                     "scaled_dot_product_attention(x0, x1, x2)"),
    "conv_transpose": (["f32[N, 4, 5, 5]"],
                       "conv_transpose(x0, 6, 3, stride=2, padding=1, output_padding=1, groups=2)"),
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
