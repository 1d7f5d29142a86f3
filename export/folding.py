"""Export-time rewrites of KAN layers into cheaper, mathematically equal forms (parity checks prove it).

Torch modules stay as trained; `fold_for_export` returns a copy whose layers (a) precompute every constant
the graph would otherwise recompute per batch (1/h, the `1 -` of RSWAF, W ⊙ scaler, 1/6) and (b) lay the
bases out grid-major, [N, G, in] instead of [N, in, G], with the spline weights' columns permuted to match.
Why (b): onnxruntime's broadcasting Sub of [N, in, 1] - [G] walks rows of G = 8 floats and was the largest
non-matmul cost (~0.6 ms of a 2.5 ms FasterKAN layer at batch 100, ORT profiling); [N, 1, in] - [G, 1]
broadcasts along contiguous rows of `in` floats and vectorises.
"""
import copy

import torch
import torch.nn.functional as F
from torch import nn

from models.layers import BSplineKANLayer, FasterKANLayer, FastKANLayer


def grid_major(weight: torch.Tensor, num_grids: int) -> torch.Tensor:
    """Permute spline-weight columns from in-major (i*G + g) to grid-major (g*in + i): [out, in*G]."""
    out = weight.shape[0]
    return weight.detach().reshape(out, -1, num_grids).transpose(1, 2).reshape(out, -1).contiguous()


def spread(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """x [N, in] - grid [G, 1] -> [N, G, in], the grid-major basis argument."""
    return x[:, None, :] - grid


class FoldedFasterKANLayer(nn.Module):
    """y = W·(1 - tanh²((LN(x) - g)/h)) rewritten as rowsum(W) - W'·tanh²(LN'(x) - g/h).

    1/h is folded into LayerNorm's affine and the grid, and the `1 -` into the Gemm bias, leaving three
    elementwise passes over the bases (Sub, Tanh, Mul) instead of five.
    """

    def __init__(self, layer: FasterKANLayer):
        super().__init__()
        ln, s = layer.layernorm, layer.rswaf.inv_h.detach()
        w = layer.spline_linear.weight.detach()
        self.shape, self.eps = tuple(ln.normalized_shape), ln.eps
        self.register_buffer("ln_weight", ln.weight.detach() * s)
        self.register_buffer("ln_bias", ln.bias.detach() * s)
        self.register_buffer("grid", (layer.rswaf.grid * s)[:, None])  # [G, 1]
        self.register_buffer("neg_weight", -grid_major(w, len(layer.rswaf.grid)))
        self.register_buffer("row_sum", w.double().sum(1).float())

    def bases(self, x: torch.Tensor) -> torch.Tensor:
        """tanh² of the scaled distances, flattened grid-major: [N, in] -> [N, G*in]."""
        t = torch.tanh(spread(F.layer_norm(x, self.shape, self.ln_weight, self.ln_bias, self.eps), self.grid))
        return (t * t).flatten(1)

    def mix(self, u: torch.Tensor) -> torch.Tensor:
        return F.linear(u, self.neg_weight, self.row_sum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mix(self.bases(x))


class FoldedFastKANLayer(nn.Module):
    """FastKAN with 1/h folded into LayerNorm's affine and the grid, grid-major bases."""

    def __init__(self, layer: FastKANLayer):
        super().__init__()
        ln, s = layer.layernorm, layer.rbf.inv_h.detach()
        self.shape, self.eps = tuple(ln.normalized_shape), ln.eps
        self.register_buffer("ln_weight", ln.weight.detach() * s)
        self.register_buffer("ln_bias", ln.bias.detach() * s)
        self.register_buffer("grid", (layer.rbf.grid * s)[:, None])
        self.register_buffer("spline_weight", grid_major(layer.spline_linear.weight, len(layer.rbf.grid)))
        self.base = copy.deepcopy(layer.base_linear)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = spread(F.layer_norm(x, self.shape, self.ln_weight, self.ln_bias, self.eps), self.grid)  # [N, G, in]
        y = F.linear(torch.exp(-(d * d)).flatten(1), self.spline_weight)
        return y if self.base is None else y + self.base(F.silu(x))


class FoldedBSplineKANLayer(nn.Module):
    """Closed-form cubic B-spline KAN layer: W_spline ⊙ scaler / 6 and 1/h precomputed, grid-major bases."""

    def __init__(self, layer: BSplineKANLayer):
        super().__init__()
        basis = layer.basis
        inv_h = 1.0 / basis.h
        centres = basis.first_knot + basis.h * (torch.arange(basis.num_bases, dtype=torch.float32) + 2.0)
        spline = (layer.spline_weight * layer.spline_scaler[..., None]).detach().flatten(1)  # [out, in*nb]
        self.register_buffer("inv_h", torch.tensor(inv_h))
        self.register_buffer("centres", (centres * inv_h)[:, None])  # [B, 1], knot units
        self.register_buffer("base_weight", layer.base_weight.detach().clone())
        self.register_buffer("spline_weight", grid_major(spline, basis.num_bases) / 6.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = torch.abs(spread(x * self.inv_h, self.centres))  # [N, B, in], distance in knot units
        a = torch.relu(2.0 - d)
        b = torch.relu(1.0 - d)
        bases6 = a * a * a - 4.0 * (b * b * b)  # 6·N3(d)
        return F.linear(F.silu(x), self.base_weight) + F.linear(bases6.flatten(1), self.spline_weight)


def _fold(module: nn.Module) -> nn.Module | None:
    if isinstance(module, FasterKANLayer):
        return FoldedFasterKANLayer(module)
    if isinstance(module, FastKANLayer):
        return FoldedFastKANLayer(module)
    if isinstance(module, BSplineKANLayer) and module.basis.closed_form:
        return FoldedBSplineKANLayer(module)
    return None


def fold_for_export(model: nn.Module) -> nn.Module:
    """A deep copy of `model` (eval mode) with foldable KAN layers replaced; the original is untouched.

    The Cox–de Boor form is left as it is: it is the measured "before" of bench/lowering.py.
    """
    model = copy.deepcopy(model).eval()
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            folded = _fold(child)
            if folded is not None:
                setattr(parent, name, folded)
    return model
