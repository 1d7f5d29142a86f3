"""CNN building blocks of the report's feature extractors (FasterKANvolver's EnhancedFeatureExtractor family).

Module order and naming follow the report's torchsummary tables: a module called twice (a shared ReLU)
shows up twice, and functional ops (F.relu, flatten) show up not at all.
"""
import torch
import torch.nn.functional as F
from torch import nn


class BasicResBlock(nn.Module):
    """Residual pair of 3×3 conv+BN, optionally preceded by `pre_convs` conv+BN stages that widen in_ch→out_ch.

    FasterKANvolver's block (the default): bias-free convs, functional ReLU, 1×1 conv+BN projection on the
    skip path when the width changes. The MLP model's table needs `pre_convs=3, bias=True,
    relu_module=True`: three biased conv+BN pairs (no ReLU row, so ReLU is functional there), then the
    residual pair whose shared ReLU module is called twice and so listed twice.
    """

    def __init__(self, in_ch: int, out_ch: int, bias: bool = False, relu_module: bool = False, pre_convs: int = 0):
        super().__init__()
        self.pre = nn.ModuleList(
            nn.Sequential(nn.Conv2d(in_ch if i == 0 else out_ch, out_ch, 3, padding=1, bias=bias),
                          nn.BatchNorm2d(out_ch))
            for i in range(pre_convs)
        )
        res_in = out_ch if pre_convs else in_ch
        self.downsample = None
        if res_in != out_ch:
            self.downsample = nn.Sequential(nn.Conv2d(res_in, out_ch, 1, bias=bias), nn.BatchNorm2d(out_ch))
        self.conv1 = nn.Conv2d(res_in, out_ch, 3, padding=1, bias=bias)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=bias)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU() if relu_module else F.relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.pre:
            x = F.relu(stage(x))
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class SEBlock(nn.Module):
    """Squeeze-and-excitation: channel weights from global average pooling through a bias-free bottleneck."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channels, channels // reduction, bias=False), nn.ReLU(),
            nn.Linear(channels // reduction, channels, bias=False), nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.fc(self.avg_pool(x).flatten(1))  # [N, C]
        return x * w[:, :, None, None]


class DepthwiseSeparableConv(nn.Module):
    """Per-channel k×k conv followed by a 1×1 pointwise conv, both with bias."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 3, padding: int = 0):
        super().__init__()
        self.depthwise = nn.Conv2d(in_ch, in_ch, kernel_size, padding=padding, groups=in_ch)
        self.pointwise = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class SelfAttention(nn.Module):
    """SAGAN-style spatial self-attention; `gamma` starts at 0 so the block begins as the identity.

    torchsummary counts only `.weight`/`.bias`, so the report's totals leave `gamma` out.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.query = nn.Conv2d(channels, channels // 8, 1)
        self.key = nn.Conv2d(channels, channels // 8, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)  # [N, HW, C/8]
        k = self.key(x).flatten(2)  # [N, C/8, HW]
        v = self.value(x).flatten(2)  # [N, C, HW]
        attn = torch.softmax(torch.bmm(q, k), dim=-1)  # [N, HW, HW]
        out = torch.bmm(v, attn.transpose(1, 2)).view(n, c, h, w)
        return self.gamma * out + x
