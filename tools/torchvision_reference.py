"""Independent reference fixtures from real torchvision, for the zoo's parity tests.

torchvision does not import beside specc's CPU torch, so this tool runs in a venv of its own
and writes small JSON files that the tests read (tests/fixtures/torchvision/<name>.json):

    python3 -m venv /work/tvenv
    /work/tvenv/bin/pip install -q torch==2.14.1 torchvision==0.29.1
    OMP_NUM_THREADS=1 /work/tvenv/bin/python tools/torchvision_reference.py          # all
    OMP_NUM_THREADS=1 /work/tvenv/bin/python tools/torchvision_reference.py vit_b_16 # some

For each constructor (no pretrained weights: constructors work offline) a fixture holds

- `state_dict`: every key with its shape, at the constructor's defaults, in torchvision's
  order, `dtypes` (the entries that are not float32: batch norm's counters, the relative
  position indices) and `trainable_params` (the count torchvision's model cards publish);
- `parity`: the constructor keyword arguments and input shape of a cheap parity check, and
  the eval-mode output (a segmentation model's `out`; `aux_output` for its `aux`; `more`:
  the same at other input sizes) of the model on `tests/torchvision_rule.sample_input(shape)`
  after every parameter and batch-norm statistic was set to `tests/torchvision_rule.fill(key,
  shape)` (other buffers keep the values the model computes): its shape, L2 norm, largest
  magnitude, the first values of each sample and four projections; and `float32_error`, how
  far that float32 output lies from the same model run in float64 (deep networks such as
  EfficientNet-B5 carry ~1.6e-5 of float32 rounding at these weights: two correct float32
  implementations with different kernels differ by as much).

The filling rule depends on a key's name and shape only, so a test fills a specc-built module
the same way, loads it with strict=True and compares (tests/torchvision_parity.py). Where a
model allows it the parity check runs on a smaller input (or, for ViT, a smaller image_size,
which changes only the position table's length); the layout is always the default one.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
from pathlib import Path

import torch
import torchvision

import torchvision_detection as detection

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "torchvision"

_spec = importlib.util.spec_from_file_location("torchvision_rule",
                                               ROOT / "tests" / "torchvision_rule.py")
rule = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rule)

_NO_INIT = {"init_weights": False}
# name -> (constructor kwargs, parity kwargs added to them, parity input side)
MODELS = {
    **{f"resnet{d}": ({}, {}, 224) for d in (18, 34, 50, 101, 152)},
    "alexnet": ({}, {}, 224),
    **{f"vgg{d}": ({}, {}, 224) for d in (11, 13, 16, 19)},
    **{f"vgg{d}_bn": ({}, {}, 224) for d in (11, 13, 16, 19)},
    "googlenet": ({"aux_logits": False, **_NO_INIT}, {}, 224),
    **{f"densenet{d}": ({}, {}, 64) for d in (121, 161, 169, 201)},
    "mobilenet_v2": ({}, {}, 64),
    "mobilenet_v3_small": ({}, {}, 64),
    "mobilenet_v3_large": ({}, {}, 64),
    **{f"efficientnet_b{i}": ({}, {}, 64) for i in range(8)},
    "vit_b_16": ({}, {"image_size": 64}, 64),
    "vit_b_32": ({}, {"image_size": 64}, 64),
    "vit_l_16": ({}, {"image_size": 64}, 64),
    "inception_v3": ({"aux_logits": True, **_NO_INIT}, {}, 299),
    "squeezenet1_0": ({}, {}, 64),
    "squeezenet1_1": ({}, {}, 64),
    **{f"shufflenet_v2_x{w}": ({}, {}, 64) for w in ("0_5", "1_0", "1_5", "2_0")},
    **{n: ({}, {}, 64) for n in ("resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d",
                                 "wide_resnet50_2", "wide_resnet101_2")},
    **{f"mnasnet{a}": ({}, {}, 64) for a in ("0_5", "0_75", "1_0", "1_3")},
    **{f"regnet_{k}_{s}": ({}, {}, 64) for k, sizes in (
        ("x", ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")),
        ("y", ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf", "128gf")))
       for s in sizes},
    **{f"convnext_{s}": ({}, {}, 64) for s in ("tiny", "small", "base", "large")},
    **{f"efficientnet_v2_{s}": ({}, {}, 64) for s in ("s", "m", "l")},
    # 112 for Swin: the last stages are padded to the window, and patch merging pads odd sides
    **{n: ({}, {}, 112) for n in ("swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s",
                                  "swin_v2_b")},
    "maxvit_t": ({}, {}, 224),  # every stage's grid must divide into 7x7 partitions
}
# torchvision.models.segmentation: a dict {"out", "aux"} at any input size; the auxiliary
# head as its COCO weights were trained (aux_loss=True; LR-ASPP has none), no backbone
# weights (the default would download them). Two sizes, H != W and not multiples of 8.
_OFFLINE = {"weights_backbone": None}
SEGMENTATION = {
    **{n: ({"aux_loss": True, **_OFFLINE}, {}, [(40, 56), (33, 47)])
       for n in ("fcn_resnet50", "fcn_resnet101", "deeplabv3_resnet50", "deeplabv3_resnet101",
                 "deeplabv3_mobilenet_v3_large")},
    "lraspp_mobilenet_v3_large": (_OFFLINE, {}, [(40, 56), (33, 47)]),
}
MODELS.update(SEGMENTATION)
# torchvision.models.detection up to the heads (tools/torchvision_detection.py), at the
# constructors' defaults, on one input size
MODELS.update({n: ({}, {}, [size]) for n, (_, size) in detection.DETECTION.items()})
BATCH = 2


def constructor(name: str):
    if name in detection.DETECTION:
        return detection.DETECTION[name][0]
    if name in SEGMENTATION:
        return getattr(torchvision.models.segmentation, name)
    return getattr(torchvision.models, name)


def layout(name: str, kwargs: dict) -> tuple[list, dict, int]:
    """State-dict keys and shapes, and the trainable count, without allocating weights."""
    try:
        with torch.device("meta"):
            model = constructor(name)(**kwargs)
    except NotImplementedError:  # RegNet computes its widths with tensors: build it for real
        model = constructor(name)(**kwargs)
    keys = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    dtypes = {k: str(v.dtype).removeprefix("torch.") for k, v in model.state_dict().items()
              if v.dtype != torch.float32}
    return keys, dtypes, sum(p.numel() for p in model.parameters() if p.requires_grad)


def filled(name: str, kwargs: dict) -> torch.nn.Module:
    model = constructor(name)(**kwargs).eval()
    params = {k for k, _ in model.named_parameters()}
    state = model.state_dict()  # keeps its metadata: MNASNet loads by its version
    for k, v in state.items():
        if rule.is_filled(k, k in params):
            state[k] = torch.from_numpy(rule.fill(k, tuple(v.shape)))
    model.load_state_dict(state, strict=True)
    return model


def outputs(model, x) -> dict:
    """The model's outputs by name: a classifier's one (`out`), a segmentation model's dict,
    a detector's heads and feature maps."""
    if isinstance(model, detection.DETECTORS):
        return {k: v.numpy() for k, v in detection.outputs(model, x).items()}
    with torch.no_grad():
        y = model(x)
    return {k: v.numpy() for k, v in y.items()} if isinstance(y, dict) else {"out": y.numpy()}


