"""Verification of a network whose weights make it ill-conditioned (issue 10: EfficientNet-B4
and larger, filled by the fixtures' rule, failed export verification with errors up to 0.73
while their default initialisation verified to 5.5e-7). The cause is the weights, not the
lowering: eval-mode batch norm with the rule's made-up running statistics normalises nothing,
each residual block grows the activations, and float32 rounding is amplified until torch's
own float32 output is far from float64. A narrow, deep EfficientNet shows it in seconds."""
import numpy as np
import pytest
import torch

import specc
from specc.backends.onnx_export import emit
from specc.core.diagnostics import SpeccError

import torchvision_rule as rule

# B7's depth (3.1) at a quarter of B0's width on 32 px: measured torch float32 vs float64
# 1.6e-3, onnxruntime vs torch 2.1e-3 (both above the 1e-4 tolerance); B4's depth at 0.25
# width stays at 2e-5 and verifies by its outputs
SPEC = ('specc 1\nimport "efficientnet.net"\n'
        "network deep = efficientnet(width=0.25, depth=3.1, size=32, dropout=0.0, classes=10)\n")


@pytest.fixture(scope="module")
def deep(tmp_path_factory):
    path = tmp_path_factory.mktemp("cond") / "deep.net"
    path.write_text(SPEC)
    net = specc.load(path, "deep")
    module = net.to_torch().eval()
    state = {k: torch.from_numpy(rule.fill(k, tuple(v.shape)))
             for k, v in module.state_dict().items()}
    module.load_state_dict(state, strict=True)
    return net, module, {k: v.numpy() for k, v in state.items()}


def test_the_rule_filled_network_is_ill_conditioned_in_torch_itself(deep):
    """The premise: no float32 program can match torch to 1e-4 here."""
    net, module, _ = deep
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32))
    with torch.inference_mode():
        narrow = module(x).numpy()
        wide = module.double()(x.double()).numpy()
    module.float()
    assert np.abs(narrow - wide).max() / np.abs(wide).max() > 1e-4


def test_an_ill_conditioned_network_verifies_node_by_node(deep, tmp_path):
    net, _, weights = deep
    result = net.to_onnx(tmp_path / "deep.onnx", weights=weights)
    assert result.max_rel_error <= 1e-4
    assert "computed by torch from onnxruntime's inputs: the weights make the outputs " \
           "ill-conditioned" in result.compared


def test_a_wrong_weight_in_an_ill_conditioned_network_still_fails(deep, tmp_path):
    """The node-by-node check is no looser: one batch-norm scale written 1 % off (the
    reference module keeps the right one) is caught at its own value."""
    net, module, weights = deep
    key = next(k for k in weights if k.startswith("features.4.") and k.endswith("1.weight")
               and weights[k].ndim == 1)
    wrong = dict(weights)
    wrong[key] = weights[key] * np.float32(1.01)
    with pytest.raises(SpeccError, match="computed by torch from onnxruntime's inputs"):
        emit(net, wrong, tmp_path / "wrong.onnx", module=module)
    assert not (tmp_path / "wrong.onnx").exists()
