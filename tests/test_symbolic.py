"""Networks of any input size and any sequence length: symbolic shapes through check, the
torch module, the ONNX export (verified at two sizes) and `specc run`; shared weights;
initialisers by torch.nn.init's names; labels inside expressions."""
import numpy as np
import pytest
import torch

import specc
from specc.backends.ort import open_session
from specc.ir.sym import Sym

from conftest import SPECS, run_main

FCN = """
network fcn {
    input image: f32[N, 3, H, W]
    x = image |> conv(8, 3, stride=2, padding=1) |> relu |> conv(8, 3, stride=2, padding=1)
        |> relu
    up = upsample(x, 4, mode="bilinear")
    back = resize(x, [image.height, image.width], mode="bilinear")
    near = resize(x, [H, W])
    output seg = conv(back, 2, 1) + conv(near, 2, 1)
    output coarse = conv(up, 2, 1)
}
"""

LM = """
network lm(vocab: int = 13, width: int = 8, heads: int = 2, block_size: int = 6) {
    input idx: i64[N, T]
    assert T <= block_size, "the position table has block_size rows"
    param wte: f32[vocab, width] = normal(std=0.02)
    param wpe: f32[block_size, width] = normal(std=0.02)
    tok = embedding(idx, table=wte) as "transformer.wte"
    x = tok + slice(wpe, 0, 0, T)
    q = reshape(linear(x, width), [T, heads, width // heads]) |> transpose([0, 2, 1, 3])
    y = scaled_dot_product_attention(q, q, q, causal=true) |> transpose([0, 2, 1, 3])
    h = layernorm(x + reshape(y, [T, width])) as "ln_f"
    output logits = linear(h, weight=wte, bias=false) as "lm_head"
}
"""


def _ort(path_or_model, feeds):
    source = path_or_model if isinstance(path_or_model, str) else \
        path_or_model.SerializeToString()
    sess, _, _ = open_session(source, "cpu")
    return sess.run(None, feeds)


def _torch(module, feeds, names):
    with torch.no_grad():
        out = module(*[torch.from_numpy(feeds[n]) for n in names])
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


# ------------------------------------------------------------------- check, MACs
def test_shapes_and_macs_are_formulas(load_spec):
    net = load_spec(FCN)
    t = net.graph.values[net.graph.outputs["seg"]].type
    assert [str(d) for d in t.shape] == ["N", "2", "H", "W"]
    assert isinstance(net.macs, Sym) and net.macs.names() == {"H", "W"}
    # the formula at a size is what the same network counts at that fixed size
    fixed = load_spec(FCN.replace("f32[N, 3, H, W]", "f32[N, 3, 37, 20]")
                      .replace("[image.height, image.width]", "[37, 20]")
                      .replace("[H, W]", "[37, 20]"))
    assert net.macs.evaluate({"H": 37, "W": 20}) == fixed.macs > 0


def test_check_shows_the_formula_and_its_value_at_stated_sizes(write_spec):
    path = write_spec(FCN)
    plain = run_main("check", path)
    assert plain.returncode == 0, plain.stderr
    assert "MACs per sample" in plain.stdout and "((H+1)//2)" in plain.stdout
    stated = run_main("check", path, "--set", "H=64", "--set", "W=48", "--json")
    assert stated.returncode == 0, stated.stderr
    import json
    obj = json.loads(stated.stdout)
    net = specc.load(path)
    assert obj["sizes"] == {"H": 64, "W": 48}
    assert obj["macs_at_sizes"] == net.macs.evaluate({"H": 64, "W": 48})
    assert obj["macs"] == str(net.macs)
    bad = run_main("check", path, "--set", "N=4")
    assert bad.returncode == 2 and "batch dim" in bad.stderr  # a usage error, as --set x=


def test_recipe_size_states_the_size(load_spec):
    net = load_spec(FCN.replace("output coarse", 'train { size = [32, 24] }\n    output coarse'))
    from specc.compile.report import render_table
    assert "at H=32, W=24: " in render_table(net.graph)
    with pytest.raises(specc.SpeccError, match="size has 3 values for 2 symbolic sizes"):
        load_spec(FCN.replace("output coarse", "train { size = [1, 2, 3] }\n    output coarse"))


