"""The baselines: the same networks written by hand in plain PyTorch, as a person would."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

C3_TABLE = [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [0, 4, 5], [0, 1, 5], [0, 1, 2, 3],
            [1, 2, 3, 4], [2, 3, 4, 5], [0, 3, 4, 5], [0, 1, 4, 5], [0, 1, 2, 5], [0, 1, 3, 4],
            [1, 2, 4, 5], [0, 2, 3, 5], [0, 1, 2, 3, 4, 5]]


class BasicBlock(nn.Module):
    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = None
        if stride != 1 or cin != width:
            self.downsample = nn.Sequential(nn.Conv2d(cin, width, 1, stride, bias=False),
                                            nn.BatchNorm2d(width))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class _ResNet(nn.Module):
    """The stem, four stages and the head, named as torchvision names them; `stages` makes
    the four stages (called after the stem is made, so initialisation draws in the same order)."""

    def __init__(self, stages, features: int, classes: int):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1, self.layer2, self.layer3, self.layer4 = stages()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(features, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _basic_stages() -> list:
    layers, cin = [], 64
    for stage, width in enumerate((64, 128, 256, 512)):
        blocks = [BasicBlock(cin, width, 1 if stage == 0 else 2), BasicBlock(width, width, 1)]
        layers.append(nn.Sequential(*blocks))
        cin = width
    return layers


class ResNet18(_ResNet):
    def __init__(self, classes: int = 1000):
        super().__init__(_basic_stages, 512, classes)


class Bottleneck(nn.Module):
    """torchvision's v1.5 bottleneck: the stride sits on the 3x3 convolution."""

    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        out = width * 4
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False),
                                            nn.BatchNorm2d(out))

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + (x if self.downsample is None else self.downsample(x)))


def _bottleneck_stages(depths) -> list:
    layers, cin = [], 64
    for stage, (width, depth) in enumerate(zip((64, 128, 256, 512), depths)):
        blocks = [Bottleneck(cin if i == 0 else width * 4, width,
                             2 if stage > 0 and i == 0 else 1) for i in range(depth)]
        layers.append(nn.Sequential(*blocks))
        cin = width * 4
    return layers


class BottleneckResNet(_ResNet):
    """ResNet-50/101/152 as torchvision writes them (same state_dict keys)."""

    def __init__(self, depths=(3, 4, 6, 3), classes: int = 1000):
        super().__init__(lambda: _bottleneck_stages(depths), 2048, classes)


DEPTHS = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3), "resnet152": (3, 8, 36, 3)}


def squash(x):
    return 1.7159 * torch.tanh(2.0 / 3.0 * x)


class Subsample(nn.Module):
    def __init__(self, maps: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(maps).uniform_(-0.6, 0.6))
        self.bias = nn.Parameter(torch.empty(maps).uniform_(-0.6, 0.6))

    def forward(self, x):
        return F.avg_pool2d(x, 2) * 4.0 * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.s2 = Subsample(6)
        self.c3 = nn.Conv2d(6, 16, 5)
        mask = torch.zeros(16, 6, 1, 1)
        for j, row in enumerate(C3_TABLE):
            mask[j, row] = 1.0
        self.register_buffer("c3_mask", mask)
        self.s4 = Subsample(16)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        self.register_buffer("codes", torch.randint(0, 2, (10, 84)).float() * 2 - 1)

    def forward(self, x):
        x = self.s2(squash(self.c1(x)))
        x = F.conv2d(squash(x), self.c3.weight * self.c3_mask, self.c3.bias)
        x = squash(self.c5(squash(self.s4(squash(x)))))
        x = squash(self.f6(torch.flatten(x, 1)))
        return -((x.unsqueeze(1) - self.codes) ** 2).sum(-1)
