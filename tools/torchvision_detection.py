"""Detection fixtures for tools/torchvision_reference.py: torchvision's detectors up to their
heads, and the detections its post-processing makes of those heads' outputs.

A detector's fixture holds what a classifier's does (`state_dict`, `dtypes`,
`trainable_params`, `parity`) with `parity` summarising every output of the spec's network:
the heads' `cls_logits` [N, A, C] and `bbox_regression` [N, A, 4] as torchvision's
head.forward returns them (concatenated over levels) and the feature maps the anchors are
laid on (`level0`, `level1`, ...), computed by calling `model.backbone` and `model.head` on
the already-transformed input (no GeneralizedRCNNTransform / SSD transform). `detections`
holds, per image, every row (boxes, scores, labels) of `model.postprocess_detections` on
those outputs with the anchors of `model.anchor_generator` over an ImageList of the input's
size (image_sizes = that size), and per level the anchors' count and first rows: what a
post-processing that ends in those ops must reproduce.

At the filling rule's weights a detector's features grow to ~1e4 (He-uniform residual
stages), so its logits would saturate every score at 1.0 and its box deltas every clamp. The
detections are therefore made after one change, recorded in `detections.scale`: the weight
of each prediction conv (RetinaNet's cls_logits and bbox_reg, SSDLite's module_list.i.1,
SSD's module_list.i) is multiplied by a factor (3 significant digits) that brings its
output's standard deviation to about 1 (class logits) or 0.3 (box deltas); the filled model is otherwise unchanged, so a
test rebuilds it by filling by the rule and scaling those keys. `score_gaps` records how
distinct the kept scores are: per image the rows, the smallest gap between two scores, the
pairs that are equal and the pairs closer than 1e-5 (where float32 rounding of two correct
implementations could swap them in NMS's order).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torchvision
from torchvision.models.detection import retinanet, ssd, ssdlite
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import misc as misc_nn_ops


def retinanet_resnet50_fpn(**kwargs):
    """torchvision's builder as it makes the published COCO_V1 model (FrozenBatchNorm2d in
    the backbone, eps 0.0 after overwrite_eps), every layer trainable: the builder itself
    would need the weights to pick that layout."""
    backbone = torchvision.models.resnet50(weights=None,
                                           norm_layer=misc_nn_ops.FrozenBatchNorm2d)
    backbone = retinanet._resnet_fpn_extractor(
        backbone, 5, returned_layers=[2, 3, 4],
        extra_blocks=retinanet.LastLevelP6P7(256, 256))
    model = retinanet.RetinaNet(backbone, kwargs.pop("num_classes", 91), **kwargs)
    retinanet.overwrite_eps(model, 0.0)
    return model


def ssdlite320_mobilenet_v3_large(**kwargs):
    """The constructor offline (no weights): reduced tail, as its COCO_V1 weights have."""
    return ssdlite.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, **kwargs)


DETECTORS = (retinanet.RetinaNet, ssd.SSD)
def ssd300_vgg16(**kwargs):
    """The constructor offline (no weights): every layer trainable."""
    return ssd.ssd300_vgg16(weights=None, weights_backbone=None, **kwargs)


# name -> (constructor, parity input [H, W])
DETECTION = {
    "retinanet_resnet50_fpn": (retinanet_resnet50_fpn, (256, 256)),
    "ssdlite320_mobilenet_v3_large": (ssdlite320_mobilenet_v3_large, (320, 320)),
    "ssd300_vgg16": (ssd300_vgg16, (300, 300)),
}


def outputs(model, x) -> dict:
    """The backbone's feature maps and the heads' outputs, by the spec's output names."""
    with torch.no_grad():
        features = list(model.backbone(x).values())
        head = model.head(features)
    out = {"cls_logits": head["cls_logits"], "bbox_regression": head["bbox_regression"]}
    out.update({f"level{i}": f for i, f in enumerate(features)})
    return out