# ------------------------------------------------------------------------ export
def test_fcn_exports_and_runs_at_any_size(load_spec, tmp_path):
    net = load_spec(FCN)
    result = net.to_onnx(tmp_path / "fcn.onnx")
    assert "and the outputs again at H=" in result.compared
    module = net.to_torch(seed=0).eval()
    import onnx
    from specc.backends.onnx_export import weights_from_module
    from specc.backends.onnx_build import build_model
    from specc import passes
    model = build_model(passes.run(net.graph, passes.INFERENCE), weights_from_module(module))
    for h, w in ((10, 12), (9, 7), (33, 16)):
        feeds = {"image": np.random.default_rng(h).standard_normal((2, 3, h, w)).astype("f4")}
        want, got = _torch(module, feeds, ["image"]), _ort(model, feeds)
        for a, b in zip(want, got):
            assert a.shape == b.shape and a.shape[2:] in ((h, w), (4 * ((h + 3) // 4),
                                                                   4 * ((w + 3) // 4)))
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
    dims = [d.dim_param for d in onnx.load(tmp_path / "fcn.onnx").graph.input[0].type
            .tensor_type.shape.dim]
    assert dims == ["N", "", "H", "W"]


def test_sequence_model_of_any_length(load_spec, tmp_path):
    net = load_spec(LM)
    assert [str(a.cond) for a in net.graph.assumptions] == ["T <= 6"]
    path = tmp_path / "lm.onnx"
    net.to_onnx(path)
    module = net.to_torch(seed=0).eval()  # the export's weights: seed 0 too
    for t in (1, 3, 6):
        feeds = {"idx": np.random.default_rng(t).integers(0, 13, (2, t)).astype(np.int64)}
        want = _torch(module, feeds, ["idx"])[0]
        assert want.shape == (2, t, 13)
        np.testing.assert_allclose(_ort(str(path), feeds)[0], want, rtol=1e-4, atol=1e-6)
    with pytest.raises(specc.SpeccError, match=r"T=7 breaks the network's assumption T <= 6"):
        module(torch.zeros(1, 7, dtype=torch.int64))


def test_specc_run_refuses_a_sequence_past_its_maximum(write_spec, tmp_path):
    spec = write_spec(LM)
    model = tmp_path / "lm.onnx"
    assert run_main("export", spec, "-o", model).returncode == 0
    np.save(tmp_path / "ok.npy", np.zeros((1, 4), np.int64))
    np.save(tmp_path / "long.npy", np.zeros((1, 9), np.int64))
    ok = run_main("run", model, tmp_path / "ok.npy", "--save", tmp_path / "out.npy")
    assert ok.returncode == 0, ok.stderr
    assert np.load(tmp_path / "out.npy").shape == (1, 4, 13)
    long = run_main("run", model, tmp_path / "long.npy")
    assert long.returncode == 1
    assert "T=9 breaks the network's assumption T <= 6: the position table has block_size " \
           "rows" in long.stderr and "Traceback" not in long.stderr


def test_a_mask_buffer_sliced_to_the_length(load_spec):
    """nanoGPT's `bias` buffer: a [1, 1, block, block] lower triangle, sliced to [T, T]; the
    same as causal=true at every length up to the block, in torch and in onnxruntime."""
    tri = [1 if j <= i else 0 for i in range(6) for j in range(6)]
    net = load_spec(f"""
network lm(block_size: int = 6) {{
    input x: f32[N, T, 8]
    assert T <= block_size
    fixed bias: bool[1, 1, block_size, block_size] = {tri}
    m = slice(slice(bias, 2, 0, T), 3, 0, T)
    q = reshape(x, [T, 2, 4]) |> transpose([0, 2, 1, 3])
    a = scaled_dot_product_attention(q, q, q, mask=m)
    b = scaled_dot_product_attention(q, q, q, causal=true)
    output y = concat([a, b], axis=1)
}}""")
    from specc import passes
    from specc.backends.onnx_build import build_model
    from specc.backends.onnx_export import weights_from_module
    module = net.to_torch(seed=0).eval()
    model = build_model(passes.run(net.graph, passes.INFERENCE), weights_from_module(module))
    for t in (1, 4, 6):
        feeds = {"x": np.random.default_rng(t).standard_normal((2, t, 8)).astype("f4")}
        for y in (_torch(module, feeds, ["x"])[0], _ort(model, feeds)[0]):
            assert y.shape == (2, 4, t, 4)
            np.testing.assert_allclose(y[:, :2], y[:, 2:], atol=1e-6)


def test_an_assumption_resolves_a_down_and_up_path(load_spec, tmp_path):
    spec = """
network unet_ish {
    input image: f32[N, 3, H, W]
    assert H % 4 == 0 and W % 4 == 0
    down = image |> conv(4, 3, stride=2, padding=1) |> maxpool(2)
    up = down |> upsample(2) |> conv_transpose(3, 2, stride=2)
    output y = concat([up, image]) + 0.5
}
"""
    net = load_spec(spec)
    assert str(net.graph.values[net.graph.outputs["y"]].type) == "f32[N, 6, H, W]"
    result = net.to_onnx(tmp_path / "u.onnx")
    assert "H=8, W=12" in result.compared or "H=8" in result.compared


def test_the_verifier_accepts_shapes_inferred_before_an_assumption(load_spec):
    """(H+1)//2 inferred before `assert H % 2 == 0` reads H//2 after it: the same dim."""
    net = load_spec("""
network n {
    input x: f32[N, 3, H, W]
    y = conv(x, 4, 3, stride=2, padding=1)
    assert H % 2 == 0 and W % 2 == 0
    output z = upsample(y, 2) + conv(x, 4, 1)
}
""")
    assert str(net.graph.values["y"].type) == "f32[N, 4, (H+1)//2, (W+1)//2]"


def test_lstm_and_rnn_take_any_length(load_spec, tmp_path):
    net = load_spec("""
network seq {
    input x: f32[N, T, 3]
    h = lstm(x, 5, layers=2) |> rnn(4, nonlinearity="relu")
    output y = linear(reshape(slice(h, 1, -1), [4]), 2)
}
""")
    result = net.to_onnx(tmp_path / "s.onnx")
    assert "again at T=" in result.compared


def test_elman_seq_counts(tmp_path):
    net = specc.load("specs/elman_seq.net")
    assert net.params == specc.load("specs/elman.net", "elman").params == 1610
    assert str(net.macs) == "1280*T+320" and net.macs.evaluate({"T": 8}) == 10560


def test_a_classifier_trainer_refuses_per_position_outputs(write_spec, tmp_path):
    r = run_main("train", write_spec(FCN), "--steps", "1", "--out", tmp_path / "run")
    assert r.returncode == 1 and "one label per sample" in r.stderr


# ------------------------------------------------------------------ shared weights
def test_a_tied_head_is_one_tensor_with_every_name(load_spec, tmp_path):
    net = load_spec(LM)
    module = net.to_torch(seed=0)
    keys = list(module.state_dict())
    assert "transformer.wte.weight" in keys and "lm_head.weight" in keys and "wte" not in keys
    assert module.get_parameter("lm_head.weight") is module.get_parameter("transformer.wte.weight")
    assert sum(p.numel() for p in module.parameters()) == net.params == 13 * 8 + 6 * 8 + 2 * 8 \
        + 8 * 8 + 8
    # one optimiser step moves the one tensor: both names still read the same values
    opt = torch.optim.SGD(module.parameters(), lr=0.5)
    module(torch.randint(0, 13, (2, 5))).sum().backward()
    opt.step()
    state = module.state_dict()
    assert torch.equal(state["lm_head.weight"], state["transformer.wte.weight"])
    # ONNX: one initializer
    import onnx
    net.to_onnx(tmp_path / "lm.onnx")
    names = [i.name for i in onnx.load(tmp_path / "lm.onnx").graph.initializer]
    assert "transformer.wte.weight" in names and "lm_head.weight" not in names


def test_tied_weights_checkpoint_and_load_strictly(load_spec, tmp_path):
    from specc.backends.torch_module import load_state
    from specc.train.checkpoint import save_checkpoint
    from specc.core.weights import model_state, read_checkpoint
    net = load_spec(LM)
    module = net.to_torch(seed=1)
    save_checkpoint(tmp_path / "c.safetensors", module, rng=False)
    tensors, _ = read_checkpoint(tmp_path / "c.safetensors")
    stored = model_state(tensors)
    assert "transformer.wte.weight" in stored and "lm_head.weight" not in stored
    fresh = net.to_torch(seed=2)
    load_state(fresh, stored, "checkpoint")
    assert torch.equal(fresh.state_dict()["lm_head.weight"], stored["transformer.wte.weight"])
    # a PyTorch state dict (both keys, as nanoGPT's) loads strictly too
    pytorch_style = {k: v.clone() for k, v in module.state_dict().items()}
    assert "lm_head.weight" in pytorch_style
    load_state(net.to_torch(seed=3), pytorch_style, "nanoGPT-style state dict")


# -------------------------------------------------------------------- initialisers
def test_initialisers_by_torch_names(load_spec):
    net = load_spec("""
network n {
    input x: f32[N, 64, 4, 4]
    b = batchnorm(x, init=normal(mean=1.0, std=0.02), bias_init=constant(0.5))
    l = layernorm(b, init=trunc_normal(std=0.5, a=-0.6, b=0.6))
    output y = linear(flatten(l), 300, init=glorot_uniform(gain=2.0), bias_init=normal(std=0.0))
}
""")
    dump = net.dump()
    assert "init=normal(mean=1.0, std=0.02), bias_init=constant(0.5)" in dump
    assert "glorot_uniform(gain=2.0)" in dump
    state = net.to_torch(seed=0).state_dict()
    bn = state["b.weight"]
    assert abs(bn.mean().item() - 1.0) < 0.02 and 0.01 < bn.std().item() < 0.03
    assert torch.all(state["b.bias"] == 0.5)
    ln = state["l.weight"]
    assert ln.abs().max().item() <= 0.6
    w = state["y.weight"]
    bound = 2.0 * (6 / (1024 + 300)) ** 0.5
    assert w.abs().max().item() <= bound and w.abs().max().item() > 0.9 * bound


# --------------------------------------------------------------------------- labels
def test_labels_inside_lists_and_chains(load_spec):
    net = load_spec("""
network n {
    input x: f32[N, 4, 8, 8]
    branches = [x |> conv(2, 1) |> relu as "convs.0", x |> conv(2, 3, padding=1) as "convs.1"]
    stem = conv(x, 4, 1) as "block.0"
    y = stem |> conv(4, 3, padding=1) |> relu |> (conv(4, 1) as "proj") as "block[1:]"
    output out = concat(branches + [y])
}
""")
    keys = set(net.to_torch(seed=0).state_dict())
    assert {"convs.0.0.weight", "convs.1.0.weight", "block.0.weight", "block.1.weight",
            "block.proj.weight"} <= keys
    from specc.tools.fmt import format_text
    text = format_text(open(net.graph.span.source.path).read(), "t.net")
    assert format_text(text, "t.net") == text and '(conv(4, 1) as "proj")' in text


def test_stated_sizes_that_break_an_assert_are_a_located_error(tmp_path):
    """A size stated with --set (or the recipe's `size`) that the network's own `assert`
    excludes is refused at that assert by check, export and train alike, before a run
    folder exists (it was an internal error at the first training step)."""
    from specc.cli.main import main
    with pytest.raises(specc.SpeccError) as info:
        specc.load(SPECS / "gpt.net", "gpt_tiny", overrides={"T": "40"})
    assert "T=40 (--set) break the network's assumption T <= 32" in info.value.message
    assert info.value.span.line == 57 and info.value.span.source.path.endswith("gpt.net")
    run = tmp_path / "run"
    assert main(["train", str(SPECS / "gpt.net:gpt_tiny"), "--set", "T=40", "--steps", "1",
                 "--out", str(run)]) == 1
    assert not run.exists()
    assert specc.load(SPECS / "gpt.net", "gpt_tiny", overrides={"T": "16"}).graph.inputs


def test_bench_takes_a_model_with_open_sizes(tmp_path):
    """The spec a model carries is measured against the model's graph with every open size
    at 1, as the graph's own count takes them (a formula against a number was an internal
    error: specc bench failed on every export with open sizes)."""
    model = tmp_path / "seq.onnx"
    assert run_main("export", SPECS / "elman_seq.net", "-o", model).returncode == 0
    r = run_main("bench", model, "--batch-sizes", "1", "--iters", "2")
    assert r.returncode == 0, r.stderr
    assert "torch eager" in r.stdout and "onnxruntime" in r.stdout
