"""The export-time rewrites compute the same function as the trained layers (torch only, fast)."""
import pytest
import torch

from export.folding import FoldedBSplineKANLayer, FoldedFasterKANLayer, FoldedFastKANLayer, fold_for_export, grid_major
from models.layers import BSplineKANLayer, FasterKANLayer, FastKANLayer
from models.registry import create_model


def _randomise(layer: torch.nn.Module) -> torch.nn.Module:
    """Non-trivial LayerNorm affine, so the fold of 1/h into it is really exercised."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return layer.eval()


@pytest.mark.parametrize("inv_h", [None, 0.5, 3.0])
def test_folded_fasterkan_layer_matches(inv_h):
    layer = _randomise(FasterKANLayer(64, 32, inv_h=inv_h))
    x = torch.randn(50, 64) * 2
    with torch.no_grad():
        torch.testing.assert_close(FoldedFasterKANLayer(layer)(x), layer(x), atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("base", [True, False])
def test_folded_fastkan_layer_matches(base):
    layer = _randomise(FastKANLayer(64, 32, use_base_update=base))
    x = torch.randn(50, 64) * 2
    with torch.no_grad():
        torch.testing.assert_close(FoldedFastKANLayer(layer)(x), layer(x), atol=2e-5, rtol=1e-5)


def test_grid_major_permutes_columns():
    w = torch.arange(2 * 3 * 4.0).reshape(2, 12)  # out=2, in=3, G=4, column i*4+g
    gm = grid_major(w, 4)
    assert gm[1, 2 * 3 + 1] == w[1, 1 * 4 + 2]  # column g*in+i holds in-major column i*G+g


def test_folded_bspline_layer_matches():
    layer = _randomise(BSplineKANLayer(64, 32))
    x = torch.randn(50, 64) * 1.5  # inside and outside the grid
    with torch.no_grad():
        torch.testing.assert_close(FoldedBSplineKANLayer(layer)(x), layer(x), atol=1e-5, rtol=1e-5)


def test_fold_replaces_only_foldable_layers_and_copies():
    model = create_model("flat_bsplinekan", closed_form=False)
    assert not any(isinstance(m, FoldedBSplineKANLayer) for m in fold_for_export(model).modules())
    model = create_model("fasterkan")
    folded = fold_for_export(model)
    assert sum(isinstance(m, FoldedFasterKANLayer) for m in folded.modules()) == 5
    assert sum(isinstance(m, FasterKANLayer) for m in model.modules()) == 5  # original untouched
