"""The learning-rule registry: every entry complete, each rule's update against a hand
computation, and the spec syntax that assigns rules to parameters."""
import math

import pytest
import torch

from specc.rules import all_rules
from specc.rules.registry import ARG_KINDS, LearnUse, RuleValue, Step

RULES = sorted(all_rules())


def test_the_issue_s_rules_are_registered():
    assert {"hebb", "oja", "perceptron", "reward_modulated", "competitive", "reinforce",
            "gradient"} <= set(RULES)


@pytest.mark.parametrize("name", RULES)
def test_entry_is_complete(name):
    rule = all_rules()[name]
    assert rule.name == name and len(rule.doc) > 60
    assert any(c in rule.doc for c in "=<"), "the docstring states the equation"
    assert rule.kind in ("local", "gradient", "policy")
    assert all(a.kind in ARG_KINDS for a in rule.args)
    if rule.local:
        assert callable(rule.update) and rule.forms


def step(rule: str, form: str, param, args=None, **kw) -> Step:
    """A Step for `rule` with rule arguments `args` (the rest are defaults)."""
    args = tuple((a.name, (args or {}).get(a.name, a.default)) for a in all_rules()[rule].args)
    use = LearnUse("p", RuleValue(rule, args), "n", "weight")
    return Step(use, form, param, **kw)


def apply(s: Step):
    all_rules()[s.use.rule].update(s)
    return s.param


X = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]])  # two samples, three inputs
Y = torch.tensor([[1.0, -1.0], [2.0, 0.5]])            # two samples, two units


def test_hebb_is_pre_times_post():
    w = torch.zeros(2, 3)
    apply(step("hebb", "dense", w, {"rate": 0.5}, pre=X, post=Y))
    # dw_ji = 0.5 * sum_n y_nj x_ni: unit 0: 0.5*(1*[1,0,2] + 2*[0,1,-1]) = [0.5, 1, 0]
    assert w.tolist() == [[0.5, 1.0, 0.0], [-0.5, 0.25, -1.25]]


def test_hebb_with_the_target_clamped_stores_the_pair():
    w = torch.zeros(3, 2)  # a matmul operand [in, out]
    t = torch.tensor([[1.0, -1.0]])
    apply(step("hebb", "dense_in", w, {"rate": 1.0, "post": "target"}, pre=X[:1], target=t))
    assert w.tolist() == [[1.0, -1.0], [0.0, 0.0], [2.0, -2.0]]  # x^T t


def test_oja_decays_by_the_square_of_the_output():
    w = torch.tensor([[0.5, 0.5, 0.0]])
    x = torch.tensor([[1.0, 2.0, 0.0]])
    y = x @ w.t()  # 1.5
    apply(step("oja", "dense", w, {"rate": 0.1}, pre=x, post=y))
    # dw = 0.1 * 1.5 * ([1, 2, 0] - 1.5 * [0.5, 0.5, 0]) = [0.0375, 0.1875, 0]
    assert torch.allclose(w, torch.tensor([[0.5375, 0.6875, 0.0]]))


def test_perceptron_corrects_only_wrong_units():
    w, b = torch.zeros(2, 3), torch.zeros(2)
    a = torch.tensor([[1.0, 0.0, 1.0]])
    t = torch.tensor([[1.0, 0.0]])
    y = torch.tensor([[0.0, 1.0]])  # unit 0 silent (should fire), unit 1 fired (should not)
    apply(step("perceptron", "dense", w, {"rate": 1.0}, pre=a, target=t, response=y))
    apply(step("perceptron", "bias", b, {"rate": 1.0}, pre=a, target=t, response=y))
    assert w.tolist() == [[1.0, 0.0, 1.0], [-1.0, 0.0, -1.0]]  # w + (t - y) a
    assert b.tolist() == [1.0, -1.0]  # theta - (t - y), b = -theta


def test_competitive_moves_the_winner_towards_the_sample():
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    x = torch.tensor([[0.0, 3.0]])
    apply(step("competitive", "dense", w, {"rate": 0.5}, pre=x, post=x @ w.t()))
    assert w.tolist() == [[1.0, 0.0], [0.0, 2.0]]  # unit 1 wins: w1 + 0.5 (x - w1)


