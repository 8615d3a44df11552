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
    "googlenet_aux": (13_004_888, 1_506_748_416, "torchvision googlenet(aux_logits=True)"),
    "googlenet_paper": (6_998_552, None, "Szegedy et al. 2015 Table 1 widths, plain 7x7 stem"),
    "alexnet": (61_100_840, 714_188_480, "torchvision alexnet (0.714 GFLOPS)"),
    "alexnet_paper": (60_965_224, 724_406_816, "Krizhevsky et al. 2012, two-GPU layout, 227 input"),
    "vgg11": (132_863_336, 7_609_090_048, "torchvision vgg11 (7.609 GFLOPS)"),
    "vgg13": (133_047_848, 11_308_466_176, "torchvision vgg13 (11.308 GFLOPS)"),
    "vgg16": (138_357_544, 15_470_264_320, "torchvision vgg16 (15.47 GFLOPS)"),
    "vgg19": (143_667_240, 19_632_062_464, "torchvision vgg19 (19.632 GFLOPS)"),
    "resnet20": (269_722, 40_551_040, "He et al. 2016 Table 6 (0.27M), option A"),
    "resnet32": (464_154, 68_862_592, "He et al. 2016 Table 6 (0.46M), option A"),
    "resnet44": (658_586, 97_174_144, "He et al. 2016 Table 6 (0.66M), option A"),
    "resnet56": (853_018, 125_485_696, "He et al. 2016 Table 6 (0.85M), option A"),
    "resnet110": (1_727_962, 252_887_680, "He et al. 2016 Table 6 (1.7M), option A"),
    "mp_and": (0, 2, "McCulloch & Pitts 1943: fixed weights (1, 1), threshold 2"),
    "mp_or": (0, 2, "McCulloch & Pitts 1943: fixed weights (1, 1), threshold 1"),
    "mp_not": (0, 1, "McCulloch & Pitts 1943: fixed weight -1, threshold 0"),
    "mp_nand": (0, 2, "McCulloch & Pitts 1943: fixed weights (-1, -1), threshold -1"),
    "mp_xor": (0, 6, "McCulloch & Pitts 1943: 3 units, 6 fixed weights"),
    "perceptron": (5_130, 209_920, "Rosenblatt 1958, 10 R-units x (512 + 1) for the digits"),
    "mark1": (4_104, 208_896, "Mark I: 8 R-units x (512 weights + threshold) = 4,104"),
    "elman": (1_610, 9_536, "Elman 1990: W 8x32 and U 32x32 shared over 8 steps, + readout"),
    "tc": (75, 640, "Rumelhart et al. 1986: 10 shared + 8x8 + 1 output weights"),
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
