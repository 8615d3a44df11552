"""Stochastic nodes (seeded, deterministic at evaluation, log-probabilities for REINFORCE),
the LSTM cell and multi-layer LSTM against torch.nn, gather and index_of."""
import pytest
import torch

import specc
from specc.ops.registry import all_ops


def module(load_spec, body: str, inputs: str):
    net = load_spec(f"network n {{\n{inputs}\n{body}\n}}\n")
    return net, net.to_torch(seed=0)


SAMPLERS = """
    input x: f32[N, 6]
    output b = bernoulli(sigmoid(x))
    output c = categorical(reshape(x, [2, 3]))
    output g = normal(x, 0.08)
"""


def test_sampling_is_seeded_and_evaluation_is_deterministic(load_spec):
    net, m = module(load_spec, SAMPLERS, "")
    x = torch.randn(64, 6, generator=torch.Generator().manual_seed(0))
    m.train()
    draws = []
    for _ in range(2):
        torch.manual_seed(7)
        draws.append(m(x))
    assert all(torch.equal(a, b) for a, b in zip(*draws))
    torch.manual_seed(8)
    assert not torch.equal(m(x)[0], draws[0][0])  # a new seed draws anew
    m.eval()
    b, c, g = m(x)
    assert torch.equal(b, (torch.sigmoid(x) > 0.5).float())
    assert torch.equal(c, x.reshape(64, 2, 3).argmax(-1)) and c.dtype == torch.int64
    assert torch.equal(g, x)


def test_samples_follow_their_distributions():
    from specc.ops.stochastic import bernoulli_sample, categorical_sample, normal_sample
    torch.manual_seed(0)
    p = torch.full((20000,), 0.3)
    assert abs(float(bernoulli_sample(p, True, False).mean()) - 0.3) < 0.02
    logits = torch.log(torch.tensor([0.2, 0.5, 0.3])).expand(20000, 3)
    freq = torch.bincount(categorical_sample(logits, True, False), minlength=3) / 20000
    assert torch.allclose(freq, torch.tensor([0.2, 0.5, 0.3]), atol=0.02)
    s = normal_sample(torch.zeros(20000), 0.08, True, False)
    assert abs(float(s.std()) - 0.08) < 0.004 and not s.requires_grad


def test_log_probabilities_match_torch_distributions():
    ops = all_ops()
    p = torch.tensor([[0.2, 0.9]])
    s = torch.tensor([[1.0, 0.0]])
    expected = torch.distributions.Bernoulli(p).log_prob(s)
    assert torch.allclose(ops["bernoulli"].log_prob({}, [p], s), expected)
    logits = torch.tensor([[1.0, 2.0, 0.5]])
    idx = torch.tensor([2])
    expected = torch.distributions.Categorical(logits=logits).log_prob(idx)
    assert torch.allclose(ops["categorical"].log_prob({}, [logits], idx), expected)
    mean, a = torch.tensor([[0.3]]), torch.tensor([[0.41]])
    expected = torch.distributions.Normal(mean, 0.08).log_prob(a)
    assert torch.allclose(ops["normal"].log_prob({"std": 0.08}, [mean], a), expected)


def test_transmission_is_gated_per_unit(load_spec):
    net, m = module(load_spec, """
    param p: f32[3] = [0.0, 1.0, 0.5]
    output y = transmit(x, p)
""", "    input x: f32[N, 3]")
    m.train()
    torch.manual_seed(0)
    y = m(torch.ones(4000, 3))
    assert y[:, 0].sum() == 0 and y[:, 1].sum() == 4000
    assert abs(float(y[:, 2].mean()) - 0.5) < 0.03
    assert torch.equal(m(torch.zeros(10, 3)), torch.zeros(10, 3))  # no signal, no firing