def test_reward_modulated_needs_the_trace_and_the_reward():
    p = torch.full((3,), 0.5)
    state = {}
    fired = torch.tensor([[1.0, 0.0, 1.0]])
    drive = torch.ones(1, 3)
    rm = {"rate": 0.1, "trace": 0.5}
    apply(step("reward_modulated", "gate", p, rm, pre=drive, post=fired, state=state))
    assert p.tolist() == [0.5, 0.5, 0.5]  # no reward yet: only the trace is set
    later = torch.tensor([[0.0, 1.0, 0.0]])
    apply(step("reward_modulated", "gate", p, rm, pre=drive, post=later, state=state,
               reward=torch.tensor([1.0])))
    # traces: max(0.5 * [1, 0, 1], [0, 1, 0]) = [0.5, 1, 0.5]; dp = 0.1 * 1 * e
    assert torch.allclose(p, torch.tensor([0.55, 0.6, 0.55]))
    apply(step("reward_modulated", "gate", p, {**rm, "rate": 10.0}, pre=drive, post=later,
               state=state, reward=torch.tensor([1.0])))
    assert p.tolist() == [1.0, 1.0, 1.0]  # transmission probabilities stay in [0, 1]


# ------------------------------------------------------------------------ in a spec
MIXED = """
network mixed {
    input x: f32[N, 64]
    features = linear(x, 8, bias=false, init=normal(std=0.1), learn=oja(rate=0.0005))
    output logits = linear(features, 10)
    train {
        data = "digits"
        batch_size = 32
        epochs = 1
        optimizer = sgd(lr=0.05)
        seed = 3
    }
}
"""


def test_the_dump_shows_which_rule_each_parameter_learns_by(load_spec):
    dump = load_spec(MIXED).dump()
    assert "param features.weight: f32[8, 64] = normal(mean=0.0, std=0.1) learns oja(rate=0.0005)" in dump
    assert "param logits.weight: f32[10, 8] = default\n" in dump  # gradient: nothing said


def test_a_rule_reaches_the_parameters_of_a_block_through_an_argument(load_spec):
    net = load_spec("""
block layer(x, width: int, learn) {
    return linear(x, width, bias=false, learn=learn)
}
network n {
    input x: f32[N, 4]
    h = layer(x, 3, learn=hebb(rate=0.5))
    output y = step(linear(h, 2, learn=perceptron(rate=1.0)))
}
""")
    assert {p: u.rule for p, u in net.graph.learning.items()} == {
        "h.linear.weight": "hebb", "linear.weight": "perceptron", "linear.bias": "perceptron"}


def test_gradient_and_local_rules_mix_in_one_network(load_spec):
    from specc.train.rules import Learner
    net = load_spec(MIXED)
    model = net.to_torch(seed=0)
    learner = Learner(net.graph, model)
    assert [g["params"] for g in learner.gradient_params()][0] == [model.logits.weight,
                                                                    model.logits.bias]
    x = torch.randn(5, 64, generator=torch.Generator().manual_seed(1))
    before = model.features.weight.detach().clone()
    named, seen = learner.forward(x)
    learner.apply_local(seen)
    y = x @ before.t()
    expected = before + 0.0005 * (y.t() @ x - (y * y).sum(0)[:, None] * before)  # Oja
    assert torch.allclose(model.features.weight, expected, atol=1e-6)
    assert not model.features.weight.requires_grad and model.logits.weight.requires_grad


def test_training_with_rules_is_deterministic_under_a_seed(write_spec, tmp_path):
    from safetensors.torch import load_file
    from conftest import run_main
    spec = write_spec(MIXED)
    for run in ("a", "b"):
        r = run_main("train", spec, "--out", tmp_path / run, "--json")
        assert r.returncode == 0, r.stderr
    a = load_file(str(tmp_path / "a" / "checkpoint.safetensors"))
    b = load_file(str(tmp_path / "b" / "checkpoint.safetensors"))
    assert a["model/features.weight"].abs().sum() > 0
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("model/"))


POLICY = """
network policy {
    input x: f32[N, 3]
    mean = linear(x, 1, bias=false, init=[[0.5, -1.0, 0.25]], learn=reinforce())
    output a = normal(mean, 0.5)
}
"""


