"""Names in an imported spec: paths (state-dict keys) from what the model calls things, and
valid spec names for inputs, outputs and variables."""
from __future__ import annotations

import os
import re

# words of the grammar (grammar/specc.lark) and literals: never a variable's name
RESERVED = {"specc", "import", "block", "network", "input", "output", "param", "fixed", "const",
            "train", "reference", "for", "in", "if", "else", "assert", "return", "as", "and",
            "or", "not", "true", "false", "none"}
_BAD = re.compile(r"[^A-Za-z0-9_]+")
_SEGMENTS = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
ROLES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
_RNN_ROLE = re.compile(r"(weight|bias)_(ih|hh)_l\d+(_reverse)?")  # torch.nn.RNN/LSTM/GRU's


def identifier(text: str, fallback: str = "x") -> str:
    """A valid spec name for `text`: other characters become '_', a leading digit gets a
    prefix, a reserved word a trailing '_'."""
    name = _BAD.sub("_", text).strip("_") or fallback
    if name[0].isdigit():
        name = f"{fallback}{name}" if fallback[-1:] != "_" else fallback + name
    return name + "_" if name in RESERVED else name


def segment(text: str) -> str:
    """One path segment (letters, digits, '_')."""
    return _BAD.sub("_", text).strip("_") or "x"


def path(text: str) -> str:
    """A dotted path with valid segments ('layer1.0.conv1'; 'gpu_0/conv1' -> 'gpu_0.conv1')."""
    parts = [segment(p) for p in re.split(r"[./]+", text.strip("./")) if p]
    return ".".join(parts) or "x"


def is_path(text: str) -> bool:
    return bool(_SEGMENTS.match(text))


def module_path(node_name: str) -> str | None:
    """The module path in a PyTorch exporter's node name ('/layer1/layer1.0/conv1/Conv' ->
    'layer1.0.conv1'): each scope either extends the path or is already qualified; the last
    segment is the op. None for names of another form."""
    if not node_name.startswith("/"):
        return None
    scopes = [s for s in node_name.split("/")[1:-1] if s]
    qualified = ""
    for s in scopes:
        qualified = s if qualified and s.startswith(qualified + ".") else \
            (f"{qualified}.{s}" if qualified else s)
    return path(qualified) if qualified else None


_WEIGHT_SUFFIX = re.compile(r"[._/](w|W|weight|weights|kernel|filter)(_\d+)?$")


def owner_of(names: list[str]) -> str | None:
    """The path these parameters' names share: PyTorch's 'fc.weight', 'fc.bias' -> 'fc';
    Caffe2's 'res2_0_branch2a_bn_s_0', '..._bn_b_0' -> 'res2_0_branch2a_bn'; one weight
    'conv1_w_0' -> 'conv1'. None when they share nothing readable."""
    owners = set()
    for n in names:
        head, dot, role = n.rpartition(".")
        owners.add(head if dot and head and (role in ROLES or _RNN_ROLE.fullmatch(role))
                   else None)
    if len(owners) == 1 and None not in owners:
        return path(owners.pop())
    if len(set(names)) == 1:
        m = _WEIGHT_SUFFIX.search(names[0])
        return path(names[0][:m.start()]) if m and m.start() > 0 else None
    common = os.path.commonprefix(names)
    if common and all(n[len(common) - 1] in "._/-" for n in names):
        head = common.rstrip("._/-")
        return path(head) if head and any(c.isalpha() for c in head) else None
    return None


def common_prefix(names: list[str]) -> str:
    """A leading 'scope/' that every scoped name shares (Caffe2's 'gpu_0/'), to leave out
    of paths; '' when there is none."""
    heads = {n.split("/", 1)[0] for n in names}
    head = heads.pop() if len(heads) == 1 else ""
    return head + "/" if head else ""
