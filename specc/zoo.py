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
    "vgg_a": (132_863_336, 7_609_090_048, "Simonyan & Zisserman 2015 Table 1 A (Table 2: 133 M)"),
    "vgg_a_lrn": (132_863_336, 7_609_090_048, "Simonyan & Zisserman 2015 Table 1 A-LRN (133 M)"),
    "vgg_b": (133_047_848, 11_308_466_176, "Simonyan & Zisserman 2015 Table 1 B (133 M)"),
    "vgg_c": (133_638_952, 11_770_888_192, "Simonyan & Zisserman 2015 Table 1 C (134 M)"),
    "vgg_d": (138_357_544, 15_470_264_320, "Simonyan & Zisserman 2015 Table 1 D (138 M)"),
    "vgg_e": (143_667_240, 19_632_062_464, "Simonyan & Zisserman 2015 Table 1 E (144 M)"),
    "vgg11_bn": (132_868_840, 7_609_090_048, "torchvision vgg11_bn"),
    "vgg13_bn": (133_053_736, 11_308_466_176, "torchvision vgg13_bn"),
    "vgg16_bn": (138_365_992, 15_470_264_320, "torchvision vgg16_bn"),
    "vgg19_bn": (143_678_248, 19_632_062_464, "torchvision vgg19_bn"),
    "prelu_net_a": (178_032_072, 19_058_106_368, "He et al. 2015 Table 3 A (paper 1.96e10 ops)"),
    "prelu_net_b": (183_343_048, 23_219_904_512, "He et al. 2015 Table 3 B (paper 2.33e10 ops)"),
    "prelu_net_c": (330_623_944, 53_463_130_112, "He et al. 2015 Table 3 C (paper 5.30e10 ops)"),
    "bn_inception": (11_278_528, 1_948_605_440, "Ioffe & Szegedy 2015 Fig. 5 (paper: 13.6 M)"),
    "resnet50_v1": (25_557_032, 3_857_973_248, "He et al. 2016 Table 1, 3.8 GFLOPs"),
    "resnet101_v1": (44_549_160, 7_570_194_432, "He et al. 2016 Table 1, 7.6 GFLOPs"),
    "resnet152_v1": (60_192_808, 11_282_415_616, "He et al. 2016 Table 1, 11.3 GFLOPs"),
    "resnet1202": (19_421_274, 2_829_238_912, "He et al. 2016 Table 6 (19.4M), option A"),
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
    "densenet121": (7_978_856, 2_834_161_664,
           "torchvision densenet121 (2.834 GFLOPS); Huang et al. 2017 Table 1"),
    "densenet161": (28_681_000, 7_727_907_072,
           "torchvision densenet161 (7.728 GFLOPS)"),
    "densenet169": (14_149_480, 3_359_843_328,
           "torchvision densenet169 (3.36 GFLOPS)"),
    "densenet201": (20_013_928, 4_291_365_888,
           "torchvision densenet201 (4.291 GFLOPS)"),
    "mobilenet_v2": (3_504_872, 300_774_272,
           "torchvision mobilenet_v2 (0.301 GFLOPS); paper 3.4M, 300M MAdds"),
    "mobilenet_v3_large": (5_483_032, 216_589_760,
           "torchvision mobilenet_v3_large (0.217 GFLOPS); paper 5.4M, 219M"),
    "mobilenet_v3_small": (2_542_856, 56_510_400,
           "torchvision mobilenet_v3_small (0.057 GFLOPS); paper 2.5M, 56M"),
    "efficientnet_b0": (5_288_548, 385_814_752,
           "torchvision efficientnet_b0 (0.386 GFLOPS); paper 5.3M, 0.39B"),
    "efficientnet_b1": (7_794_184, 686_802_832,
           "torchvision efficientnet_b1 at 240 (0.687 GFLOPS); paper 7.8M, 0.70B"),
    "efficientnet_b2": (9_109_994, 993_561_872,
           "torchvision efficientnet_b2; paper 9.2M, 1.0B at 260 (torchvision evaluates at 288: 1.088)"),
    "efficientnet_b3": (12_233_232, 1_827_141_392,
           "torchvision efficientnet_b3 at 300 (1.827 GFLOPS); paper 12M, 1.8B"),
    "efficientnet_b4": (19_341_616, 4_393_771_024,
           "torchvision efficientnet_b4 at 380 (4.394 GFLOPS); paper 19M, 4.2B"),
    "efficientnet_b5": (30_389_784, 10_266_384_752,
           "torchvision efficientnet_b5 at 456 (10.266 GFLOPS); paper 30M, 9.9B"),
    "efficientnet_b6": (43_040_704, 19_067_593_536,
           "torchvision efficientnet_b6 at 528 (19.068 GFLOPS); paper 43M, 19B"),
    "efficientnet_b7": (66_347_960, 37_745_884_192,
           "torchvision efficientnet_b7 at 600 (37.746 GFLOPS); paper 66M, 37B"),
    "vit_b_16": (86_567_656, 17_563_828_224,
           "torchvision vit_b_16 (17.564 GFLOPS); paper Table 1: 86M"),
    "vit_b_32": (88_224_232, 4_409_186_304,
           "torchvision vit_b_32 (4.409 GFLOPS)"),
    "vit_l_16": (304_326_632, 61_554_712_576,
           "torchvision vit_l_16 (61.555 GFLOPS); paper Table 1: 307M"),
    "inception_v3": (27_161_264, None,
           "torchvision inception_v3 with its aux classifier; 5.713 GFLOPS without it"),
    "squeezenet1_0": (1_248_424, 818_924_576,
           "torchvision squeezenet1_0 (0.819 GFLOPS); paper 1.2M"),
    "squeezenet1_1": (1_235_496, 349_151_936,
           "torchvision squeezenet1_1 (0.349 GFLOPS)"),
    "shufflenet_v2_x0_5": (1_366_792, 40_476_448,
           "torchvision shufflenet_v2_x0_5 (0.04 GFLOPS); paper 41M FLOPs"),
    "shufflenet_v2_x1_0": (2_278_604, 144_907_992,
           "torchvision shufflenet_v2_x1_0 (0.145 GFLOPS); paper 146M"),
    "shufflenet_v2_x1_5": (3_503_624, 295_759_392,
           "torchvision shufflenet_v2_x1_5 (0.296 GFLOPS); paper 299M"),
    "shufflenet_v2_x2_0": (7_393_996, 583_253_464,
           "torchvision shufflenet_v2_x2_0 (0.583 GFLOPS); paper 591M"),
    "mark1_shapes": (4_104, 208_896, "Mark I, perceptron rule; theorem: 0 errors after "
                     "finitely many passes on separable classes"),
    "mark1_parity": (4_104, 208_896, "Mark I, perceptron rule; Minsky & Papert 1969: parity "
                     "is beyond it (never 0 errors)"),
    "hebb": (16_384, 16_384, "Hebb 1949 (no figures); outer-product memory 256 x 64, recall "
             "from 20 %-corrupted cues"),
    "snarc": (40, 800, "Minsky & Edmonds 1951: 40 units, one probability each (reconstruction); "
              "the rat learned the maze"),
    "neocognitron": (29_472, None, "Fukushima 1980: 24(25+1) + 2 x 24(600+1) a/b; each of 5 "
                     "patterns drives its own UC3 cell at any shift"),
    "glimpse": (29_393_929, None, "Yeung et al. 2016 official code defaults, without VGG-16; "
                "THUMOS'14 mAP@0.5 17.1"),
    "glimpse_stride": (29_392_904, None, "glimpse with a fixed stride: no location head "
                       "(-1,025)"),
    "glimpse_small": (35_913, None, "glimpse at 32 features, 64 hidden, 1 layer (tests)"),
    "glimpse_small_stride": (35_848, None, "glimpse_small with a fixed stride (-65)"),
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