def test_reinforce_follows_the_score_function_with_a_running_baseline(load_spec):
    """-(R - b) log N(a; mu, s) has gradient -(R - b) (a - mu) / s^2 * x with respect to w."""
    from specc.train.rules import Learner
    net = load_spec(POLICY)
    state = "mean.reinforce_baseline"  # the running mean of R: a state parameter, checkpointed
    assert net.graph.params[state].state and "state mean.reinforce_baseline" in net.dump()
    model = net.to_torch(seed=0)
    learner = Learner(net.graph, model)
    torch.manual_seed(0)
    x = torch.tensor([[1.0, 2.0, -1.0], [0.5, 0.0, 2.0]])
    named, seen = learner.forward(x)
    reward = torch.tensor([1.0, -2.0])
    policy, baseline_loss = learner.surrogate(seen, reward)
    policy.backward()
    mu = x @ torch.tensor([0.5, -1.0, 0.25])
    a = named["a"][:, 0]
    expected = -((reward - 0.0) * (a - mu) / 0.25)[:, None] * x  # b was 0 before this step
    assert torch.allclose(model.mean.weight.grad, expected.mean(0, keepdim=True), atol=1e-6)
    assert float(dict(model.named_buffers())[state]) == pytest.approx(0.1 * -0.5)  # 0.9*0 + 0.1*mean(R)
    assert float(baseline_loss) == 0.0


def test_reinforce_with_a_baseline_head_trains_the_head_towards_the_reward(load_spec):
    from specc.train.rules import Learner
    net = load_spec("""
network policy {
    input x: f32[N, 3]
    h = linear(x, 4)
    output a = categorical(linear(h, 2, learn=reinforce(baseline="b")))
    train output b = linear(h, 1)
}
""")
    model = net.to_torch(seed=0)
    learner = Learner(net.graph, model)
    named, seen = learner.forward(torch.randn(5, 3))
    reward = torch.arange(5.0)
    policy, baseline_loss = learner.surrogate(seen, reward)
    b = named["b"][:, 0]
    assert torch.allclose(baseline_loss, ((b - reward) ** 2).mean())
    logp = torch.log_softmax(seen[learner.stochastic[0].inputs[0]], -1)
    chosen = logp.gather(1, named["a"][:, None])[:, 0]
    assert torch.allclose(policy, -((reward - b).detach() * chosen).mean())


STEPS = """
network steps {
    input x: f32[N, 3]
    param w: f32[1, 3] = values([0.5, -1.0, 0.25])
    param c: f32[1] = zeros
    param v: f32[1, 3] = values([1.0, 2.0, 0.0])
    param d: f32[1] = zeros
    b0 = affine(x, v, d)
    a0 = normal(affine(x, w, c, learn=reinforce(baseline="b")), 0.5)
    x1 = x + a0
    b1 = affine(x1, v, d)
    a1 = normal(affine(x1, w, c, learn=reinforce(baseline="b")), 0.5)
    output y = concat([a0, a1], axis=1)
    train output b = concat([reshape(b0, [1, 1]), reshape(b1, [1, 1])], axis=1)
}
"""


def test_reinforce_judges_each_action_by_the_baseline_computed_before_it(load_spec):
    """A per-step baseline head: a0 is judged by b0 (b1 has seen a0's outcome), a1 by b1;
    -mean((R - b0) log p(a0) + (R - b1) log p(a1)), and the head regresses on R at both."""
    from specc.train.rules import Learner
    net = load_spec(STEPS)
    model = net.to_torch(seed=0)
    learner = Learner(net.graph, model)
    reshaped = {net.graph.node(net.graph.values[v].producer).inputs[0]: v
                for v in net.graph.node(net.graph.values["b"].producer).inputs}
    judged = {n: j.values for n, j in learner.judges.items()}
    assert judged == {"a0": (reshaped["b0"],), "a1": (reshaped["b1"],)}
    torch.manual_seed(0)
    x = torch.tensor([[1.0, 2.0, -1.0], [0.5, 0.0, 2.0]])
    named, seen = learner.forward(x)
    reward = torch.tensor([1.0, -2.0])
    policy, base_loss = learner.surrogate(seen, reward)
    w = torch.tensor([0.5, -1.0, 0.25])
    v = torch.tensor([1.0, 2.0, 0.0])
    a0, a1 = named["y"][:, 0], named["y"][:, 1]
    x1 = x + a0[:, None]
    b0, b1 = x @ v, x1 @ v
    def logp(a, mu):
        return -((a - mu) ** 2) / 0.5 - math.log(0.5) - 0.5 * math.log(2 * math.pi)
    expected = -((reward - b0) * logp(a0, x @ w) + (reward - b1) * logp(a1, x1 @ w)).mean()
    assert torch.allclose(policy, expected, atol=1e-5)
    assert torch.allclose(base_loss, ((torch.stack([b0, b1], 1) - reward[:, None]) ** 2).mean())
