"""The three KAN bases: exact math, gradients by autograd (gradcheck) and the closed-form B-spline."""
import pytest
import torch

from models.layers import (
    BSplineKANLayer,
    FasterKANLayer,
    FastKANLayer,
    ReflectionalSwitchFunction,
    cox_de_boor,
    uniform_cubic_bspline,
)

LAYERS = {
    "bspline": lambda: BSplineKANLayer(4, 3),
    "bspline_cox_de_boor": lambda: BSplineKANLayer(4, 3, closed_form=False),
    "fastkan": lambda: FastKANLayer(4, 3),
    "fasterkan": lambda: FasterKANLayer(4, 3),
}


@pytest.mark.parametrize("name", LAYERS)
def test_gradcheck_float64(name):
    torch.manual_seed(0)
    layer = LAYERS[name]().double()
    x = (torch.rand(5, 4, dtype=torch.float64) * 1.6 - 0.8).requires_grad_()
    assert torch.autograd.gradcheck(layer, (x,), eps=1e-6, atol=1e-5)


def test_rswaf_applies_inverse_h_in_forward():
    x = torch.linspace(-2, 2, 11)[None]
    sharp, wide = ReflectionalSwitchFunction(inv_h=2.0)(x), ReflectionalSwitchFunction(inv_h=0.5)(x)
    assert not torch.allclose(sharp, wide)
    grid = ReflectionalSwitchFunction().grid
    expected = 1 - torch.tanh((x[..., None] - grid) * 2.0) ** 2
    torch.testing.assert_close(sharp, expected)


def test_fasterkan_layer_output_depends_on_h():
    torch.manual_seed(0)
    a, b = FasterKANLayer(6, 2, inv_h=1.75), FasterKANLayer(6, 2, inv_h=0.5)
    b.load_state_dict(a.state_dict(), strict=True)
    b.rswaf.inv_h.fill_(0.5)
    x = torch.randn(4, 6)
    assert not torch.allclose(a(x), b(x))


def test_closed_form_cubic_equals_cox_de_boor_everywhere():
    h, first = 0.4, -2.2  # G=5 on [-1, 1] extended by 3 knots
    knots = first + h * torch.arange(12, dtype=torch.float64)
    x = torch.cat([torch.linspace(-3, 3, 2001, dtype=torch.float64), knots])[None]  # knots themselves included
    torch.testing.assert_close(uniform_cubic_bspline(x, first, h, 8), cox_de_boor(x, knots, 3), atol=1e-12, rtol=0)


def test_bspline_bases_vanish_outside_extended_grid():
    layer = BSplineKANLayer(1, 1)
    bases = layer.basis(torch.tensor([[-5.0], [5.0]]))
    assert bases.abs().max() == 0


def test_fastkan_gaussian_basis():
    layer = FastKANLayer(2, 1)
    u = torch.tensor([[0.3, -1.0]])
    grid, inv_h = layer.rbf.grid, layer.rbf.inv_h
    torch.testing.assert_close(layer.rbf(u), torch.exp(-(((u[..., None] - grid) * inv_h) ** 2)))


@pytest.mark.parametrize("name", ["mlp", "fasterkan"])
def test_shipped_checkpoints_load_every_tensor(name):
    """checkpoints/*.pt were written when FasterKANLayer's RSWAF basis was called `rbf`: they still load strictly,
    each saved tensor landing in the renamed module."""
    from models.train import load_checkpoint
    from tests.conftest import REPO_ROOT

    model, ckpt = load_checkpoint(REPO_ROOT / "checkpoints" / f"{name}.pt")  # strict: no key missing or left over
    state = model.state_dict()
    assert not any(".rbf." in key for key in state if key.startswith("head."))
    for key, saved in ckpt["state_dict"].items():
        assert torch.equal(state[key.replace(".rbf.", ".rswaf.")], saved), key
    if name == "fasterkan":
        assert any(".rbf." in key for key in ckpt["state_dict"])  # the shipped file really has the old names
