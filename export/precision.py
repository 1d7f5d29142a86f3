"""fp16 export: weights and compute in half precision, the float32 I/O contract kept by Casts at the edges."""
import copy

import torch
from torch import nn

# fp16 logits are compared with the fp32 torch model: argmax must agree on nearly every image, and
# logits within a tolerance that fp16's 11-bit mantissa can meet on logits of magnitude ~10-20.
FP16_ATOL = 0.1
FP16_MIN_AGREEMENT = 0.99


class HalfPrecision(nn.Module):
    """float32 images -> Cast(fp16) -> model in fp16 -> Cast(fp32) logits."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = copy.deepcopy(model).half().eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.half()).float()