TARGET_STD = {"cls_logits": 1.0, "bbox_regression": 0.3}


def prediction_keys(model, output: str) -> list[str]:
    """The state_dict keys of the convs that make `output` (one per level for SSDLite)."""
    keys = [k for k in model.state_dict() if k.endswith(".weight") and k.startswith(
        "head.classification_head." if output == "cls_logits" else "head.regression_head.")]
    if isinstance(model, retinanet.RetinaNet):
        leaf = "cls_logits" if output == "cls_logits" else "bbox_reg"
        return [k for k in keys if k.split(".")[2] == leaf]
    if isinstance(model, ssd.SSD) and isinstance(model.head, ssdlite.SSDLiteHead):
        return [k for k in keys if k.endswith(".1.weight") and len(k.split(".")) == 6]
    return keys  # SSD's head: one conv per level


def _significant(v: float) -> float:
    return float(f"{v:.3g}")


def scale_predictions(model, x) -> dict:
    """Scale the prediction convs' weights in place (see the module's docstring)."""
    with torch.no_grad():
        head = model.head(list(model.backbone(x).values()))
        scale = {}
        for output, target in TARGET_STD.items():
            factor = _significant(target / float(head[output].std()))
            for key in prediction_keys(model, output):
                model.state_dict()[key].mul_(factor)
                scale[key] = factor
    return scale


def detections(model, x) -> dict:
    """torchvision's post-processing of the heads' outputs, as its forward runs it in eval
    mode (RetinaNet splits the outputs and anchors per level first), after the prediction
    convs are scaled (`scale`)."""
    scale = scale_predictions(model, x)
    size = tuple(x.shape[-2:])
    images = ImageList(x, [size] * x.shape[0])
    with torch.no_grad():
        features = list(model.backbone(x).values())
        head = model.head(features)
        anchors = model.anchor_generator(images, features)
        per_place = model.anchor_generator.num_anchors_per_location()
        counts = [f.shape[2] * f.shape[3] * a for f, a in zip(features, per_place)]
        if isinstance(model, retinanet.RetinaNet):
            split = {k: list(v.split(counts, dim=1)) for k, v in head.items()}
            found = model.postprocess_detections(split, [list(a.split(counts)) for a in anchors],
                                                 images.image_sizes)
        else:
            found = model.postprocess_detections(head, anchors, images.image_sizes)
    first = anchors[0]
    starts = np.cumsum([0] + counts)[:-1]
    levels = [{"count": int(c), "first": first[s:s + 4].tolist()} for s, c in zip(starts, counts)]
    images_out, gaps = [], []
    for d in found:
        scores = d["scores"].numpy().astype(np.float64)
        ordered = np.sort(scores)
        diffs = np.diff(ordered)
        gaps.append({"rows": int(scores.size), "smallest_gap": float(diffs.min()) if diffs.size
                     else None, "equal_pairs": int((diffs == 0).sum()),
                     "pairs_within_1e-5": int((diffs < 1e-5).sum())})
        images_out.append({"boxes": d["boxes"].tolist(), "scores": d["scores"].tolist(),
                           "labels": d["labels"].tolist()})
    return {"scale": scale, "image_size": list(size), "anchors": levels, "images": images_out,
            "score_gaps": gaps, "settings": _settings(model)}


def _settings(model) -> dict:
    names = ("score_thresh", "nms_thresh", "detections_per_img", "topk_candidates")
    out = {n: getattr(model, n) for n in names if hasattr(model, n)}
    out["box_coder_weights"] = list(model.box_coder.weights) if hasattr(model, "box_coder") \
        else list(model.head.regression_head.box_coder.weights)
    return out


def check_finite(name: str, out: dict) -> None:
    for k, v in out.items():
        if not math.isfinite(float(v.abs().max())):
            raise SystemExit(f"{name}: the filled model's output {k!r} is not finite")
