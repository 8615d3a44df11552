"""The bundled zoo: each spec with the figures its paper or reference implementation gives.

`reference` is what the pinned counts are checked against (tests/test_zoo.py)."""
from __future__ import annotations

from .network import load_all
from .resources import specs_dir

# network -> (reference parameter count, reference MACs or None, where the figures come from)
REFERENCE = {
    "lenet5": (60_000, 325_680, "LeCun et al. 1998, section II.B (60,000 free parameters)"),
    "resnet18": (11_689_512, 1_814_073_344, "torchvision resnet18; paper 1.8 GFLOPs"),
    "resnet34": (21_797_672, 3_663_761_408, "torchvision resnet34; paper 3.6 GFLOPs"),
    "resnet50": (25_557_032, 4_089_184_256, "torchvision resnet50 (v1.5); paper 3.8 GFLOPs (v1)"),
    "resnet101": (44_549_160, 7_801_405_440, "torchvision resnet101 (v1.5); paper 7.6 GFLOPs"),
    "resnet152": (60_192_808, 11_513_626_624, "torchvision resnet152 (v1.5); paper 11.3 GFLOPs"),
    "googlenet": (6_624_904, 1_498_376_192, "torchvision googlenet, no aux heads (1.498 GFLOPS)"),
    "googlenet_paper": (6_998_552, None, "Szegedy et al. 2015 Table 1 widths, plain 7x7 stem"),
}


def zoo_rows() -> list[dict]:
    rows = []
    for path in sorted(specs_dir().glob("*.net")):
        for name, net, reason in load_all(path):
            if net is None:
                continue
            ref = REFERENCE.get(name, (None, None, ""))
            rows.append({"spec": path.name, "network": name, "params": net.params,
                         "macs": net.macs, "reference_params": ref[0], "reference_macs": ref[1],
                         "source": ref[2], "doc": net.graph.doc.splitlines()[0] if net.graph.doc else ""})
    return rows