def parity_at(name: str, model, shape: tuple) -> dict:
    """The summaries of every output at one input shape, each with its float32 rounding."""
    x = torch.from_numpy(rule.sample_input(shape))
    out = outputs(model.float(), x)
    exact = outputs(model.double(), x.double())
    model.float()
    for k, v in out.items():
        if not math.isfinite(float(abs(v).max())):
            raise SystemExit(f"{name}: the filled model's output {k!r} is not finite")
    entry = {"input": list(shape)}
    for k, v in out.items():
        prefix = "" if k == "out" else k + "_"
        summary = rule.summary(v)
        # the reference's own float32 rounding: its output against the same model in
        # float64, measured as the parity test measures specc's error
        entry[prefix + "output"] = summary
        entry[prefix + "float32_error"] = rule.relative_error(summary,
                                                              rule.summary(exact[k]))
    return entry


def fixture(name: str) -> dict:
    kwargs, parity_kwargs, side = MODELS[name]
    keys, dtypes, trainable = layout(name, kwargs)
    model = filled(name, {**kwargs, **parity_kwargs})
    sizes = side if isinstance(side, list) else [(side, side)]
    first, *more = [parity_at(name, model, (BATCH, 3, *hw)) for hw in sizes]
    parity = {"kwargs": parity_kwargs, **first}
    if more:
        parity["more"] = more  # the same model at other input sizes
    extra = {}
    if name in detection.DETECTION:
        x = torch.from_numpy(rule.sample_input((BATCH, 3, *sizes[0])))
        extra["detections"] = detection.detections(model.float(), x)
    return {**extra, "constructor": name, "kwargs": kwargs, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "trainable_params": trainable,
            "state_dict": keys, "dtypes": dtypes, "parity": parity}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help=f"constructors (default: all {len(MODELS)})")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    unknown = [n for n in args.names if n not in MODELS]
    if unknown:
        p.error(f"unknown: {', '.join(unknown)}; known: {', '.join(MODELS)}")
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names or MODELS:
        data = fixture(name)
        path = args.out / f"{name}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, separators=(",", ":")) + "\n")
        tmp.replace(path)
        print(f"{name}: {data['trainable_params']:,} params, {len(data['state_dict'])} keys, "
              f"output {data['parity'].get('output', data['parity'].get('cls_logits_output'))['shape']} "
              f"-> {path.relative_to(ROOT)}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
