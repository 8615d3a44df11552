"""onnxruntime latency of an export with symbolic sizes against the export of the same
network fixed at one size, run at that size, interleaved in one process: symbolic shapes
must not cost speed. Two networks: a fully convolutional segmenter (a ResNet-18 backbone,
a head, a bilinear resize back to the input's H x W: Resize takes its sizes from Shape) and
a GPT-style decoder (tied head, positional table sliced to T, causal attention whose mask
is built from T at run time). Both exports come from one spec text and the same seed.
Last line: ratio=X (symbolic / fixed, the worse of the two). Target <= 1.05.

    python bench/symbolic_latency.py [--runs 40] [--threads 2] [--size 224] [--length 128]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import specc
from specc.backends.ort import open_session

FCN = """specc 1
import "resnet.net"

network fcn(classes: int = 21) {
    input image: f32[N, 3, DIMS]
    ASSUME
    x = image |> conv(64, 7, stride=2, padding=3, bias=false) |> batchnorm |> relu
        |> maxpool(3, stride=2, padding=1)
    for stage, width in enumerate([64, 128, 256, 512]) {
        for i in range(2) {
            x = basic(x, width, stride=stage > 0 and i == 0 ? 2 : 1) as "layer" + str(stage + 1)
        }
    }
    head = x |> conv(128, 3, padding=1, bias=false) |> batchnorm |> relu |> conv(classes, 1)
        as "classifier"
    output out = resize(head, SIZE, mode="bilinear")
}
"""

GPT = """specc 1
network gpt(vocab: int = 65, width: int = 128, heads: int = 4, layers: int = 4,
            block_size: int = 256) {
    input idx: i64[N, LENGTH]
    ASSUME
    param wte: f32[vocab, width] = normal(std=0.02)
    param wpe: f32[block_size, width] = normal(std=0.02)
    x = embedding(idx, table=wte) + slice(wpe, 0, 0, LENGTH) as "transformer.wte"
    for i in range(layers) {
        h = layernorm(x)
        q = reshape(linear(h, width), [LENGTH, heads, width // heads]) |> transpose([0, 2, 1, 3])
        k = reshape(linear(h, width), [LENGTH, heads, width // heads]) |> transpose([0, 2, 1, 3])
        v = reshape(linear(h, width), [LENGTH, heads, width // heads]) |> transpose([0, 2, 1, 3])
        a = scaled_dot_product_attention(q, k, v, causal=true) |> transpose([0, 2, 1, 3])
        x = x + linear(reshape(a, [LENGTH, width]), width)
        x = x + (layernorm(x) |> linear(4 * width) |> gelu |> linear(width))
    }
    output logits = linear(layernorm(x), weight=wte, bias=false) as "lm_head"
}
"""


def variants(size: int, length: int) -> dict:
    """name -> (symbolic spec, fixed spec, input array)."""
    rng = np.random.default_rng(0)
    fcn = (FCN.replace("DIMS", "H, W").replace("SIZE", "[H, W]")
              .replace("ASSUME", "assert H % 32 == 0 and W % 32 == 0"),
           FCN.replace("DIMS", f"{size}, {size}").replace("SIZE", f"[{size}, {size}]")
              .replace("ASSUME", ""),
           rng.standard_normal((1, 3, size, size)).astype(np.float32))
    gpt = (GPT.replace("LENGTH", "T").replace("ASSUME", "assert T <= block_size"),
           GPT.replace("LENGTH", str(length)).replace("ASSUME", ""),
           rng.integers(0, 65, (1, length)).astype(np.int64))
    return {"fcn_resnet18": fcn, "gpt": gpt}


def export(text: str, folder: Path, name: str) -> str:
    spec = folder / f"{name}.net"
    spec.write_text(text)
    out = folder / f"{name}.onnx"
    specc.load(spec).to_onnx(out, verify=False)
    return str(out)


def latency(sessions: dict, x: np.ndarray, runs: int) -> dict:
    times = {k: [] for k in sessions}
    feeds = {k: {s.get_inputs()[0].name: x} for k, s in sessions.items()}
    outs = {}
    for i in range(runs + 3):
        for k in (list(sessions) if i % 2 else list(sessions)[::-1]):  # interleaved
            t = time.perf_counter()
            outs[k] = sessions[k].run(None, feeds[k])[0]
            if i >= 3:
                times[k].append(time.perf_counter() - t)
    a, b = outs.values()
    assert a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-5), "different outputs"
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=40)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--length", type=int, default=128)
    args = p.parse_args()
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (symbolic, fixed, x) in variants(args.size, args.length).items():
            paths = {"symbolic": export(symbolic, Path(tmp), name + "_sym"),
                     "fixed": export(fixed, Path(tmp), name + "_fixed")}
            sessions = {k: open_session(v, "cpu", threads=args.threads)[0]
                        for k, v in paths.items()}
            t = latency(sessions, x, args.runs)
            ratio = t["symbolic"] / t["fixed"]
            ratios.append(ratio)
            print(f"{name:<14} input {list(x.shape)}  symbolic {t['symbolic'] * 1e3:8.2f} ms  "
                  f"fixed {t['fixed'] * 1e3:8.2f} ms  ratio {ratio:.3f}")
    print(f"ratio={max(ratios):.3f}")


if __name__ == "__main__":
    main()
