"""The report's two MNIST classifiers, their KAN-head variants and flat [784, 256, 10] nets.

Every model takes images [N, 1, 28, 28] in [0, 1] (white digit on black) and returns logits [N, 10];
the MNIST normalisation is the first op of `forward_features`, so it is inside any exported graph.
"""
import itertools

import torch
from torch import nn

from models.blocks import BasicResBlock, DepthwiseSeparableConv, SEBlock, SelfAttention
from models.layers import BSplineKANLayer, FasterKANLayer, FastKANLayer

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def normalize(x: torch.Tensor) -> torch.Tensor:
    return (x - MNIST_MEAN) * (1.0 / MNIST_STD)


def stem(dropout: float) -> list[nn.Module]:
    """Conv 1→32, ReLU, BN, 2×2 max-pool, dropout: the first five rows of both report tables."""
    return [nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(32), nn.MaxPool2d(2), nn.Dropout(dropout)]


class EnhancedFeatureExtractor(nn.Module):
    """FasterKANvolver's CNN: [N, 1, 28, 28] -> [N, 256] (report FasterKAN table rows 1–45)."""

    def __init__(self, dropout: float = 0.1):
        super().__init__()
        self.layers = nn.Sequential(
            *stem(dropout),
            BasicResBlock(32, 64), SEBlock(64), nn.MaxPool2d(2), nn.Dropout(dropout),  # 14×14 -> 7×7
            DepthwiseSeparableConv(64, 128, 3), nn.ReLU(),  # 7×7 -> 5×5 (no padding)
            BasicResBlock(128, 256), SEBlock(256), nn.MaxPool2d(2), nn.Dropout(dropout),  # 5×5 -> 2×2
            SelfAttention(256), nn.AdaptiveAvgPool2d(1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x).flatten(1)


def mlp_feature_extractor(dropout: float) -> nn.Sequential:
    """The MLP model's CNN: [N, 1, 28, 28] -> [N, 256, 1, 1] (report MLP table rows 1–58)."""
    return nn.Sequential(
        *stem(dropout),
        BasicResBlock(32, 64, bias=True, relu_module=True, pre_convs=3), SEBlock(64),
        nn.MaxPool2d(2), nn.Dropout(dropout),  # 14×14 -> 7×7
        nn.Conv2d(64, 128, 3, padding=1), DepthwiseSeparableConv(128, 128, 3, padding=1), nn.ReLU(),
        BasicResBlock(128, 256, bias=True, relu_module=True, pre_convs=3), SEBlock(256),
        nn.MaxPool2d(2), nn.Dropout(dropout),  # 7×7 -> 3×3
        nn.Conv2d(256, 256, 2),  # 3×3 -> 2×2
        SelfAttention(256), nn.AdaptiveAvgPool2d(1),
    )


class Classifier(nn.Module):
    """Backbone + head. `forward_features` gives [N, F]; `forward_head` gives logits [N, 10]."""

    def __init__(self, features: nn.Module, head: nn.Module):
        super().__init__()
        self.features = features
        self.head = head

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(normalize(x)).flatten(1)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


KAN_LAYERS = {"fasterkan": FasterKANLayer, "fastkan": FastKANLayer, "bsplinekan": BSplineKANLayer}


def kan_head(kind: str, widths: list[int], **layer_args) -> nn.Sequential:
    """A stack of KAN layers of one kind through `widths`, e.g. [256, 128, 64, 32, 16, 10]."""
    layer = KAN_LAYERS[kind]
    return nn.Sequential(*(layer(a, b, **layer_args) for a, b in itertools.pairwise(widths)))