def test_random_at_inference_is_refused_by_the_export_with_the_reason(load_spec, tmp_path):
    net = load_spec("network n {\n input x: f32[N, 3]\n"
                    " output y = bernoulli(sigmoid(x), sample=\"always\")\n}\n")
    with pytest.raises(specc.SpeccError) as e:
        net.to_onnx(tmp_path / "n.onnx")
    text = e.value.render()
    assert text.endswith("t.net:4:13: error: cannot express bernoulli 'y' in ONNX opset 17: "
                         "bernoulli samples at inference (sample=\"always\"): ONNX can draw "
                         "random numbers but only from onnxruntime's own generator, so the "
                         "model could not be checked against torch; export a view that samples "
                         "only while training\n 4 |  output y = bernoulli(sigmoid(x), "
                         "sample=\"always\")\n   |             " + "^" * 38)
    assert not (tmp_path / "n.onnx").exists()


def test_lstm_loads_torch_nn_lstm_weights_and_agrees(load_spec):
    net, m = module(load_spec, "    output y = lstm(x, 5, layers=3)", "    input x: f32[N, 7, 4]")
    ref = torch.nn.LSTM(4, 5, num_layers=3, batch_first=True)
    state = {k.removeprefix("y."): v for k, v in m.state_dict().items()}
    assert set(state) == set(ref.state_dict())
    ref.load_state_dict(state, strict=True)
    x = torch.randn(2, 7, 4)
    assert torch.allclose(m(x), ref(x)[0], atol=1e-6)
    assert net.params == sum(p.numel() for p in ref.parameters())


def test_lstm_cell_is_torch_s_lstm_cell_on_a_joined_state(load_spec):
    net, m = module(load_spec, """
    param w_ih: f32[12, 4] = uniform(-0.5, 0.5)
    param w_hh: f32[12, 3] = uniform(-0.5, 0.5)
    param b_ih: f32[12] = uniform(-0.5, 0.5)
    param b_hh: f32[12] = uniform(-0.5, 0.5)
    output y = lstm_cell(x, s, w_ih, w_hh, b_ih, b_hh)
""", "    input x: f32[N, 4]\n    input s: f32[N, 6]")
    ref = torch.nn.LSTMCell(4, 3)
    ref.load_state_dict({"weight_ih": m.w_ih, "weight_hh": m.w_hh, "bias_ih": m.b_ih,
                         "bias_hh": m.b_hh})
    x, s = torch.randn(5, 4), torch.randn(5, 6)
    h, c = ref(x, (s[:, :3], s[:, 3:]))
    assert torch.allclose(m(x, s), torch.cat([h, c], 1), atol=1e-6)


def test_gather_picks_the_frame_index_of_chooses(load_spec):
    net, m = module(load_spec, "    output y = gather(x, index_of(p, 50))",
                    "    input x: f32[N, 50, 3]\n    input p: f32[N, 1]")
    x = torch.arange(2 * 50 * 3, dtype=torch.float32).reshape(2, 50, 3)
    p = torch.tensor([[0.0], [0.5]])
    # Yeung et al.: round(l * 50) clamped to [1, 50], counted from 1: 0 -> frame 1, 0.5 -> 25
    assert torch.equal(m(x, p), torch.stack([x[0, 0], x[1, 24]]))
    assert torch.equal(m(x, torch.tensor([[1.4], [-3.0]])), torch.stack([x[0, 49], x[1, 0]]))


@pytest.mark.parametrize("opset", [13, 17, 21])
def test_recurrent_and_sampling_ops_export_at_every_opset(opset, load_spec, tmp_path):
    from test_onnx_parity import parity
    net = load_spec("""
network n {
    input x: f32[N, 6, 4]
    h = lstm(x, 8, layers=2)
    pick = gather(h, index_of(sigmoid(slice(reshape(x, [24]), 1, 0, 1)), 6))
    output emit = categorical(linear(pick, 2))
    output where = normal(linear(pick, 1), 0.08)
}
""")
    err, tol = parity(net, opset=opset)
    assert err <= tol
