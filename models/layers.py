"""KAN layers written in plain tensor ops, so they differentiate with autograd and export to standard ONNX.

Three bases, one shape contract: each basis module maps x [N, in] to [N, in, G] and a bias-free
`SplineLinear` mixes the flattened (in-major, index i*G+g) bases into the outputs.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


def uniform_grid(grid_min: float, grid_max: float, num_grids: int) -> torch.Tensor:
    """`num_grids` evenly spaced centres from grid_min to grid_max inclusive."""
    return torch.linspace(grid_min, grid_max, num_grids)


class SplineLinear(nn.Linear):
    """Bias-free linear map from flattened bases to outputs (faster-kan's name, Xavier init)."""

    def __init__(self, in_features: int, out_features: int, init: str = "xavier", std: float = 0.1):
        self.init, self.std = init, std
        super().__init__(in_features, out_features, bias=False)

    def reset_parameters(self) -> None:
        if self.init == "xavier":
            nn.init.xavier_uniform_(self.weight)
        else:
            nn.init.trunc_normal_(self.weight, mean=0.0, std=self.std)


class ReflectionalSwitchFunction(nn.Module):
    """RSWAF basis b_i(u) = 1 - tanh²((u - u_i) / h), with 1/h applied in the forward pass.

    The public faster-kan forward computes tanh(u - u_i) and ignores 1/h; we apply it and let autograd
    differentiate, so h really shapes the basis. The grid and 1/h are buffers (fixed, not trained).
    """

    def __init__(self, grid_min: float = -2.0, grid_max: float = 2.0, num_grids: int = 8, inv_h: float | None = None):
        super().__init__()
        grid = uniform_grid(grid_min, grid_max, num_grids)
        self.register_buffer("grid", grid)
        spacing = (grid_max - grid_min) / (num_grids - 1)
        self.register_buffer("inv_h", torch.tensor(1.0 / spacing if inv_h is None else inv_h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = torch.tanh((x[..., None] - self.grid) * self.inv_h)  # [N, in, G]
        return 1.0 - t * t


class RadialBasisFunction(nn.Module):
    """FastKAN Gaussian basis b_i(u) = exp(-((u - u_i) / h)²), h = grid spacing by default."""

    def __init__(self, grid_min: float = -2.0, grid_max: float = 2.0, num_grids: int = 8, h: float | None = None):
        super().__init__()
        self.register_buffer("grid", uniform_grid(grid_min, grid_max, num_grids))
        spacing = (grid_max - grid_min) / (num_grids - 1)
        self.register_buffer("inv_h", torch.tensor(1.0 / (spacing if h is None else h)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = (x[..., None] - self.grid) * self.inv_h  # [N, in, G]
        return torch.exp(-d * d)


def cox_de_boor(x: torch.Tensor, knots: torch.Tensor, order: int) -> torch.Tensor:
    """B-spline bases of `order` on `knots` [K] by the Cox–de Boor recursion: x [N, in] -> [N, in, K-1-order].

    Order 0 uses half-open intervals [t_j, t_{j+1}) as efficient-kan does.
    """
    x = x[..., None]
    bases = ((x >= knots[:-1]) & (x < knots[1:])).to(x.dtype)
    for p in range(1, order + 1):
        left = (x - knots[: -(p + 1)]) / (knots[p:-1] - knots[: -(p + 1)]) * bases[..., :-1]
        right = (knots[p + 1 :] - x) / (knots[p + 1 :] - knots[1:-p]) * bases[..., 1:]
        bases = left + right
    return bases


def uniform_cubic_bspline(x: torch.Tensor, first_knot: float, h: float, num_bases: int) -> torch.Tensor:
    """Closed-form cubic B-spline bases on the uniform knots first_knot + j·h: x [N, in] -> [N, in, num_bases].

    Basis j is the cardinal cubic N3 centred at first_knot + (j + 2)·h. With d = |u - 2| (u in knot units),
    N3 = ((2 - d)₊³ - 4·(1 - d)₊³) / 6: one Abs, two Relu and a few Muls instead of the recursion's
    dozens of ops, and equal to Cox–de Boor (tests prove it).
    """
    centres = first_knot + h * (torch.arange(num_bases, dtype=x.dtype, device=x.device) + 2.0)
    d = torch.abs(x[..., None] - centres) * (1.0 / h)  # [N, in, B], distance in knot units
    a = torch.relu(2.0 - d)
    b = torch.relu(1.0 - d)
    return (a * a * a - 4.0 * (b * b * b)) * (1.0 / 6.0)


class BSplineBasis(nn.Module):
    """Order-k B-spline bases on a uniform grid of G intervals over [grid_min, grid_max], extended by k knots
    each side (efficient-kan / KAN paper). Cubic uses the closed form unless `closed_form=False`."""

    def __init__(self, grid_min: float = -1.0, grid_max: float = 1.0, grid_size: int = 5, order: int = 3,
                 closed_form: bool = True):
        super().__init__()
        self.h = (grid_max - grid_min) / grid_size
        self.order, self.num_bases = order, grid_size + order
        self.first_knot = grid_min - order * self.h
        self.closed_form = closed_form and order == 3
        knots = self.first_knot + self.h * torch.arange(grid_size + 2 * order + 1, dtype=torch.float32)
        self.register_buffer("knots", knots)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.closed_form:
            return uniform_cubic_bspline(x, self.first_knot, self.h, self.num_bases)
        return cox_de_boor(x, self.knots.to(x.dtype), self.order)


def _rename_rbf_keys(module: nn.Module, state_dict: dict, prefix: str, *_args) -> None:
    """Load state dicts written before the RSWAF basis was renamed from `rbf` (faster-kan's name, but it is no
    radial basis function): checkpoints/*.pt keep `PREFIX.rbf.grid` and `PREFIX.rbf.inv_h`."""
    old = prefix + "rbf."
    for key in [k for k in state_dict if k.startswith(old)]:
        state_dict[prefix + "rswaf." + key.removeprefix(old)] = state_dict.pop(key)


class FasterKANLayer(nn.Module):
    """LayerNorm -> RSWAF bases -> bias-free linear (faster-kan, no base branch)."""

    def __init__(self, in_features: int, out_features: int, grid_min: float = -2.0, grid_max: float = 2.0,
                 num_grids: int = 8, inv_h: float | None = None):
        super().__init__()
        self.layernorm = nn.LayerNorm(in_features)
        self.rswaf = ReflectionalSwitchFunction(grid_min, grid_max, num_grids, inv_h)
        self.spline_linear = SplineLinear(in_features * num_grids, out_features)
        self.register_load_state_dict_pre_hook(_rename_rbf_keys)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.rswaf(self.layernorm(x))  # [N, in, G]
        return self.spline_linear(b.flatten(1))


class FastKANLayer(nn.Module):
    """LayerNorm -> Gaussian RBFs -> linear, plus a SiLU base branch on the raw input (fast-kan)."""

    def __init__(self, in_features: int, out_features: int, grid_min: float = -2.0, grid_max: float = 2.0,
                 num_grids: int = 8, use_base_update: bool = True):
        super().__init__()
        self.layernorm = nn.LayerNorm(in_features)
        self.rbf = RadialBasisFunction(grid_min, grid_max, num_grids)
        self.spline_linear = SplineLinear(in_features * num_grids, out_features, init="trunc_normal", std=0.1)
        self.base_linear = nn.Linear(in_features, out_features) if use_base_update else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.spline_linear(self.rbf(self.layernorm(x)).flatten(1))
        if self.base_linear is not None:
            y = y + self.base_linear(F.silu(x))
        return y


class BSplineKANLayer(nn.Module):
    """efficient-kan KANLinear: y = SiLU(x)·W_baseᵀ + B(x)·(W_spline ⊙ s)ᵀ, no bias."""

    def __init__(self, in_features: int, out_features: int, grid_size: int = 5, spline_order: int = 3,
                 grid_min: float = -1.0, grid_max: float = 1.0, closed_form: bool = True):
        super().__init__()
        self.basis = BSplineBasis(grid_min, grid_max, grid_size, spline_order, closed_form)
        nb = self.basis.num_bases
        self.base_weight = nn.Parameter(torch.empty(out_features, in_features))
        self.spline_weight = nn.Parameter(torch.empty(out_features, in_features, nb))
        self.spline_scaler = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.base_weight, a=math.sqrt(5))
        nn.init.kaiming_uniform_(self.spline_scaler, a=math.sqrt(5))
        # efficient-kan fits small noise by least squares; small uniform noise of the same scale does the job.
        nn.init.uniform_(self.spline_weight, -0.05 / grid_size, 0.05 / grid_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = F.linear(F.silu(x), self.base_weight)
        w = (self.spline_weight * self.spline_scaler[..., None]).flatten(1)  # [out, in*nb], in-major
        return base + F.linear(self.basis(x).flatten(1), w)
