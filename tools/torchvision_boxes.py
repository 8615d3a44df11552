"""Reference fixtures for specc's detection ops from real torchvision (its AnchorGenerator,
DefaultBoxGenerator, BoxCoder, clip_boxes_to_image and batched_nms), written to
tests/fixtures/torchvision/boxes.json for tests/test_detection.py.

torchvision does not import beside specc's CPU torch: run this in a venv of its own
(tools/torchvision_reference.py says how to make one):

    OMP_NUM_THREADS=1 /work/tvenv/bin/python tools/torchvision_boxes.py

Inputs are made here from a seeded numpy generator and stored beside the outputs, so the
test feeds specc exactly what torchvision was given."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from torchvision.models.detection._utils import BoxCoder
from torchvision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import batched_nms, clip_boxes_to_image

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torchvision" / "boxes.json"


def _list(t) -> list:
    return t.detach().cpu().numpy().tolist()


def anchors() -> dict:
    """RetinaNet's generator at two levels of a 96 x 128 image (maps 12 x 16, 6 x 8)."""
    sizes = ((32, 40, 50), (64, 80, 101))
    ratios = ((0.5, 1.0, 2.0),) * 2
    gen = AnchorGenerator(sizes, ratios)
    image = torch.zeros(1, 3, 96, 128)
    feats = [torch.zeros(1, 4, 12, 16), torch.zeros(1, 4, 6, 8)]
    out = gen(ImageList(image, [(96, 128)]), feats)[0]
    return {"image": [96, 128], "maps": [[12, 16], [6, 8]], "sizes": sizes, "ratios": ratios,
            "anchors": _list(out)}


def default_boxes() -> dict:
    """SSDlite's generator (six levels, ratios 2 and 3, scales from 0.2 to 0.95) and SSD300's
    (steps), at small maps."""
    cases = []
    for kw, image, maps in (
            ({"aspect_ratios": [[2, 3]] * 3, "min_ratio": 0.2, "max_ratio": 0.95}, (64, 64),
             [(4, 4), (2, 2), (1, 1)]),
            ({"aspect_ratios": [[2], [2, 3]], "scales": [0.07, 0.15, 0.33],
              "steps": [8, 16]}, (48, 64), [(6, 8), (3, 4)])):
        gen = DefaultBoxGenerator(**kw)
        img = torch.zeros(1, 3, *image)
        feats = [torch.zeros(1, 2, *m) for m in maps]
        out = gen(ImageList(img, [image]), feats)[0]
        cases.append({"kwargs": kw, "scales": list(map(float, gen.scales)), "image": image,
                      "maps": maps, "boxes": _list(out)})
    return {"cases": cases}


def decode() -> dict:
    rng = np.random.default_rng(3)
    anchors_ = rng.uniform(0, 50, (40, 2)).astype(np.float32)
    anchors_ = np.concatenate([anchors_, anchors_ + rng.uniform(1, 30, (40, 2))], 1)
    deltas = rng.standard_normal((40, 4)).astype(np.float32) * 2
    deltas[:3, 2:] = 9.0  # past the clamp
    out = {}
    for name, weights in (("retinanet", (1.0, 1.0, 1.0, 1.0)), ("ssd", (10.0, 10.0, 5.0, 5.0))):
        coder = BoxCoder(weights, bbox_xform_clip=math.log(1000.0 / 16))
        boxes = coder.decode_single(torch.from_numpy(deltas), torch.from_numpy(anchors_))
        out[name] = {"weights": weights, "boxes": _list(boxes)}
    clipped = clip_boxes_to_image(torch.from_numpy(deltas * 30), (40, 50))
    return {"anchors": anchors_.tolist(), "deltas": deltas.tolist(), "decoded": out,
            "clip_image": [40, 50], "clipped": _list(clipped)}


def nms() -> dict:
    """batched_nms over two images of 300 candidates in 5 classes, then the best 50 of each,
    as RetinaNet's and SSD's postprocess_detections keep them."""
    rng = np.random.default_rng(5)
    images = []
    for _ in range(2):
        xy = rng.uniform(0, 200, (300, 2)).astype(np.float32)
        wh = rng.uniform(5, 60, (300, 2)).astype(np.float32)
        boxes = np.concatenate([xy, xy + wh], 1)
        scores = rng.uniform(0, 1, 300).astype(np.float32)
        labels = rng.integers(0, 5, 300)
        keep = batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores),
                           torch.from_numpy(labels), 0.5)
        keep = keep[scores[keep.numpy()] > 0.05][:50]
        images.append({"boxes": boxes.tolist(), "scores": scores.tolist(),
                       "labels": labels.tolist(), "keep": _list(keep)})
    return {"iou": 0.5, "score_threshold": 0.05, "max_detections": 50, "classes": 5,
            "images": images}


def main() -> None:
    torch.set_grad_enabled(False)
    data = {"torchvision": __import__("torchvision").__version__, "anchors": anchors(),
            "default_boxes": default_boxes(), "decode": decode(), "nms": nms()}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
